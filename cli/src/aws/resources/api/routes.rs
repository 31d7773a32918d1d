//! One route per configured route key, each to the integration with the
//! configured authorization. A route's authorization is security-relevant: a
//! change to one that restricts less (or differently at the same rank) broadens
//! who may call the function.

use anyhow::Context as _;
use aws_sdk_apigatewayv2::types::AuthorizationType;

use super::super::{Ctx, all_pages};
use super::authorizer::{self, AUTHORIZER_NAME};
use super::integration;
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, Sign, update_of,
};
use crate::aws::progress::step;
use crate::aws::target::Target;
use claw_spec::model::ApiAuth;

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub key: String,
    pub auth: String,
    pub authorizer_id: Option<String>,
    pub target: Option<String>,
}

/// The route's authorization type as API Gateway names it.
pub fn auth_type(auth: ApiAuth) -> &'static str {
    match auth {
        ApiAuth::None => "NONE",
        ApiAuth::Iam => "AWS_IAM",
        ApiAuth::Jwt => "JWT",
    }
}

/// The routes claw wants: every key, one authorization for all.
#[derive(Debug, Clone)]
pub struct Desired {
    pub keys: Vec<String>,
    pub auth: &'static str,
}

pub fn desired(t: &Target) -> Desired {
    Desired {
        keys: t.config.all_routes(),
        auth: auth_type(t.config.api.auth),
    }
}

pub async fn read(aws: &Aws, api_id: &str, what: &str) -> anyhow::Result<Vec<Live>> {
    all_pages(|token| async move {
        let page = aws
            .apigw
            .get_routes()
            .api_id(api_id)
            .set_next_token(token)
            .send()
            .await
            .ctx("GetRoutes", what)?;
        let items = page
            .items()
            .iter()
            .map(|r| Live {
                id: r.route_id.clone().unwrap_or_default(),
                key: r.route_key.clone().unwrap_or_default(),
                auth: r
                    .authorization_type
                    .as_ref()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_else(|| "NONE".into()),
                authorizer_id: r.authorizer_id.clone().filter(|a| !a.is_empty()),
                target: r.target.clone(),
            })
            .collect();
        Ok((items, page.next_token))
    })
    .await
}

/// How much a route's authorization restricts callers; a change to a lower or
/// different level of the same rank broadens access.
fn rank(auth: &str) -> u8 {
    match auth {
        "NONE" => 0,
        _ => 1,
    }
}

/// A route's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Authorization,
    Authorizer,
    Target,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Authorization => "authorization",
            Field::Authorizer => "authorizer",
            Field::Target => "target",
        }
        .into()
    }
}

/// What an update of a live route changes, given the live integration and
/// authorizer claw uses.
pub fn changes(
    t: &Target,
    lr: &Live,
    integ: Option<&integration::Live>,
    authz: Option<&authorizer::Live>,
) -> Vec<Changed<Field>> {
    let want_auth = desired(t).auth;
    let jwt = t.config.api.auth == ApiAuth::Jwt;
    let mut out = Vec::new();
    if lr.auth != want_auth {
        out.push(Changed::new(Field::Authorization, &lr.auth, want_auth));
    } else if jwt && lr.authorizer_id.as_deref() != authz.map(|a| a.id.as_str()) {
        out.push(Changed::new(
            Field::Authorizer,
            lr.authorizer_id.clone().unwrap_or_else(|| "(none)".into()),
            AUTHORIZER_NAME,
        ));
    }
    let target = integ.map(|i| format!("integrations/{}", i.id));
    if integ.is_none() || lr.target != target {
        out.push(Changed::new(
            Field::Target,
            lr.target.clone().unwrap_or_else(|| "(none)".into()),
            integration::name(t),
        ));
    }
    out
}

/// Every wanted route as new (the API does not exist yet).
pub fn plan_create(t: &Target, plan: &mut Plan) {
    let want = desired(t);
    for r in &want.keys {
        plan.push(ResourceChange::new(ResourceKind::Route, r, Action::Create));
        plan.security.push(row(r, Sign::Add, want.auth, true));
    }
}

pub fn plan(
    t: &Target,
    live: &[Live],
    integ: Option<&integration::Live>,
    authz: Option<&authorizer::Live>,
    plan: &mut Plan,
) {
    let want = desired(t);
    for r in &want.keys {
        match live.iter().find(|x| &x.key == r) {
            None => {
                plan.push(ResourceChange::new(ResourceKind::Route, r, Action::Create));
                plan.security.push(row(r, Sign::Add, want.auth, true));
            }
            Some(lr) => {
                if lr.auth != want.auth {
                    plan.security.push(row(r, Sign::Remove, &lr.auth, false));
                    plan.security.push(row(
                        r,
                        Sign::Add,
                        want.auth,
                        rank(want.auth) <= rank(&lr.auth),
                    ));
                }
                plan.push(ResourceChange::new(
                    ResourceKind::Route,
                    r,
                    update_of(&changes(t, lr, integ, authz)),
                ));
            }
        }
    }
    for lr in live.iter().filter(|x| !want.keys.contains(&x.key)) {
        plan.push(ResourceChange::new(
            ResourceKind::Route,
            &lr.key,
            Action::Delete,
        ));
        plan.security
            .push(row(&lr.key, Sign::Remove, &lr.auth, false));
    }
}

fn row(route: &str, sign: Sign, auth: &str, broadens: bool) -> SecurityChange {
    let what = match auth {
        "NONE" => "authorization NONE (anyone on the internet may call it)".to_string(),
        "AWS_IAM" => {
            "authorization AWS_IAM (SigV4-signed callers with execute-api:Invoke)".to_string()
        }
        "JWT" => format!("authorization JWT ({AUTHORIZER_NAME})"),
        other => format!("authorization {other}"),
    };
    SecurityChange {
        sign,
        resource: format!("route {route}"),
        what,
        broadens: sign == Sign::Add && broadens,
        drift: false,
    }
}

/// Where routes point and who may call them, once the integration and the
/// authorizer exist.
pub struct Wiring<'a> {
    pub api_id: &'a str,
    pub integration_id: &'a str,
    pub authorizer_id: Option<&'a str>,
}

/// Creates and updates the wanted routes (UpdateRoute sets every attribute of
/// [`changes`] at once), then deletes the ones no longer wanted.
pub async fn apply(cx: &Ctx<'_>, w: &Wiring<'_>, live: &[Live], plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let what_api = format!("HTTP API {}", w.api_id);
    let want = desired(t);
    let target = format!("integrations/{}", w.integration_id);
    let authorizer_id = w.authorizer_id.map(str::to_string);
    for r in &want.keys {
        let what = format!("{} {r}", ResourceKind::Route.label());
        match plan.action(ResourceKind::Route, r) {
            Action::Create => {
                step(progress, "creating", "created", &what, async {
                    aws.apigw
                        .create_route()
                        .api_id(w.api_id)
                        .route_key(r)
                        .target(&target)
                        .authorization_type(AuthorizationType::from(want.auth))
                        .set_authorizer_id(authorizer_id.clone())
                        .send()
                        .await
                        .ctx("CreateRoute", format!("{what_api} route {r}"))?;
                    Ok(())
                })
                .await?;
            }
            Action::Update { .. } => {
                let lr = live
                    .iter()
                    .find(|x| &x.key == r)
                    .context("route update without live state")?;
                step(progress, "updating", "updated", &what, async {
                    aws.apigw
                        .update_route()
                        .api_id(w.api_id)
                        .route_id(&lr.id)
                        .target(&target)
                        .authorization_type(AuthorizationType::from(want.auth))
                        // An empty id clears the authorizer of a route that no longer uses JWT.
                        .authorizer_id(authorizer_id.clone().unwrap_or_default())
                        .send()
                        .await
                        .ctx("UpdateRoute", format!("{what_api} route {r}"))?;
                    Ok(())
                })
                .await?;
            }
            Action::Delete | Action::NoChange => {}
        }
    }
    for lr in live {
        let what_api = &what_api;
        cx.delete_step(plan, ResourceKind::Route, &lr.key, async move {
            aws.apigw
                .delete_route()
                .api_id(w.api_id)
                .route_id(&lr.id)
                .send()
                .await
                .ctx("DeleteRoute", format!("{what_api} route {}", lr.key))
                .ignore_missing()?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn route(key: &str, auth: &str, integ: &integration::Live) -> Live {
        Live {
            id: format!("r-{key}"),
            key: key.into(),
            auth: auth.into(),
            authorizer_id: None,
            target: Some(format!("integrations/{}", integ.id)),
        }
    }

    fn integ(t: &Target) -> integration::Live {
        integration::Live {
            id: "i1".into(),
            kind: "AWS_PROXY".into(),
            uri: t.names.function_arn(),
            payload: integration::PAYLOAD_FORMAT.into(),
        }
    }

    /// The security row that adds the wanted authorization to `key`.
    fn added(p: &Plan, key: &str) -> SecurityChange {
        p.security
            .iter()
            .find(|s| s.sign == Sign::Add && s.resource == format!("route {key}"))
            .cloned()
            .expect("an Add row")
    }

    #[test]
    fn iam_or_jwt_to_none_broadens_and_none_to_iam_does_not() {
        let mut t = testing::target();
        let i = integ(&t);
        let key = desired(&t).keys[0].clone();
        t.config.api.auth = ApiAuth::None;
        for from in ["AWS_IAM", "JWT"] {
            let mut p = testing::plan(&t);
            plan(&t, &[route(&key, from, &i)], Some(&i), None, &mut p);
            assert_eq!(
                p.changes[0].fields()[0].to_string(),
                format!("authorization {from} → NONE")
            );
            assert!(added(&p, &key).broadens, "{from} → NONE must broaden");
            assert!(p.needs_approval());
        }
        t.config.api.auth = ApiAuth::Iam;
        let mut p = testing::plan(&t);
        plan(&t, &[route(&key, "NONE", &i)], Some(&i), None, &mut p);
        assert!(!added(&p, &key).broadens, "NONE → AWS_IAM narrows");
        // Same rank, different mechanism: counts as broadening.
        let mut p = testing::plan(&t);
        plan(&t, &[route(&key, "JWT", &i)], Some(&i), None, &mut p);
        assert!(added(&p, &key).broadens);
    }

    #[test]
    fn unwanted_routes_are_deleted_and_a_wrong_target_updated() {
        let t = testing::target();
        let i = integ(&t);
        let key = desired(&t).keys[0].clone();
        let mut wrong = route(&key, desired(&t).auth, &i);
        wrong.target = Some("integrations/other".into());
        let mut p = testing::plan(&t);
        plan(
            &t,
            &[wrong, route("GET /old", "NONE", &i)],
            Some(&i),
            None,
            &mut p,
        );
        let c = p.get(ResourceKind::Route, &key).unwrap();
        assert_eq!(c.fields()[0].field, "target");
        assert_eq!(p.action(ResourceKind::Route, "GET /old"), Action::Delete);
        assert!(
            p.security
                .iter()
                .any(|s| s.resource == "route GET /old" && s.sign == Sign::Remove)
        );
    }
}
