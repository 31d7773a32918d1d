//! The API Gateway v2 HTTP API in front of the function: the API itself (named like
//! the function, tagged), one AWS_PROXY integration (payload 2.0) to the function,
//! a JWT authorizer when `api.auth: jwt`, one route per configured route, and the
//! `$default` stage with auto-deploy, throttling and access logs. Each part is a
//! sub-module with the same read / plan / apply shape; this module sequences them.

pub mod authorizer;
pub mod integration;
pub mod routes;
pub mod stage;
mod tags;

use tags::retag;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use aws_sdk_apigatewayv2::types::ProtocolType;

use super::{Ctx, DestroyOptions, all_pages};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::ownership::{foreign_blocker, is_ours, untagged_note};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub endpoint: String,
    pub tags: BTreeMap<String, String>,
    pub integrations: Vec<integration::Live>,
    pub routes: Vec<routes::Live>,
    pub authorizers: Vec<authorizer::Live>,
    pub stage: Option<stage::Live>,
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

/// The API claw wants: its name and tags (its parts have their own `Desired`).
pub struct Desired {
    pub tags: BTreeMap<String, String>,
}

pub fn desired(t: &Target) -> Desired {
    Desired {
        tags: t.tags.clone(),
    }
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let name = &t.names.api;
    let matches = all_pages(|token| async move {
        let out = aws
            .apigw
            .get_apis()
            .set_next_token(token)
            .send()
            .await
            .ctx("GetApis", name)?;
        let items: Vec<_> = out
            .items()
            .iter()
            .filter(|a| a.name.as_deref() == Some(name.as_str()))
            .cloned()
            .collect();
        Ok((items, out.next_token))
    })
    .await?;
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
        integration::read(aws, &id, &what),
        routes::read(aws, &id, &what),
        stage::read(aws, &id, &what),
    )?;
    let ids: BTreeSet<String> = routes
        .iter()
        .filter_map(|r| r.authorizer_id.clone())
        .collect();
    let authorizers = authorizer::read(aws, &id, &what, ids).await?;
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

/// The API's own updatable attribute (its parts have theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Tags => "tags".into(),
        }
    }
}

pub fn changes(t: &Target, live: &Live) -> Vec<Changed<Field>> {
    Changed::tags(Field::Tags, &live.tags, &desired(t).tags)
        .into_iter()
        .collect()
}

pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    let name = &t.names.api;
    for id in &found.foreign {
        plan.blockers.push(foreign_blocker(
            &format!("HTTP API {id} is named {name}"),
            &t.config,
        ));
    }
    for id in &found.extra {
        plan.blockers.push(format!(
            "several HTTP APIs named {name} are tagged for this app and stage; delete the extra one ({id})"
        ));
    }
    let Some(live) = &found.ours else {
        plan.push(ResourceChange::new(ResourceKind::Api, name, Action::Create));
        integration::plan(t, None, plan);
        authorizer::plan_create(t, plan);
        routes::plan_create(t, plan);
        stage::plan(t, None, plan);
        return;
    };
    plan.push(ResourceChange::new(
        ResourceKind::Api,
        name,
        update_of(&changes(t, live)),
    ));
    let integ = integration::ours(t, &live.integrations);
    integration::plan(t, integ, plan);
    let authz = authorizer::ours(&live.authorizers);
    authorizer::plan(t, authz, plan);
    routes::plan(t, &live.routes, integ, authz, plan);
    stage::plan(t, live.stage.as_ref(), plan);
}

/// The API's id and endpoint once applied.
#[derive(Debug, Clone)]
pub struct Output {
    pub id: String,
    pub endpoint: String,
}

/// Applies the API and its parts in order: API, integration, authorizer, routes
/// (then an authorizer no route uses any more), stage.
pub async fn apply(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<Output> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.api;
    let live = found.ours.as_ref();

    let (id, endpoint) = match (plan.action(ResourceKind::Api, name), live) {
        (Action::Create, _) => {
            step(
                progress,
                "creating",
                "created",
                &format!("{} {name}", ResourceKind::Api.label()),
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
            for c in changes(t, l) {
                match c.field {
                    Field::Tags => {
                        step(
                            progress,
                            "updating",
                            "updated",
                            &format!("{} {name} tags", ResourceKind::Api.label()),
                            retag(aws, &t.names.api_arn(&l.id), name, &l.tags, &t.tags),
                        )
                        .await?
                    }
                }
            }
            (l.id.clone(), l.endpoint.clone())
        }
        (_, Some(l)) => (l.id.clone(), l.endpoint.clone()),
        (_, None) => anyhow::bail!("HTTP API {name} is neither live nor planned"),
    };

    let live_integ = live.and_then(|l| integration::ours(t, &l.integrations));
    let integration_id = integration::apply(cx, &id, live_integ, plan).await?;
    let live_authz = live.and_then(|l| authorizer::ours(&l.authorizers));
    let authorizer_id = authorizer::apply(cx, &id, live_authz, plan).await?;
    let wiring = routes::Wiring {
        api_id: &id,
        integration_id: &integration_id,
        authorizer_id: authorizer_id.as_deref(),
    };
    let live_routes = live.map(|l| l.routes.as_slice()).unwrap_or_default();
    routes::apply(cx, &wiring, live_routes, plan).await?;
    authorizer::delete(cx, &id, live_authz, plan).await?;
    stage::apply(cx, &id, live.and_then(|l| l.stage.as_ref()), plan).await?;
    Ok(Output { id, endpoint })
}

/// claw's API goes whole (routes, integrations, authorizers and stages with it);
/// APIs with its name that are not claw's stay.
pub fn plan_destroy(t: &Target, found: &Found, _: DestroyOptions, p: &mut Plan) {
    if let Some(a) = &found.ours {
        p.push(
            ResourceChange::new(ResourceKind::Api, &t.names.api, Action::Delete)
                .with_note(format!("id {}", a.id)),
        );
    }
    for id in &found.foreign {
        p.notes
            .push(untagged_note(&format!("HTTP API {id}"), &t.config));
    }
}

/// Deletes the API with its routes, integrations, authorizers and stages.
pub async fn delete(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let Some(x) = &found.ours else { return Ok(()) };
    let aws = cx.aws;
    cx.delete_step(plan, ResourceKind::Api, &cx.target.names.api, async {
        aws.apigw
            .delete_api()
            .api_id(&x.id)
            .send()
            .await
            .ctx("DeleteApi", format!("HTTP API {}", x.id))
            .ignore_missing()?;
        Ok(())
    })
    .await
}
