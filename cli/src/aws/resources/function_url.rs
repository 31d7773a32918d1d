//! The function URL (`api.stream`): `InvokeMode: RESPONSE_STREAM`, so a caller
//! reads the agent's server-sent events as they come; `AuthType` `AWS_IAM`, or
//! `NONE` when agent.yaml says `public: true`. Who may call it is the function's
//! resource policy (`permissions`, the `claw-url-` statements). It goes with the
//! function on destroy; a URL the config no longer has is deleted.
//! https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html

use super::{Ctx, DestroyOptions};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, Sign, update_of,
};
use crate::aws::progress::step;
use crate::aws::target::Target;

/// The streaming mode claw configures.
pub const INVOKE_MODE: &str = "RESPONSE_STREAM";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub url: String,
    /// The alias it belongs to (`live`), or `None` for the function's own.
    pub qualifier: Option<String>,
    pub auth_type: String,
    pub invoke_mode: String,
}

/// The URL of claw's function, when the function is claw's and has one.
pub type Found = Option<Live>;

/// Reads the URL of a function claw may manage (`exists`: it was found, and
/// is claw's); none when there is no function or no URL.
pub async fn read(aws: &Aws, t: &Target, exists: bool) -> anyhow::Result<Found> {
    if !exists {
        return Ok(None);
    }
    // With `rollout:` the URL is the alias's; one still on the function is
    // found too, to be moved.
    let alias = t.names.alias.as_deref();
    if let Some(a) = alias
        && let Some(l) = read_one(aws, t, Some(a)).await?
    {
        return Ok(Some(l));
    }
    read_one(aws, t, None).await
}

async fn read_one(aws: &Aws, t: &Target, qualifier: Option<&str>) -> anyhow::Result<Found> {
    let name = &t.names.function;
    let Some(o) = aws
        .lambda
        .get_function_url_config()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_string))
        .send()
        .await
        .ctx("GetFunctionUrlConfig", name)
        .optional()?
    else {
        return Ok(None);
    };
    Ok(Some(Live {
        url: o.function_url,
        qualifier: qualifier.map(str::to_string),
        auth_type: o.auth_type.as_str().to_string(),
        invoke_mode: o
            .invoke_mode
            .map(|m| m.as_str().to_string())
            // Lambda's default when none was set.
            .unwrap_or_else(|| "BUFFERED".into()),
    }))
}

/// The auth type claw wants, when agent.yaml has `api.stream`.
pub fn desired(t: &Target) -> Option<&'static str> {
    t.config.api.stream.as_ref().map(|s| s.auth_type())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AuthType,
    InvokeMode,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::AuthType => "auth_type",
            Field::InvokeMode => "invoke_mode",
        }
        .into()
    }
}

fn what(auth: &str) -> String {
    match auth {
        "NONE" => "a function URL anyone on the internet may call (AuthType NONE)".into(),
        other => format!("a function URL (AuthType {other})"),
    }
}

pub fn plan(t: &Target, live: &Found, plan: &mut Plan) {
    let name = &t.names.function;
    let resource = format!("function {name} url");
    let action = match (live, desired(t)) {
        (None, None) => return,
        (None, Some(auth)) => {
            plan.security.push(SecurityChange {
                sign: Sign::Add,
                resource,
                what: what(auth),
                broadens: true,
                drift: false,
            });
            Action::Create
        }
        (Some(l), None) => {
            plan.security.push(SecurityChange {
                sign: Sign::Remove,
                resource,
                what: what(&l.auth_type),
                broadens: false,
                drift: false,
            });
            Action::Delete
        }
        (Some(l), Some(_)) if l.qualifier != t.names.alias => {
            let to = match &t.names.alias {
                Some(a) => format!("the alias `{a}`"),
                None => "the function".into(),
            };
            plan.push(
                ResourceChange::new(ResourceKind::FunctionUrl, name, Action::Create).with_note(
                    format!(
                        "a new address: the URL moves to {to}; {} stops working",
                        l.url
                    ),
                ),
            );
            return;
        }
        (Some(l), Some(auth)) => {
            let mut changes = Vec::new();
            if l.auth_type != auth {
                changes.push(Changed::new(Field::AuthType, &l.auth_type, auth));
                plan.security.push(SecurityChange {
                    sign: Sign::Add,
                    resource: resource.clone(),
                    what: what(auth),
                    broadens: auth == "NONE",
                    drift: false,
                });
            }
            if l.invoke_mode != INVOKE_MODE {
                changes.push(Changed::new(Field::InvokeMode, &l.invoke_mode, INVOKE_MODE));
            }
            update_of(&changes)
        }
    };
    plan.push(ResourceChange::new(ResourceKind::FunctionUrl, name, action));
}

/// Creates, updates or deletes the URL as planned; the URL there is after.
pub async fn apply(cx: &Ctx<'_>, live: &Found, plan: &Plan) -> anyhow::Result<Option<String>> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.function;
    let label = format!("{} {name}", ResourceKind::FunctionUrl.label());
    let auth = desired(t).unwrap_or("AWS_IAM");
    let auth_type = aws_sdk_lambda::types::FunctionUrlAuthType::from(auth);
    let mode = aws_sdk_lambda::types::InvokeMode::from(INVOKE_MODE);
    let qualifier = t.names.alias.clone();
    match plan.action(ResourceKind::FunctionUrl, name) {
        Action::Create => {
            step(progress, "creating", "created", &label, async {
                if let Some(old) = live.as_ref().filter(|l| l.qualifier != qualifier) {
                    aws.lambda
                        .delete_function_url_config()
                        .function_name(name)
                        .set_qualifier(old.qualifier.clone())
                        .send()
                        .await
                        .ctx("DeleteFunctionUrlConfig", &old.url)
                        .optional()?;
                }
                let o = aws
                    .lambda
                    .create_function_url_config()
                    .function_name(name)
                    .set_qualifier(qualifier.clone())
                    .auth_type(auth_type)
                    .invoke_mode(mode)
                    .send()
                    .await
                    .ctx("CreateFunctionUrlConfig", name)?;
                Ok(Some(o.function_url))
            })
            .await
        }
        Action::Update { .. } => {
            step(progress, "updating", "updated", &label, async {
                let o = aws
                    .lambda
                    .update_function_url_config()
                    .function_name(name)
                    .set_qualifier(qualifier.clone())
                    .auth_type(auth_type)
                    .invoke_mode(mode)
                    .send()
                    .await
                    .ctx("UpdateFunctionUrlConfig", name)?;
                Ok(Some(o.function_url))
            })
            .await
        }
        Action::Delete => {
            step(progress, "deleting", "deleted", &label, async {
                aws.lambda
                    .delete_function_url_config()
                    .function_name(name)
                    .set_qualifier(live.as_ref().and_then(|l| l.qualifier.clone()))
                    .send()
                    .await
                    .ctx("DeleteFunctionUrlConfig", name)
                    .optional()?;
                Ok(None)
            })
            .await
        }
        Action::NoChange => Ok(live.as_ref().map(|l| l.url.clone())),
    }
}

/// Listed so the destroy plan shows the URL going; it goes with the function
/// (DeleteFunction removes its URL), so [`delete`] makes no call.
pub fn plan_destroy(t: &Target, live: &Found, _: DestroyOptions, p: &mut Plan) {
    if let Some(l) = live {
        p.push(
            ResourceChange::new(ResourceKind::FunctionUrl, &t.names.function, Action::Delete)
                .with_note(format!("{} (with the function)", l.url)),
        );
    }
}

/// Nothing of its own to delete: see [`plan_destroy`].
pub async fn delete(_: &Ctx<'_>, _: &Found, _: &Plan) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn live(auth: &str, mode: &str) -> Found {
        Some(Live {
            url: "https://abc.lambda-url.us-east-1.on.aws/".into(),
            qualifier: None,
            auth_type: auth.into(),
            invoke_mode: mode.into(),
        })
    }

    #[test]
    fn the_url_follows_api_stream_and_opening_it_is_a_broadening_change() {
        let mut t = testing::target();
        let mut p = testing::plan(&t);
        plan(&t, &None, &mut p);
        assert!(p.changes.is_empty());

        t.config.api.stream = Some(claw_spec::model::Stream {
            allow: vec!["210987654321".into()],
            public: false,
        });
        let mut p = testing::plan(&t);
        plan(&t, &None, &mut p);
        assert_eq!(p.changes[0].action, Action::Create);
        assert!(p.security[0].broadens && p.security[0].what.contains("AWS_IAM"));

        let mut p = testing::plan(&t);
        plan(&t, &live("AWS_IAM", "RESPONSE_STREAM"), &mut p);
        assert_eq!(p.changes[0].action, Action::NoChange);
        assert!(p.security.is_empty());

        // Made buffered or public outside claw: put back.
        let mut p = testing::plan(&t);
        plan(&t, &live("NONE", "BUFFERED"), &mut p);
        let fields: Vec<String> = p.changes[0]
            .fields()
            .iter()
            .map(|f| f.to_string())
            .collect();
        assert_eq!(
            fields,
            [
                "auth_type NONE → AWS_IAM",
                "invoke_mode BUFFERED → RESPONSE_STREAM"
            ]
        );

        t.config.api.stream.as_mut().unwrap().public = true;
        let mut p = testing::plan(&t);
        plan(&t, &live("AWS_IAM", "RESPONSE_STREAM"), &mut p);
        assert!(p.security[0].broadens && p.security[0].what.contains("anyone"));

        t.config.api.stream = None;
        let mut p = testing::plan(&t);
        plan(&t, &live("AWS_IAM", "RESPONSE_STREAM"), &mut p);
        assert_eq!(p.changes[0].action, Action::Delete);

        // Destroy lists it, going with the function.
        let mut p = testing::plan(&t);
        plan_destroy(
            &t,
            &live("AWS_IAM", "RESPONSE_STREAM"),
            DestroyOptions::default(),
            &mut p,
        );
        assert_eq!(p.changes[0].action, Action::Delete);
        assert!(
            p.changes[0]
                .note
                .as_deref()
                .unwrap()
                .contains("with the function")
        );
    }
}
