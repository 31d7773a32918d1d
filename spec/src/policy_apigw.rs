//! The deployer's API Gateway statements. HTTP APIs have generated ids, so claw's
//! API is found by its tags: the API itself is scoped by `aws:ResourceTag`, its
//! parts (which carry no tags) by their kind, and tagging by the tags requested.

use serde_json::json;

use crate::iam::Statement;
use crate::names::Names;

/// Conditions a statement on this stack's `claw:app` and `claw:stage` tags, in
/// the request (`aws:RequestTag`) or on the resource (`aws:ResourceTag`).
fn tagged(st: Statement, key: &str, names: &Names) -> Statement {
    st.when("StringEquals", &format!("{key}/claw:app"), json!(names.app))
        .when(
            "StringEquals",
            &format!("{key}/claw:stage"),
            json!(names.stage),
        )
}

/// What the deployer needs on API Gateway for this stack's HTTP API.
pub fn deployer(names: &Names) -> Vec<Statement> {
    vec![
        Statement::allow(
            "FindHttpApi",
            &["apigateway:GET"],
            vec![names.apigateway_arn("/apis")],
        ),
        tagged(
            Statement::allow(
                "CreateTaggedHttpApi",
                &["apigateway:POST"],
                vec![names.apigateway_arn("/apis")],
            ),
            "aws:RequestTag",
            names,
        ),
        tagged(
            Statement::allow(
                "ManageOwnHttpApi",
                &[
                    "apigateway:GET",
                    "apigateway:POST",
                    "apigateway:PATCH",
                    "apigateway:PUT",
                    "apigateway:DELETE",
                ],
                vec![names.apigateway_arn("/apis/*")],
            ),
            "aws:ResourceTag",
            names,
        ),
        // An HTTP API's integrations, routes, authorizers and stages do not carry
        // the API's tags (only API Gateway V1 has tag inheritance), so the
        // tag-conditioned statement above cannot cover them: these are scoped to
        // the sub-resource kinds claw manages, in any HTTP API of this region.
        Statement::allow(
            "ManageHttpApiParts",
            &[
                "apigateway:GET",
                "apigateway:POST",
                "apigateway:PATCH",
                "apigateway:DELETE",
            ],
            ["integrations", "routes", "authorizers", "stages"]
                .iter()
                .map(|part| names.apigateway_arn(&format!("/apis/*/{part}*")))
                .collect(),
        ),
        // API Gateway authorizes tagging (CreateApi and CreateStage with tags,
        // TagResource, UntagResource) on /tags/{url-encoded ARN}. Tagging must
        // carry this stack's claw tags; untagging may never remove a claw tag.
        tagged(
            Statement::allow(
                "TagWithStackTags",
                &["apigateway:POST"],
                vec![names.apigateway_arn("/tags/*")],
            ),
            "aws:RequestTag",
            names,
        ),
        Statement::allow(
            "UntagNeverClawTags",
            &["apigateway:DELETE"],
            vec![names.apigateway_arn("/tags/*")],
        )
        .when(
            "ForAllValues:StringNotLike",
            "aws:TagKeys",
            json!(["claw:*"]),
        )
        .when("Null", "aws:TagKeys", json!("false")),
    ]
}
