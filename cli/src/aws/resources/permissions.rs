//! The function's resource-based policy: one `lambda:InvokeFunction` statement per
//! route for `apigateway.amazonaws.com`, limited by `ArnLike AWS:SourceArn` to
//! exactly this API and route, with Sid `claw-apigw-…`; and with `api.stream`,
//! two per function URL caller (Sid `claw-url-…`): `lambda:InvokeFunctionUrl`
//! for the URL's auth type, `lambda:InvokeFunction` through a function URL only.
//!
//! claw never adds a Sid that is already there (moto accepts duplicates; AWS would
//! not), removes its own statements that are no longer wanted, and reports every
//! other statement as drift, removed only after approval.

use claw_spec::iam::{PolicyDocument, Statement};
use claw_spec::names::API_ID_PLACEHOLDER;
use claw_spec::policy;
use claw_spec::policy_diff;

use super::{Ctx, DestroyOptions};
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, Sign, update_of,
};
use crate::aws::progress::step;
use crate::aws::target::Target;
use crate::aws::{Aws, doc};

/// The Sid prefix of claw's own statements.
pub const SID_PREFIX: &str = "claw-apigw-";

pub const PRINCIPAL: &str = "apigateway.amazonaws.com";

#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The policy of what callers invoke: the alias's with `rollout:`, else the
    /// function's.
    pub statements: Vec<Statement>,
    /// With `rollout:`, claw's statements still on the function itself (from
    /// before callers moved to the alias): removed.
    pub moved: Vec<String>,
    /// The id of the API the statements should name: the live API's, filled in
    /// by the stack after its reads (none before the API exists). Apply uses the
    /// id of the API as applied.
    pub api_id: Option<String>,
}

impl Live {
    fn with_sid(&self, sid: &str) -> Vec<&Statement> {
        self.statements
            .iter()
            .filter(|s| s.sid.as_deref() == Some(sid))
            .collect()
    }
}

/// Reads the policy callers go through (and with `rollout:` the function's own,
/// for claw statements left there); none without a function or a policy.
pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Live> {
    let alias = t.names.alias.as_deref();
    let (statements, old) = futures::try_join!(read_policy(aws, t, alias), async {
        match alias {
            Some(_) => read_policy(aws, t, None).await,
            None => Ok(Vec::new()),
        }
    })?;
    let mut moved: Vec<String> = old
        .into_iter()
        .filter_map(|s| s.sid)
        .filter(|sid| is_claws(sid))
        .collect();
    moved.dedup();
    Ok(Live {
        statements,
        moved,
        api_id: None,
    })
}

fn is_claws(sid: &str) -> bool {
    sid.starts_with(SID_PREFIX) || sid.starts_with(claw_spec::policy_url::URL_SID_PREFIX)
}

/// The name of the plan row removing a statement left on the function.
fn moved_name(t: &Target, sid: &str) -> String {
    format!("{sid} on {}", t.names.function)
}

async fn read_policy(
    aws: &Aws,
    t: &Target,
    qualifier: Option<&str>,
) -> anyhow::Result<Vec<Statement>> {
    let name = &t.names.function;
    let what = match qualifier {
        Some(q) => format!("{name}:{q}"),
        None => name.clone(),
    };
    let Some(o) = aws
        .lambda
        .get_policy()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_string))
        .send()
        .await
        .ctx("GetPolicy", &what)
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let raw = o.policy.unwrap_or_default();
    Ok(doc::parse(&raw, &format!("resource policy of {what}"))?.statement)
}

/// The statements claw wants, one per route.
pub type Desired = Vec<Statement>;

/// The statements claw wants, for an API id (or the placeholder before it exists).
pub fn desired(t: &Target, api_id: Option<&str>) -> Desired {
    policy::invoke(&t.config, &t.names, api_id.unwrap_or(API_ID_PLACEHOLDER)).statement
}

fn one(s: &Statement) -> PolicyDocument {
    PolicyDocument::new(vec![s.clone()])
}

/// A statement's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    SourceArn,
    /// Several statements under one Sid (moto accepts duplicates).
    Statements,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::SourceArn => "source_arn",
            Field::Statements => "statements",
        }
        .into()
    }
}

/// What an update of the statements under `want`'s Sid changes. Either way
/// apply removes them and adds the wanted one again.
pub fn changes(want: &Statement, have: &[&Statement]) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    let Some(first) = have.first() else {
        return out;
    };
    if !policy_diff::diff(&one(first), &one(want)).is_empty() {
        out.push(Changed::new(
            Field::SourceArn,
            source_arn(first).unwrap_or_else(|| "(other)".into()),
            source_arn(want).unwrap_or_default(),
        ));
    }
    if have.len() > 1 {
        out.push(Changed::new(Field::Statements, have.len(), 1));
    }
    out
}

pub fn plan(t: &Target, live: &Live, plan: &mut Plan) {
    for sid in &live.moved {
        plan.push(
            ResourceChange::new(ResourceKind::Permission, moved_name(t, sid), Action::Delete)
                .with_note("callers invoke the alias `live` now, which has its own"),
        );
    }
    let resource = match &t.names.alias {
        Some(a) => format!("alias {}:{a} resource policy", t.names.function),
        None => format!("function {} resource policy", t.names.function),
    };
    let want = desired(t, live.api_id.as_deref());
    for st in &want {
        let sid = st.sid.clone().unwrap_or_default();
        let have = live.with_sid(&sid);
        match have.first() {
            None => {
                plan.push(ResourceChange::new(
                    ResourceKind::Permission,
                    &sid,
                    Action::Create,
                ));
                plan.security.extend(SecurityChange::from_policy_change(
                    &resource,
                    &policy_diff::diff(&PolicyDocument::new(vec![]), &one(st)),
                    false,
                ));
            }
            Some(first) => {
                plan.security.extend(SecurityChange::from_policy_change(
                    &resource,
                    &policy_diff::diff(&one(first), &one(st)),
                    false,
                ));
                plan.push(ResourceChange::new(
                    ResourceKind::Permission,
                    &sid,
                    update_of(&changes(st, &have)),
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
        let ours = is_claws(&sid);
        let mut change = ResourceChange::new(
            ResourceKind::Permission,
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

/// Removes unwanted and changed statements, then adds the wanted ones for the
/// API id in `live.api_id` (the applied API's).
pub async fn apply(cx: &Ctx<'_>, live: &Live, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.function;
    let api_id = live.api_id.as_deref().unwrap_or(API_ID_PLACEHOLDER);
    let qualifier = t.names.alias.as_deref();
    for sid in &live.moved {
        let row = moved_name(t, sid);
        if plan.action(ResourceKind::Permission, &row) == Action::Delete {
            let what = format!("{} {row}", ResourceKind::Permission.label());
            step(
                progress,
                "removing",
                "removed",
                &what,
                remove(aws, name, None, sid, 2),
            )
            .await?;
        }
    }
    // Removals first: a changed statement is removed and added again under its Sid.
    let mut removed = Vec::new();
    for c in plan.of_kind(ResourceKind::Permission) {
        if matches!(c.action, Action::Delete | Action::Update { .. })
            && !removed.contains(&c.name)
            && !live.moved.iter().any(|sid| moved_name(t, sid) == c.name)
        {
            let n = live.with_sid(&c.name).len().max(1);
            let verb = if matches!(c.action, Action::Delete) {
                "removing"
            } else {
                "replacing"
            };
            let what = format!("{} {}", ResourceKind::Permission.label(), c.name);
            if let Action::Delete = c.action {
                step(
                    progress,
                    verb,
                    "removed",
                    &what,
                    remove(aws, name, qualifier, &c.name, n),
                )
                .await?;
            } else {
                remove(aws, name, qualifier, &c.name, n).await?;
            }
            removed.push(c.name.clone());
        }
    }
    for st in desired(t, Some(api_id)) {
        let sid = st.sid.clone().unwrap_or_default();
        let action = plan.action(ResourceKind::Permission, &sid);
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
                &format!("{} {sid}", ResourceKind::Permission.label()),
                async {
                    let add = aws
                        .lambda
                        .add_permission()
                        .function_name(name)
                        .set_qualifier(qualifier.map(str::to_string))
                        .statement_id(&sid);
                    let add = if sid.starts_with(claw_spec::policy_url::URL_SID_PREFIX) {
                        url_grant(add, &st)
                    } else {
                        add.action("lambda:InvokeFunction")
                            .principal(PRINCIPAL)
                            .source_arn(&arn)
                    };
                    add.send()
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

/// AddPermission for a function URL statement: its action, its principal as
/// agent.yaml names it (an account id, a role ARN, or `*`), and the parameter
/// that becomes its condition (`FunctionUrlAuthType`, or
/// `InvokedViaFunctionUrl`).
fn url_grant(
    add: aws_sdk_lambda::operation::add_permission::builders::AddPermissionFluentBuilder,
    st: &Statement,
) -> aws_sdk_lambda::operation::add_permission::builders::AddPermissionFluentBuilder {
    let action = st.action.first().cloned().unwrap_or_default();
    let principal = match st.principal.as_ref() {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(p) => {
            let arn = p["AWS"].as_str().unwrap_or_default();
            match arn.strip_suffix(":root") {
                Some(head) => head.rsplit(':').next().unwrap_or(head).to_string(),
                None => arn.to_string(),
            }
        }
        None => String::new(),
    };
    let cond = st.condition.as_ref();
    let auth = cond
        .and_then(|c| c.get("StringEquals"))
        .and_then(|m| m.get("lambda:FunctionUrlAuthType"))
        .and_then(|v| v.as_str());
    let add = add.action(action).principal(principal);
    match auth {
        Some(a) => add.function_url_auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::from(a)),
        None => add.invoked_via_function_url(true),
    }
}

/// Removes every statement with this Sid (moto may hold several).
async fn remove(
    aws: &Aws,
    function: &str,
    qualifier: Option<&str>,
    sid: &str,
    count: usize,
) -> anyhow::Result<()> {
    for _ in 0..count {
        let removed = aws
            .lambda
            .remove_permission()
            .function_name(function)
            .set_qualifier(qualifier.map(str::to_string))
            .statement_id(sid)
            .send()
            .await
            .ctx("RemovePermission", format!("{function} {sid}"))
            .optional()?;
        if removed.is_none() {
            break;
        }
    }
    Ok(())
}

/// The statements go with the function on destroy.
pub fn plan_destroy(_: &Target, _: &Live, _: DestroyOptions, _: &mut Plan) {}

/// Nothing of its own to delete: see [`plan_destroy`]; statements the config no
/// longer wants are removed by [`apply`].
pub async fn delete(_: &Ctx<'_>, _: &Live, _: &Plan) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    #[test]
    fn missing_statements_are_added_and_foreign_ones_are_drift() {
        let t = testing::target();
        let want = desired(&t, Some("abc123"));
        let mut live = Live {
            statements: vec![],
            moved: vec![],
            api_id: Some("abc123".into()),
        };
        let mut p = testing::plan(&t);
        plan(&t, &live, &mut p);
        assert_eq!(p.changes.len(), want.len());
        assert!(p.changes.iter().all(|c| c.action == Action::Create));
        assert!(p.security.iter().all(|s| s.sign == Sign::Add && s.broadens));

        live.statements = want.clone();
        let mut foreign = want[0].clone();
        foreign.sid = Some("someone-else".into());
        live.statements.push(foreign);
        let mut p = testing::plan(&t);
        plan(&t, &live, &mut p);
        let extra = p.get(ResourceKind::Permission, "someone-else").unwrap();
        assert_eq!(extra.action, Action::Delete);
        assert!(
            extra
                .note
                .as_deref()
                .unwrap()
                .contains("added outside claw")
        );
        assert!(p.security.iter().all(|s| s.sign == Sign::Remove && s.drift));
    }

    #[test]
    fn a_statement_for_another_api_or_duplicated_is_updated() {
        let t = testing::target();
        let want = desired(&t, Some("abc123"));
        let old = desired(&t, Some("old999"));
        let sid = want[0].sid.clone().unwrap();
        let c = changes(&want[0], &[&old[0], &old[0]]);
        let fields: Vec<Field> = c.iter().map(|c| c.field).collect();
        assert_eq!(fields, [Field::SourceArn, Field::Statements]);
        let live = Live {
            statements: vec![old[0].clone()],
            moved: vec![],
            api_id: Some("abc123".into()),
        };
        let mut p = testing::plan(&t);
        plan(&t, &live, &mut p);
        let row = p.get(ResourceKind::Permission, &sid).unwrap().fields()[0].to_string();
        assert!(
            row.starts_with("source_arn ") && row.contains("old999") && row.contains("abc123"),
            "{row}"
        );
    }
}
