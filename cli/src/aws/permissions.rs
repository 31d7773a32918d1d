//! The function's resource-based policy: one `lambda:InvokeFunction` statement per
//! route for `apigateway.amazonaws.com`, limited by `ArnLike AWS:SourceArn` to
//! exactly this API and route, with Sid `claw-apigw-…`.
//!
//! claw never adds a Sid that is already there (moto accepts duplicates; AWS would
//! not), removes its own statements that are no longer wanted, and reports every
//! other statement as drift, removed only after approval.

use claw_spec::Names;
use claw_spec::iam::{PolicyDocument, Statement};
use claw_spec::names::API_ID_PLACEHOLDER;
use claw_spec::policy;
use claw_spec::policy_diff;

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, SecurityChange, Sign};
use super::progress::{Progress, step};
use super::stack::{Target, security_rows};
use super::{Aws, AwsResultExt, aws_error, doc};

/// The Sid prefix of claw's own statements.
pub const SID_PREFIX: &str = "claw-apigw-";

pub const PRINCIPAL: &str = "apigateway.amazonaws.com";

#[derive(Debug, Clone, Default)]
pub struct Live {
    pub statements: Vec<Statement>,
}

impl Live {
    fn with_sid(&self, sid: &str) -> Vec<&Statement> {
        self.statements
            .iter()
            .filter(|s| s.sid.as_deref() == Some(sid))
            .collect()
    }
}

/// Reads the function's policy; a function without one (or no function) has none.
pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Live> {
    let name = &t.names.function;
    match aws.lambda.get_policy().function_name(name).send().await {
        Ok(o) => {
            let raw = o.policy.unwrap_or_default();
            let d = doc::parse(&raw, &format!("resource policy of function {name}"))?;
            Ok(Live {
                statements: d.statement,
            })
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(Live::default())
        }
        Err(e) => Err(aws_error("GetPolicy", name, e).into()),
    }
}

/// The statements claw wants, for an API id (or the placeholder before it exists).
pub fn desired(t: &Target, api_id: Option<&str>) -> Vec<Statement> {
    policy::invoke(&t.config, &t.names, api_id.unwrap_or(API_ID_PLACEHOLDER)).statement
}

fn one(s: &Statement) -> PolicyDocument {
    PolicyDocument::new(vec![s.clone()])
}

pub fn plan(t: &Target, live: &Live, api_id: Option<&str>, plan: &mut Plan) {
    let resource = format!("function {} resource policy", t.names.function);
    let want = desired(t, api_id);
    for st in &want {
        let sid = st.sid.clone().unwrap_or_default();
        let have = live.with_sid(&sid);
        match have.first() {
            None => {
                plan.push(ResourceChange::new(Kind::Permission, &sid, Action::Create));
                plan.security.extend(security_rows(
                    &resource,
                    &policy_diff::diff(&PolicyDocument::new(vec![]), &one(st)),
                    false,
                ));
            }
            Some(first) => {
                let change = policy_diff::diff(&one(first), &one(st));
                let mut fields = Vec::new();
                if !change.is_empty() {
                    fields.push(FieldChange::new(
                        "source_arn",
                        source_arn(first).unwrap_or_else(|| "(other)".into()),
                        source_arn(st).unwrap_or_default(),
                    ));
                    plan.security
                        .extend(security_rows(&resource, &change, false));
                }
                if have.len() > 1 {
                    fields.push(FieldChange::new("statements", have.len(), 1));
                }
                plan.push(ResourceChange::new(
                    Kind::Permission,
                    &sid,
                    Action::update(fields),
                ));
            }
        }
    }
    let wanted: Vec<String> = want.iter().filter_map(|s| s.sid.clone()).collect();
    let mut seen = Vec::new();
    for st in &live.statements {
        let sid = st.sid.clone().unwrap_or_default();
        if wanted.contains(&sid) || seen.contains(&sid) {
            continue;
        }
        seen.push(sid.clone());
        let ours = sid.starts_with(SID_PREFIX);
        let mut change = ResourceChange::new(
            Kind::Permission,
            if sid.is_empty() { "(no sid)" } else { &sid },
            Action::Delete,
        );
        if !ours {
            change = change.with_note("added outside claw; removed after approval");
        }
        plan.push(change);
        for p in policy_diff::permissions(&one(st)) {
            plan.security.push(SecurityChange {
                sign: Sign::Remove,
                resource: resource.clone(),
                what: format!("{sid}: {p}"),
                broadens: false,
                drift: !ours,
            });
        }
    }
}

fn source_arn(s: &Statement) -> Option<String> {
    let cond = s.condition.as_ref()?;
    cond.values()
        .flat_map(|m| m.iter())
        .find(|(k, _)| k.eq_ignore_ascii_case("aws:SourceArn"))
        .map(|(_, v)| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    live: &Live,
    api_id: &str,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = &t.names.function;
    // Removals first: a changed statement is removed and added again under its Sid.
    let mut removed = Vec::new();
    for c in plan.of_kind(Kind::Permission) {
        if matches!(c.action, Action::Delete | Action::Update { .. }) && !removed.contains(&c.name)
        {
            let n = live.with_sid(&c.name).len().max(1);
            let verb = if matches!(c.action, Action::Delete) {
                "removing"
            } else {
                "replacing"
            };
            let what = format!("{} {}", Kind::Permission.label(), c.name);
            if let Action::Delete = c.action {
                step(
                    progress,
                    verb,
                    "removed",
                    &what,
                    remove(aws, name, &c.name, n),
                )
                .await?;
            } else {
                remove(aws, name, &c.name, n).await?;
            }
            removed.push(c.name.clone());
        }
    }
    for st in desired(t, Some(api_id)) {
        let sid = st.sid.clone().unwrap_or_default();
        let action = plan.action(Kind::Permission, &sid);
        if matches!(action, Action::Create | Action::Update { .. }) {
            let arn = source_arn(&st).unwrap_or_default();
            let verb = if matches!(action, Action::Create) {
                "adding"
            } else {
                "updating"
            };
            let done = if matches!(action, Action::Create) {
                "added"
            } else {
                "updated"
            };
            step(
                progress,
                verb,
                done,
                &format!("{} {sid}", Kind::Permission.label()),
                async {
                    aws.lambda
                        .add_permission()
                        .function_name(name)
                        .statement_id(&sid)
                        .action("lambda:InvokeFunction")
                        .principal(PRINCIPAL)
                        .source_arn(&arn)
                        .send()
                        .await
                        .ctx("AddPermission", format!("{name} {sid}"))?;
                    Ok(())
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Removes every statement with this Sid (moto may hold several).
async fn remove(aws: &Aws, function: &str, sid: &str, count: usize) -> anyhow::Result<()> {
    for _ in 0..count {
        match aws
            .lambda
            .remove_permission()
            .function_name(function)
            .statement_id(sid)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                break;
            }
            Err(e) => {
                return Err(aws_error("RemovePermission", format!("{function} {sid}"), e).into());
            }
        }
    }
    Ok(())
}

/// The Sid claw uses for a route (re-exported for tests and other commands).
pub fn sid(route: &str) -> String {
    Names::permission_sid(route)
}
