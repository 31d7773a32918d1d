//! The API Gateway v2 HTTP API in front of the function: the API itself (named like
//! the function, tagged), one AWS_PROXY integration (payload 2.0) to the function,
//! a JWT authorizer when `api.auth: jwt`, one route per configured route, and the
//! `$default` stage with auto-deploy, throttling and access logs.
//!
//! moto's GetAuthorizers (plural) answers 500, so the authorizer is read through
//! its routes' AuthorizerId with GetAuthorizer.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use aws_sdk_apigatewayv2::types::{
    AccessLogSettings, AuthorizationType, AuthorizerType, IntegrationType, JwtConfiguration,
    ProtocolType, RouteSettings,
};
use claw_spec::model::ApiAuth;

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, SecurityChange, Sign, TagDiff};
use super::progress::{Progress, step};
use super::stack::Target;
use super::{Aws, AwsResultExt, aws_error, is_ours};

pub const STAGE: &str = "$default";
pub const AUTHORIZER_NAME: &str = "claw-jwt";
pub const IDENTITY_SOURCE: &str = "$request.header.Authorization";
pub const PAYLOAD_FORMAT: &str = "2.0";

/// One JSON line per request in the access log.
pub const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller","user":"$context.identity.user","requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","latencyMs":"$context.responseLatency","integrationError":"$context.integrationErrorMessage"}"#;

#[derive(Debug, Clone)]
pub struct Integration {
    pub id: String,
    pub kind: String,
    pub uri: String,
    pub payload: String,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub id: String,
    pub key: String,
    pub auth: String,
    pub authorizer_id: Option<String>,
    pub target: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Authorizer {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub issuer: String,
    pub audience: BTreeSet<String>,
    pub identity_source: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub auto_deploy: bool,
    pub burst: Option<i32>,
    pub rate: Option<f64>,
    pub log_destination: Option<String>,
    pub log_format: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub endpoint: String,
    pub tags: BTreeMap<String, String>,
    pub integrations: Vec<Integration>,
    pub routes: Vec<Route>,
    pub authorizers: Vec<Authorizer>,
    pub stage: Option<Stage>,
}

/// What the read found under claw's API name.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub ours: Option<Live>,
    /// Ids of APIs with claw's name that are not tagged for this app and stage.
    pub foreign: Vec<String>,
    /// Ids of further APIs tagged for this app and stage (there should be one).
    pub extra: Vec<String>,
}

/// The route's authorization type as API Gateway names it.
pub fn auth_type(auth: ApiAuth) -> &'static str {
    match auth {
        ApiAuth::None => "NONE",
        ApiAuth::Iam => "AWS_IAM",
        ApiAuth::Jwt => "JWT",
    }
}

pub fn api_arn(region: &str, id: &str) -> String {
    format!("arn:aws:apigateway:{region}::/apis/{id}")
}

pub fn stage_arn(region: &str, id: &str) -> String {
    format!("arn:aws:apigateway:{region}::/apis/{id}/stages/{STAGE}")
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let name = &t.names.api;
    let mut token: Option<String> = None;
    let mut matches = Vec::new();
    loop {
        let out = aws
            .apigw
            .get_apis()
            .set_next_token(token.clone())
            .send()
            .await
            .ctx("GetApis", name)?;
        matches.extend(
            out.items()
                .iter()
                .filter(|a| a.name.as_deref() == Some(name.as_str()))
                .cloned(),
        );
        match out.next_token() {
            Some(n) if !n.is_empty() => token = Some(n.to_string()),
            _ => break,
        }
    }
    let mut found = Found::default();
    let mut ours = Vec::new();
    for a in matches {
        let tags: BTreeMap<String, String> =
            a.tags.clone().unwrap_or_default().into_iter().collect();
        let id = a.api_id.clone().unwrap_or_default();
        if is_ours(&tags, &t.config) {
            ours.push((a, tags));
        } else {
            found.foreign.push(id);
        }
    }
    ours.sort_by_key(|(a, _)| a.created_date.map(|d| d.secs()));
    let mut it = ours.into_iter();
    if let Some((a, tags)) = it.next() {
        found.extra = it.map(|(a, _)| a.api_id.unwrap_or_default()).collect();
        found.ours = Some(
            read_parts(
                aws,
                a.api_id.unwrap_or_default(),
                a.api_endpoint.unwrap_or_default(),
                tags,
            )
            .await?,
        );
    }
    Ok(found)
}

async fn read_parts(
    aws: &Aws,
    id: String,
    endpoint: String,
    tags: BTreeMap<String, String>,
) -> anyhow::Result<Live> {
    let what = format!("HTTP API {id}");
    let (integrations, routes, stage) = futures::try_join!(
        async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = aws
                    .apigw
                    .get_integrations()
                    .api_id(&id)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .ctx("GetIntegrations", &what)?;
                out.extend(page.items().iter().map(|i| {
                    Integration {
                        id: i.integration_id.clone().unwrap_or_default(),
                        kind: i
                            .integration_type
                            .as_ref()
                            .map(|k| k.as_str().to_string())
                            .unwrap_or_default(),
                        uri: i.integration_uri.clone().unwrap_or_default(),
                        payload: i.payload_format_version.clone().unwrap_or_default(),
                    }
                }));
                match page.next_token() {
                    Some(n) if !n.is_empty() => token = Some(n.to_string()),
                    _ => break,
                }
            }
            anyhow::Ok(out)
        },
        async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = aws
                    .apigw
                    .get_routes()
                    .api_id(&id)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .ctx("GetRoutes", &what)?;
                out.extend(page.items().iter().map(|r| {
                    Route {
                        id: r.route_id.clone().unwrap_or_default(),
                        key: r.route_key.clone().unwrap_or_default(),
                        auth: r
                            .authorization_type
                            .as_ref()
                            .map(|a| a.as_str().to_string())
                            .unwrap_or_else(|| "NONE".into()),
                        authorizer_id: r.authorizer_id.clone().filter(|a| !a.is_empty()),
                        target: r.target.clone(),
                    }
                }));
                match page.next_token() {
                    Some(n) if !n.is_empty() => token = Some(n.to_string()),
                    _ => break,
                }
            }
            anyhow::Ok(out)
        },
        async {
            match aws
                .apigw
                .get_stage()
                .api_id(&id)
                .stage_name(STAGE)
                .send()
                .await
            {
                Ok(s) => {
                    let rs = s.default_route_settings.as_ref();
                    anyhow::Ok(Some(Stage {
                        auto_deploy: s.auto_deploy.unwrap_or(false),
                        burst: rs.and_then(|r| r.throttling_burst_limit),
                        rate: rs.and_then(|r| r.throttling_rate_limit),
                        log_destination: s
                            .access_log_settings
                            .as_ref()
                            .and_then(|l| l.destination_arn.clone()),
                        log_format: s
                            .access_log_settings
                            .as_ref()
                            .and_then(|l| l.format.clone()),
                        tags: s.tags.clone().unwrap_or_default().into_iter().collect(),
                    }))
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_not_found_exception()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(aws_error("GetStage", format!("{what} stage {STAGE}"), e).into()),
            }
        }
    )?;
    let ids: BTreeSet<String> = routes
        .iter()
        .filter_map(|r| r.authorizer_id.clone())
        .collect();
    let authorizers = futures::future::try_join_all(ids.into_iter().map(|aid| {
        let id = &id;
        let what = &what;
        async move {
            let a = aws
                .apigw
                .get_authorizer()
                .api_id(id)
                .authorizer_id(&aid)
                .send()
                .await
                .ctx("GetAuthorizer", format!("{what} authorizer {aid}"))?;
            let jwt = a.jwt_configuration.clone();
            anyhow::Ok(Authorizer {
                id: aid,
                name: a.name.clone().unwrap_or_default(),
                kind: a
                    .authorizer_type
                    .as_ref()
                    .map(|k| k.as_str().to_string())
                    .unwrap_or_default(),
                issuer: jwt
                    .as_ref()
                    .and_then(|j| j.issuer.clone())
                    .unwrap_or_default(),
                audience: jwt
                    .and_then(|j| j.audience)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                identity_source: a.identity_source.clone().unwrap_or_default(),
            })
        }
    }))
    .await?;
    Ok(Live {
        id,
        endpoint,
        tags,
        integrations,
        routes,
        authorizers,
        stage,
    })
}

/// The desired `$default` stage.
fn desired_stage(t: &Target) -> Stage {
    Stage {
        auto_deploy: true,
        burst: Some(t.config.api.throttle.burst as i32),
        rate: Some(t.config.api.throttle.rate),
        log_destination: Some(t.names.log_group_arn(&t.names.api_log_group)),
        log_format: Some(ACCESS_LOG_FORMAT.to_string()),
        tags: t.tags.clone(),
    }
}

fn integration_name(t: &Target) -> String {
    format!("lambda {}", t.names.function)
}

/// The integration claw wants among the live ones.
pub fn our_integration<'a>(t: &Target, live: &'a Live) -> Option<&'a Integration> {
    let arn = t.names.function_arn();
    live.integrations
        .iter()
        .find(|i| i.kind == "AWS_PROXY" && i.uri == arn)
}

fn our_authorizer(live: &Live) -> Option<&Authorizer> {
    live.authorizers
        .iter()
        .find(|a| a.name == AUTHORIZER_NAME && a.kind == "JWT")
}

/// How much a route's authorization restricts callers; a change to a lower or
/// different level of the same rank broadens access.
fn rank(auth: &str) -> u8 {
    match auth {
        "NONE" => 0,
        _ => 1,
    }
}

pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    let name = &t.names.api;
    for id in &found.foreign {
        plan.blockers.push(format!(
            "HTTP API {id} is named {name} but is not tagged claw:app={} claw:stage={}; claw does not touch resources it did not create (delete or rename it)",
            t.config.app, t.config.stage
        ));
    }
    for id in &found.extra {
        plan.blockers.push(format!(
            "several HTTP APIs named {name} are tagged for this app and stage; delete the extra one ({id})"
        ));
    }
    let want_auth = auth_type(t.config.api.auth);
    let routes = t.config.all_routes();
    let jwt = t.config.api.auth == ApiAuth::Jwt;
    let Some(live) = &found.ours else {
        plan.push(ResourceChange::new(Kind::Api, name, Action::Create));
        plan.push(ResourceChange::new(
            Kind::Integration,
            integration_name(t),
            Action::Create,
        ));
        if jwt {
            plan.push(ResourceChange::new(
                Kind::Authorizer,
                AUTHORIZER_NAME,
                Action::Create,
            ));
            push_jwt_rows(t, plan);
        }
        for r in &routes {
            plan.push(ResourceChange::new(Kind::Route, r, Action::Create));
            plan.security.push(route_row(r, Sign::Add, want_auth, true));
        }
        plan.push(ResourceChange::new(Kind::Stage, STAGE, Action::Create));
        return;
    };
    // The API itself: only tags can differ.
    plan.push(ResourceChange::new(
        Kind::Api,
        name,
        match TagDiff::field(&live.tags, &t.tags) {
            Some(f) => Action::Update { fields: vec![f] },
            None => Action::NoChange,
        },
    ));
    let integ = our_integration(t, live);
    plan.push(ResourceChange::new(
        Kind::Integration,
        integration_name(t),
        match integ {
            None => Action::Create,
            Some(i) if i.payload != PAYLOAD_FORMAT => Action::Update {
                fields: vec![FieldChange::new(
                    "payload_format",
                    &i.payload,
                    PAYLOAD_FORMAT,
                )],
            },
            Some(_) => Action::NoChange,
        },
    ));
    let authz = our_authorizer(live);
    if jwt {
        let j = t.config.api.jwt.as_ref();
        let issuer = j.map(|j| j.issuer.clone()).unwrap_or_default();
        let audience: BTreeSet<String> = j
            .map(|j| j.audience.iter().cloned().collect())
            .unwrap_or_default();
        match authz {
            None => {
                plan.push(ResourceChange::new(
                    Kind::Authorizer,
                    AUTHORIZER_NAME,
                    Action::Create,
                ));
                push_jwt_rows(t, plan);
            }
            Some(a) => {
                let mut fields = Vec::new();
                if a.issuer != issuer {
                    fields.push(FieldChange::new("issuer", &a.issuer, &issuer));
                }
                if a.audience != audience {
                    fields.push(FieldChange::new(
                        "audience",
                        a.audience.iter().cloned().collect::<Vec<_>>().join(","),
                        audience.iter().cloned().collect::<Vec<_>>().join(","),
                    ));
                }
                if a.identity_source != [IDENTITY_SOURCE] {
                    fields.push(FieldChange::new(
                        "identity_source",
                        a.identity_source.join(","),
                        IDENTITY_SOURCE,
                    ));
                }
                if fields.is_empty() {
                    plan.push(ResourceChange::new(
                        Kind::Authorizer,
                        AUTHORIZER_NAME,
                        Action::NoChange,
                    ));
                } else {
                    plan.push(ResourceChange::new(
                        Kind::Authorizer,
                        AUTHORIZER_NAME,
                        Action::Update { fields },
                    ));
                    push_jwt_rows(t, plan);
                }
            }
        }
    } else if authz.is_some() {
        plan.push(ResourceChange::new(
            Kind::Authorizer,
            AUTHORIZER_NAME,
            Action::Delete,
        ));
    }
    for r in &routes {
        match live.routes.iter().find(|x| &x.key == r) {
            None => {
                plan.push(ResourceChange::new(Kind::Route, r, Action::Create));
                plan.security.push(route_row(r, Sign::Add, want_auth, true));
            }
            Some(lr) => {
                let mut fields = Vec::new();
                if lr.auth != want_auth {
                    fields.push(FieldChange::new("authorization", &lr.auth, want_auth));
                    plan.security
                        .push(route_row(r, Sign::Remove, &lr.auth, false));
                    plan.security.push(route_row(
                        r,
                        Sign::Add,
                        want_auth,
                        rank(want_auth) <= rank(&lr.auth),
                    ));
                } else if jwt && lr.authorizer_id.as_deref() != authz.map(|a| a.id.as_str()) {
                    fields.push(FieldChange::new(
                        "authorizer",
                        lr.authorizer_id.clone().unwrap_or_else(|| "(none)".into()),
                        AUTHORIZER_NAME,
                    ));
                }
                let target = integ.map(|i| format!("integrations/{}", i.id));
                if integ.is_none() || lr.target != target {
                    fields.push(FieldChange::new(
                        "target",
                        lr.target.clone().unwrap_or_else(|| "(none)".into()),
                        integration_name(t),
                    ));
                }
                plan.push(ResourceChange::new(Kind::Route, r, Action::update(fields)));
            }
        }
    }
    for lr in live.routes.iter().filter(|x| !routes.contains(&x.key)) {
        plan.push(ResourceChange::new(Kind::Route, &lr.key, Action::Delete));
        plan.security
            .push(route_row(&lr.key, Sign::Remove, &lr.auth, false));
    }
    let want = desired_stage(t);
    match &live.stage {
        None => plan.push(ResourceChange::new(Kind::Stage, STAGE, Action::Create)),
        Some(s) => {
            let mut fields = Vec::new();
            if !s.auto_deploy {
                fields.push(FieldChange::new("auto_deploy", false, true));
            }
            if s.rate != want.rate || s.burst != want.burst {
                let show = |r: Option<f64>, b: Option<i32>| match (r, b) {
                    (None, None) => "(none)".to_string(),
                    (r, b) => format!(
                        "rate {} burst {}",
                        r.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                        b.map(|b| b.to_string()).unwrap_or_else(|| "-".into())
                    ),
                };
                fields.push(FieldChange::new(
                    "throttle",
                    show(s.rate, s.burst),
                    show(want.rate, want.burst),
                ));
            }
            if s.log_destination != want.log_destination || s.log_format != want.log_format {
                fields.push(FieldChange::new(
                    "access_log",
                    s.log_destination.clone().unwrap_or_else(|| "(none)".into()),
                    want.log_destination.clone().unwrap_or_default(),
                ));
            }
            fields.extend(TagDiff::field(&s.tags, &t.tags));
            plan.push(ResourceChange::new(
                Kind::Stage,
                STAGE,
                Action::update(fields),
            ));
        }
    }
}

fn route_row(route: &str, sign: Sign, auth: &str, broadens: bool) -> SecurityChange {
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

/// The API's id and endpoint once applied.
#[derive(Debug, Clone)]
pub struct Output {
    pub id: String,
    pub endpoint: String,
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    found: &Found,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<Output> {
    let name = &t.names.api;
    let live = found.ours.as_ref();
    let jwt = t.config.api.auth == ApiAuth::Jwt;
    let want_auth = auth_type(t.config.api.auth);
    let region = &aws.region;

    // The API.
    let (id, endpoint) = match (plan.action(Kind::Api, name), live) {
        (Action::Create, _) => {
            step(
                progress,
                "creating",
                "created",
                &format!("{} {name}", Kind::Api.label()),
                async {
                    let out = aws
                        .apigw
                        .create_api()
                        .name(name)
                        .protocol_type(ProtocolType::Http)
                        .description(format!("claw agent {}-{}", t.config.app, t.config.stage))
                        .set_tags(Some(t.tags.clone().into_iter().collect()))
                        .send()
                        .await
                        .ctx("CreateApi", name)?;
                    anyhow::Ok((
                        out.api_id.context("CreateApi returned no id")?,
                        out.api_endpoint.unwrap_or_default(),
                    ))
                },
            )
            .await?
        }
        (Action::Update { .. }, Some(l)) => {
            step(
                progress,
                "updating",
                "updated",
                &format!("{} {name} tags", Kind::Api.label()),
                async { retag(aws, &api_arn(region, &l.id), name, &l.tags, &t.tags).await },
            )
            .await?;
            (l.id.clone(), l.endpoint.clone())
        }
        (_, Some(l)) => (l.id.clone(), l.endpoint.clone()),
        (_, None) => anyhow::bail!("HTTP API {name} is neither live nor planned"),
    };
    let what_api = format!("HTTP API {id}");

    // The integration.
    let iname = integration_name(t);
    let integration_id = match (
        plan.action(Kind::Integration, &iname),
        live.and_then(|l| our_integration(t, l)),
    ) {
        (Action::NoChange, Some(i)) => i.id.clone(),
        (Action::Update { .. }, Some(i)) => {
            step(
                progress,
                "updating",
                "updated",
                &format!("{} {iname}", Kind::Integration.label()),
                async {
                    aws.apigw
                        .update_integration()
                        .api_id(&id)
                        .integration_id(&i.id)
                        .payload_format_version(PAYLOAD_FORMAT)
                        .send()
                        .await
                        .ctx(
                            "UpdateIntegration",
                            format!("{what_api} integration {}", i.id),
                        )?;
                    Ok(())
                },
            )
            .await?;
            i.id.clone()
        }
        _ => {
            step(
                progress,
                "creating",
                "created",
                &format!("{} {iname}", Kind::Integration.label()),
                async {
                    let out = aws
                        .apigw
                        .create_integration()
                        .api_id(&id)
                        .integration_type(IntegrationType::AwsProxy)
                        .integration_uri(t.names.function_arn())
                        .integration_method("POST")
                        .payload_format_version(PAYLOAD_FORMAT)
                        .send()
                        .await
                        .ctx("CreateIntegration", &what_api)?;
                    out.integration_id
                        .context("CreateIntegration returned no id")
                },
            )
            .await?
        }
    };

    // The JWT authorizer.
    let live_authz = live.and_then(our_authorizer);
    let authorizer_id = if jwt {
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
        let what = format!("{} {AUTHORIZER_NAME}", Kind::Authorizer.label());
        Some(
            match (plan.action(Kind::Authorizer, AUTHORIZER_NAME), live_authz) {
                (Action::NoChange, Some(a)) => a.id.clone(),
                (Action::Update { .. }, Some(a)) => {
                    step(progress, "updating", "updated", &what, async {
                        aws.apigw
                            .update_authorizer()
                            .api_id(&id)
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
                            .api_id(&id)
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
            },
        )
    } else {
        None
    };

    // Routes: create and update, then delete the ones no longer wanted.
    let target = format!("integrations/{integration_id}");
    for r in t.config.all_routes() {
        let what = format!("{} {r}", Kind::Route.label());
        match plan.action(Kind::Route, &r) {
            Action::Create => {
                step(progress, "creating", "created", &what, async {
                    aws.apigw
                        .create_route()
                        .api_id(&id)
                        .route_key(&r)
                        .target(&target)
                        .authorization_type(AuthorizationType::from(want_auth))
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
                    .and_then(|l| l.routes.iter().find(|x| x.key == r))
                    .context("route update without live state")?;
                step(progress, "updating", "updated", &what, async {
                    aws.apigw
                        .update_route()
                        .api_id(&id)
                        .route_id(&lr.id)
                        .target(&target)
                        .authorization_type(AuthorizationType::from(want_auth))
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
    if let Some(l) = live {
        for lr in &l.routes {
            if plan.action(Kind::Route, &lr.key) == Action::Delete {
                step(
                    progress,
                    "deleting",
                    "deleted",
                    &format!("{} {}", Kind::Route.label(), lr.key),
                    async {
                        match aws
                            .apigw
                            .delete_route()
                            .api_id(&id)
                            .route_id(&lr.id)
                            .send()
                            .await
                        {
                            Ok(_) => Ok(()),
                            Err(e)
                                if e.as_service_error()
                                    .is_some_and(|s| s.is_not_found_exception()) =>
                            {
                                Ok(())
                            }
                            Err(e) => Err(aws_error(
                                "DeleteRoute",
                                format!("{what_api} route {}", lr.key),
                                e,
                            )
                            .into()),
                        }
                    },
                )
                .await?;
            }
        }
    }
    if plan.action(Kind::Authorizer, AUTHORIZER_NAME) == Action::Delete
        && let Some(a) = live_authz
    {
        step(
            progress,
            "deleting",
            "deleted",
            &format!("{} {AUTHORIZER_NAME}", Kind::Authorizer.label()),
            async {
                aws.apigw
                    .delete_authorizer()
                    .api_id(&id)
                    .authorizer_id(&a.id)
                    .send()
                    .await
                    .ctx(
                        "DeleteAuthorizer",
                        format!("{what_api} authorizer {}", a.id),
                    )?;
                Ok(())
            },
        )
        .await?;
    }

    // The stage.
    let want = desired_stage(t);
    let settings = RouteSettings::builder()
        .throttling_burst_limit(want.burst.unwrap_or_default())
        .throttling_rate_limit(want.rate.unwrap_or_default())
        .build();
    let logs = AccessLogSettings::builder()
        .destination_arn(want.log_destination.clone().unwrap_or_default())
        .format(ACCESS_LOG_FORMAT)
        .build();
    let what = format!("{} {STAGE}", Kind::Stage.label());
    match plan.action(Kind::Stage, STAGE) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                aws.apigw
                    .create_stage()
                    .api_id(&id)
                    .stage_name(STAGE)
                    .auto_deploy(true)
                    .default_route_settings(settings.clone())
                    .access_log_settings(logs.clone())
                    .set_tags(Some(t.tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .ctx("CreateStage", format!("{what_api} stage {STAGE}"))?;
                Ok(())
            })
            .await?;
        }
        Action::Update { fields } => {
            let s = live
                .and_then(|l| l.stage.as_ref())
                .context("stage update without live state")?;
            step(progress, "updating", "updated", &what, async {
                if fields.iter().any(|f| f.field != "tags") {
                    aws.apigw
                        .update_stage()
                        .api_id(&id)
                        .stage_name(STAGE)
                        .auto_deploy(true)
                        .default_route_settings(settings.clone())
                        .access_log_settings(logs.clone())
                        .send()
                        .await
                        .ctx("UpdateStage", format!("{what_api} stage {STAGE}"))?;
                }
                if fields.iter().any(|f| f.field == "tags") {
                    retag(
                        aws,
                        &stage_arn(region, &id),
                        &format!("{what_api} stage {STAGE}"),
                        &s.tags,
                        &t.tags,
                    )
                    .await?;
                }
                Ok(())
            })
            .await?;
        }
        Action::Delete | Action::NoChange => {}
    }
    Ok(Output { id, endpoint })
}

async fn retag(
    aws: &Aws,
    arn: &str,
    what: &str,
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let d = TagDiff::between(live, want);
    if !d.set.is_empty() {
        aws.apigw
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(d.set.clone().into_iter().collect()))
            .send()
            .await
            .ctx("TagResource", what)?;
    }
    if !d.remove.is_empty() {
        aws.apigw
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(d.remove.clone()))
            .send()
            .await
            .ctx("UntagResource", what)?;
    }
    Ok(())
}

/// Deletes the API with its routes, integrations, authorizers and stages.
pub async fn delete(aws: &Aws, id: &str) -> anyhow::Result<()> {
    match aws.apigw.delete_api().api_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteApi", format!("HTTP API {id}"), e).into()),
    }
}
