//! The `$default` stage: auto-deploy, the configured throttle, JSON access logs
//! to the API's log group, and claw's tags.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_apigatewayv2::types::{AccessLogSettings, RouteSettings};

use super::super::Ctx;
use super::tags::retag;
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

pub const STAGE: &str = "$default";

/// One JSON line per request in the access log.
pub const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller","user":"$context.identity.user","requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","latencyMs":"$context.responseLatency","integrationError":"$context.integrationErrorMessage"}"#;

/// A stage's settings; live and desired have the same shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub auto_deploy: bool,
    pub burst: Option<i32>,
    pub rate: Option<f64>,
    pub log_destination: Option<String>,
    pub log_format: Option<String>,
    pub tags: BTreeMap<String, String>,
}

pub type Desired = Live;

pub fn desired(t: &Target) -> Desired {
    Live {
        auto_deploy: true,
        burst: Some(t.config.api.throttle.burst as i32),
        rate: Some(t.config.api.throttle.rate),
        log_destination: Some(t.names.log_group_arn(&t.names.api_log_group)),
        log_format: Some(ACCESS_LOG_FORMAT.to_string()),
        tags: t.tags.clone(),
    }
}

pub async fn read(aws: &Aws, api_id: &str, what: &str) -> anyhow::Result<Option<Live>> {
    let Some(s) = aws
        .apigw
        .get_stage()
        .api_id(api_id)
        .stage_name(STAGE)
        .send()
        .await
        .ctx("GetStage", format!("{what} stage {STAGE}"))
        .optional()?
    else {
        return Ok(None);
    };
    let rs = s.default_route_settings.as_ref();
    Ok(Some(Live {
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

/// The stage's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AutoDeploy,
    Throttle,
    AccessLog,
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::AutoDeploy => "auto_deploy",
            Field::Throttle => "throttle",
            Field::AccessLog => "access_log",
            Field::Tags => "tags",
        }
        .into()
    }
}

pub fn changes(s: &Live, want: &Desired) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if !s.auto_deploy {
        out.push(Changed::new(Field::AutoDeploy, false, true));
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
        out.push(Changed::new(
            Field::Throttle,
            show(s.rate, s.burst),
            show(want.rate, want.burst),
        ));
    }
    if s.log_destination != want.log_destination || s.log_format != want.log_format {
        out.push(Changed::new(
            Field::AccessLog,
            s.log_destination.clone().unwrap_or_else(|| "(none)".into()),
            want.log_destination.clone().unwrap_or_default(),
        ));
    }
    out.extend(Changed::tags(Field::Tags, &s.tags, &want.tags));
    out
}

pub fn plan(t: &Target, live: Option<&Live>, plan: &mut Plan) {
    plan.push(ResourceChange::new(
        ResourceKind::Stage,
        STAGE,
        match live {
            None => Action::Create,
            Some(s) => update_of(&changes(s, &desired(t))),
        },
    ));
}

pub async fn apply(
    cx: &Ctx<'_>,
    api_id: &str,
    live: Option<&Live>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let what_api = format!("HTTP API {api_id}");
    let want = desired(t);
    let settings = RouteSettings::builder()
        .throttling_burst_limit(want.burst.unwrap_or_default())
        .throttling_rate_limit(want.rate.unwrap_or_default())
        .build();
    let logs = AccessLogSettings::builder()
        .destination_arn(want.log_destination.clone().unwrap_or_default())
        .format(ACCESS_LOG_FORMAT)
        .build();
    let what = format!("{} {STAGE}", ResourceKind::Stage.label());
    match plan.action(ResourceKind::Stage, STAGE) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                aws.apigw
                    .create_stage()
                    .api_id(api_id)
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
            .await
        }
        Action::Update { .. } => {
            let s = live.context("stage update without live state")?;
            let (mut stage, mut tags) = (false, false);
            for c in changes(s, &want) {
                match c.field {
                    // UpdateStage sets these together.
                    Field::AutoDeploy | Field::Throttle | Field::AccessLog => stage = true,
                    Field::Tags => tags = true,
                }
            }
            step(progress, "updating", "updated", &what, async {
                if stage {
                    aws.apigw
                        .update_stage()
                        .api_id(api_id)
                        .stage_name(STAGE)
                        .auto_deploy(true)
                        .default_route_settings(settings.clone())
                        .access_log_settings(logs.clone())
                        .send()
                        .await
                        .ctx("UpdateStage", format!("{what_api} stage {STAGE}"))?;
                }
                if tags {
                    retag(
                        aws,
                        &cx.target.names.api_stage_arn(api_id, STAGE),
                        &format!("{what_api} stage {STAGE}"),
                        &s.tags,
                        &t.tags,
                    )
                    .await?;
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    #[test]
    fn throttle_and_access_log_diffs_are_typed_and_shown() {
        let t = testing::target();
        let want = desired(&t);
        assert!(changes(&want, &want).is_empty());
        let mut live = want.clone();
        live.rate = None;
        live.burst = None;
        live.log_destination = None;
        let c = changes(&live, &want);
        let fields: Vec<Field> = c.iter().map(|c| c.field).collect();
        assert_eq!(fields, [Field::Throttle, Field::AccessLog]);
        assert_eq!(
            c[0].row().to_string(),
            format!(
                "throttle (none) → rate {} burst {}",
                t.config.api.throttle.rate, t.config.api.throttle.burst
            )
        );
        assert!(
            c[1].row()
                .to_string()
                .starts_with("access_log (none) → arn:")
        );
        // A changed format alone also counts as an access-log change.
        let mut live = want.clone();
        live.log_format = Some("{}".into());
        assert_eq!(changes(&live, &want)[0].field, Field::AccessLog);
        let mut p = testing::plan(&t);
        plan(&t, Some(&live), &mut p);
        assert!(matches!(p.changes[0].action, Action::Update { .. }));
    }
}
