//! The API's one integration: AWS_PROXY to the function, payload format 2.0.

use anyhow::Context as _;
use aws_sdk_apigatewayv2::types::IntegrationType;

use super::super::{Ctx, all_pages};
use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

pub const PAYLOAD_FORMAT: &str = "2.0";

#[derive(Debug, Clone)]
pub struct Live {
    pub id: String,
    pub kind: String,
    pub uri: String,
    pub payload: String,
}

/// How plan output names the integration.
pub fn name(t: &Target) -> String {
    format!("lambda {}", t.names.function)
}

pub async fn read(aws: &Aws, api_id: &str, what: &str) -> anyhow::Result<Vec<Live>> {
    all_pages(|token| async move {
        let page = aws
            .apigw
            .get_integrations()
            .api_id(api_id)
            .set_next_token(token)
            .send()
            .await
            .ctx("GetIntegrations", what)?;
        let items = page
            .items()
            .iter()
            .map(|i| Live {
                id: i.integration_id.clone().unwrap_or_default(),
                kind: i
                    .integration_type
                    .as_ref()
                    .map(|k| k.as_str().to_string())
                    .unwrap_or_default(),
                uri: i.integration_uri.clone().unwrap_or_default(),
                payload: i.payload_format_version.clone().unwrap_or_default(),
            })
            .collect();
        Ok((items, page.next_token))
    })
    .await
}

/// The integration claw wants among the live ones.
pub fn ours<'a>(t: &Target, live: &'a [Live]) -> Option<&'a Live> {
    let uri = t.names.integration_uri();
    live.iter().find(|i| i.kind == "AWS_PROXY" && i.uri == uri)
}

/// The integration's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PayloadFormat,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::PayloadFormat => "payload_format".into(),
        }
    }
}

pub fn changes(live: &Live) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if live.payload != PAYLOAD_FORMAT {
        out.push(Changed::new(
            Field::PayloadFormat,
            &live.payload,
            PAYLOAD_FORMAT,
        ));
    }
    out
}

pub fn plan(t: &Target, live: Option<&Live>, plan: &mut Plan) {
    plan.push(ResourceChange::new(
        ResourceKind::Integration,
        name(t),
        match live {
            None => Action::Create,
            Some(i) => update_of(&changes(i)),
        },
    ));
}

/// Creates or updates the integration; returns its id.
pub async fn apply(
    cx: &Ctx<'_>,
    api_id: &str,
    live: Option<&Live>,
    plan: &Plan,
) -> anyhow::Result<String> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let what_api = format!("HTTP API {api_id}");
    let iname = name(t);
    let what = format!("{} {iname}", ResourceKind::Integration.label());
    match (plan.action(ResourceKind::Integration, &iname), live) {
        (Action::NoChange, Some(i)) => Ok(i.id.clone()),
        (Action::Update { .. }, Some(i)) => {
            step(progress, "updating", "updated", &what, async {
                // The payload format is the one attribute; see [`changes`].
                aws.apigw
                    .update_integration()
                    .api_id(api_id)
                    .integration_id(&i.id)
                    .payload_format_version(PAYLOAD_FORMAT)
                    .send()
                    .await
                    .ctx(
                        "UpdateIntegration",
                        format!("{what_api} integration {}", i.id),
                    )?;
                Ok(())
            })
            .await?;
            Ok(i.id.clone())
        }
        _ => {
            step(progress, "creating", "created", &what, async {
                let out = aws
                    .apigw
                    .create_integration()
                    .api_id(api_id)
                    .integration_type(IntegrationType::AwsProxy)
                    .integration_uri(t.names.integration_uri())
                    .integration_method("POST")
                    .payload_format_version(PAYLOAD_FORMAT)
                    .send()
                    .await
                    .ctx("CreateIntegration", &what_api)?;
                out.integration_id
                    .context("CreateIntegration returned no id")
            })
            .await
        }
    }
}
