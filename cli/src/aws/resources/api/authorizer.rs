//! The JWT authorizer of `api.auth: jwt`, named `claw-jwt`.
//!
//! Authorizers are listed with GetAuthorizers, every page, so one that no route
//! references (left by a deploy killed between CreateAuthorizer and CreateRoute,
//! or between a route letting go of it and DeleteAuthorizer) is seen: a
//! `claw-jwt` found so is adopted when JWT is wanted and deleted when not. API
//! Gateway refuses a second authorizer of the same name ("Authorizer name must be
//! unique"), so creating another would fail. Only when GetAuthorizers fails on
//! the server's side (moto answers it with a 500) are the authorizers read one
//! by one through the routes' AuthorizerId.

use std::collections::BTreeSet;

use anyhow::Context as _;
use aws_sdk_apigatewayv2::types::{AuthorizerType, JwtConfiguration};
use claw_spec::model::ApiAuth;

use super::super::Ctx;
use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, Sign, update_of,
};
use crate::aws::progress::step;
use crate::aws::target::Target;

pub const AUTHORIZER_NAME: &str = "claw-jwt";
pub const IDENTITY_SOURCE: &str = "$request.header.Authorization";

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub issuer: String,
    pub audience: BTreeSet<String>,
    pub identity_source: Vec<String>,
}

/// The JWT settings claw wants, when `api.auth` is `jwt`.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub issuer: String,
    pub audience: BTreeSet<String>,
}

pub fn desired(t: &Target) -> Option<Desired> {
    if t.config.api.auth != ApiAuth::Jwt {
        return None;
    }
    let j = t.config.api.jwt.as_ref();
    Some(Desired {
        issuer: j.map(|j| j.issuer.clone()).unwrap_or_default(),
        audience: j
            .map(|j| j.audience.iter().cloned().collect())
            .unwrap_or_default(),
    })
}

/// Reads every authorizer of the API; `referenced` (the routes' authorizer ids)
/// is the fallback when GetAuthorizers fails on the server's side.
pub async fn read(
    aws: &Aws,
    api_id: &str,
    what: &str,
    referenced: BTreeSet<String>,
) -> anyhow::Result<Vec<Live>> {
    let mut listed = Vec::new();
    let mut token = None;
    loop {
        match aws
            .apigw
            .get_authorizers()
            .api_id(api_id)
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(page) => {
                listed.extend(page.items().iter().map(|a| {
                    live(
                        a.authorizer_id.clone().unwrap_or_default(),
                        a.name.clone(),
                        a.authorizer_type.as_ref(),
                        a.jwt_configuration.clone(),
                        a.identity_source.clone(),
                    )
                }));
                match page.next_token {
                    Some(t) if !t.is_empty() => token = Some(t),
                    _ => return Ok(listed),
                }
            }
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| r.status().is_server_error()) =>
            {
                return read_each(aws, api_id, what, referenced).await;
            }
            Err(e) => return Err(e).ctx("GetAuthorizers", what).map_err(Into::into),
        }
    }
}

/// Reads the authorizers with these ids, one GetAuthorizer each.
async fn read_each(
    aws: &Aws,
    api_id: &str,
    what: &str,
    ids: BTreeSet<String>,
) -> anyhow::Result<Vec<Live>> {
    futures::future::try_join_all(ids.into_iter().map(|aid| async move {
        let a = aws
            .apigw
            .get_authorizer()
            .api_id(api_id)
            .authorizer_id(&aid)
            .send()
            .await
            .ctx("GetAuthorizer", format!("{what} authorizer {aid}"))?;
        anyhow::Ok(live(
            aid,
            a.name,
            a.authorizer_type.as_ref(),
            a.jwt_configuration,
            a.identity_source,
        ))
    }))
    .await
}

fn live(
    id: String,
    name: Option<String>,
    kind: Option<&AuthorizerType>,
    jwt: Option<JwtConfiguration>,
    identity_source: Option<Vec<String>>,
) -> Live {
    Live {
        id,
        name: name.unwrap_or_default(),
        kind: kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
        issuer: jwt
            .as_ref()
            .and_then(|j| j.issuer.clone())
            .unwrap_or_default(),
        audience: jwt
            .and_then(|j| j.audience)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        identity_source: identity_source.unwrap_or_default(),
    }
}

/// claw's authorizer among the live ones.
pub fn ours(live: &[Live]) -> Option<&Live> {
    live.iter()
        .find(|a| a.name == AUTHORIZER_NAME && a.kind == "JWT")
}

/// The authorizer's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Issuer,
    Audience,
    IdentitySource,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Issuer => "issuer",
            Field::Audience => "audience",
            Field::IdentitySource => "identity_source",
        }
        .into()
    }
}

pub fn changes(a: &Live, want: &Desired) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if a.issuer != want.issuer {
        out.push(Changed::new(Field::Issuer, &a.issuer, &want.issuer));
    }
    if a.audience != want.audience {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        out.push(Changed::new(
            Field::Audience,
            join(&a.audience),
            join(&want.audience),
        ));
    }
    if a.identity_source != [IDENTITY_SOURCE] {
        out.push(Changed::new(
            Field::IdentitySource,
            a.identity_source.join(","),
            IDENTITY_SOURCE,
        ));
    }
    out
}

/// Plans the authorizer of a live API (`live` is claw's, if any).
pub fn plan(t: &Target, live: Option<&Live>, plan: &mut Plan) {
    match (desired(t), live) {
        (Some(_), None) => plan_create(t, plan),
        (Some(want), Some(a)) => {
            let action = update_of(&changes(a, &want));
            let broadens = action != Action::NoChange;
            plan.push(ResourceChange::new(
                ResourceKind::Authorizer,
                AUTHORIZER_NAME,
                action,
            ));
            if broadens {
                push_jwt_rows(t, plan);
            }
        }
        (None, Some(_)) => plan.push(ResourceChange::new(
            ResourceKind::Authorizer,
            AUTHORIZER_NAME,
            Action::Delete,
        )),
        (None, None) => {}
    }
}

/// A new authorizer, when `api.auth` is `jwt`.
pub fn plan_create(t: &Target, plan: &mut Plan) {
    if desired(t).is_some() {
        plan.push(ResourceChange::new(
            ResourceKind::Authorizer,
            AUTHORIZER_NAME,
            Action::Create,
        ));
        push_jwt_rows(t, plan);
    }
}

fn push_jwt_rows(t: &Target, plan: &mut Plan) {
    if let Some(j) = &t.config.api.jwt {
        plan.security.push(SecurityChange {
            sign: Sign::Add,
            resource: format!("authorizer {AUTHORIZER_NAME}"),
            what: format!(
                "JWTs from {} for audience {}",
                j.issuer,
                j.audience.join(", ")
            ),
            broadens: true,
            drift: false,
        });
    }
}

/// Creates or updates the authorizer; returns its id when `api.auth` is `jwt`.
pub async fn apply(
    cx: &Ctx<'_>,
    api_id: &str,
    live: Option<&Live>,
    plan: &Plan,
) -> anyhow::Result<Option<String>> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    if desired(t).is_none() {
        return Ok(None);
    }
    let what_api = format!("HTTP API {api_id}");
    let j = t
        .config
        .api
        .jwt
        .as_ref()
        .context("api.auth is jwt but api.jwt is missing")?;
    let jwt_conf = JwtConfiguration::builder()
        .issuer(&j.issuer)
        .set_audience(Some(j.audience.clone()))
        .build();
    let what = format!("{} {AUTHORIZER_NAME}", ResourceKind::Authorizer.label());
    let id = match (plan.action(ResourceKind::Authorizer, AUTHORIZER_NAME), live) {
        (Action::NoChange, Some(a)) => a.id.clone(),
        (Action::Update { .. }, Some(a)) => {
            // One call sets every attribute of [`changes`].
            step(progress, "updating", "updated", &what, async {
                aws.apigw
                    .update_authorizer()
                    .api_id(api_id)
                    .authorizer_id(&a.id)
                    .jwt_configuration(jwt_conf.clone())
                    .identity_source(IDENTITY_SOURCE)
                    .send()
                    .await
                    .ctx(
                        "UpdateAuthorizer",
                        format!("{what_api} authorizer {}", a.id),
                    )?;
                Ok(())
            })
            .await?;
            a.id.clone()
        }
        _ => {
            step(progress, "creating", "created", &what, async {
                let out = aws
                    .apigw
                    .create_authorizer()
                    .api_id(api_id)
                    .name(AUTHORIZER_NAME)
                    .authorizer_type(AuthorizerType::Jwt)
                    .identity_source(IDENTITY_SOURCE)
                    .jwt_configuration(jwt_conf.clone())
                    .send()
                    .await
                    .ctx("CreateAuthorizer", &what_api)?;
                out.authorizer_id.context("CreateAuthorizer returned no id")
            })
            .await?
        }
    };
    Ok(Some(id))
}

/// Deletes an authorizer the config no longer wants (after the routes let go of it).
pub async fn delete(
    cx: &Ctx<'_>,
    api_id: &str,
    live: Option<&Live>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let Some(a) = live else { return Ok(()) };
    let aws = cx.aws;
    cx.delete_step(plan, ResourceKind::Authorizer, AUTHORIZER_NAME, async {
        aws.apigw
            .delete_authorizer()
            .api_id(api_id)
            .authorizer_id(&a.id)
            .send()
            .await
            .ctx(
                "DeleteAuthorizer",
                format!("HTTP API {api_id} authorizer {}", a.id),
            )?;
        Ok(())
    })
    .await
}
