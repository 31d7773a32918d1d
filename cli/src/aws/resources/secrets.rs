//! The secrets agent.yaml names must exist before a deploy: claw never creates them
//! with a value (that is `claw secrets set`), it only checks, and lists every
//! missing one at once with the command that fixes it.

use std::collections::BTreeMap;

use super::{Ctx, DestroyOptions, Tagged};
use crate::aws::Aws;
use crate::aws::error::{AwsError, AwsErrorKind, AwsResultExt};
use crate::aws::ownership::{is_ours, untagged_note};
use crate::aws::plan::{Action, Plan, ResourceChange, ResourceKind};
use crate::aws::progress::step;
use crate::aws::target::Target;

#[derive(Debug, Clone)]
pub struct Live {
    /// Set when the secret is scheduled for deletion.
    pub deleted: bool,
    pub tags: BTreeMap<String, String>,
}

impl Tagged for Live {
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

/// What DescribeSecret said about one secret.
#[derive(Debug, Clone)]
pub enum Seen {
    Found(Live),
    Missing,
    /// AccessDenied. A deployer allowed DescribeSecret only on `name-??????` gets
    /// it for a secret that does not exist (the request names no suffix), so
    /// this is "missing or unreadable", and `claw secrets set` fixes both.
    Unreadable(String),
}

/// Every secret agent.yaml names, with what the read found.
pub type Found = Vec<(String, Seen)>;

/// The secrets agent.yaml names.
pub type Desired = Vec<String>;

pub fn desired(t: &Target) -> Desired {
    t.config.secret_names()
}

/// DescribeSecret for each name, in parallel.
pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let names = desired(t);
    futures::future::try_join_all(names.iter().map(|n| async move {
        let found = aws
            .secrets
            .describe_secret()
            .secret_id(n)
            .send()
            .await
            .ctx("DescribeSecret", n);
        let seen = match found {
            Ok(o) => Seen::Found(Live {
                deleted: o.deleted_date.is_some(),
                tags: o
                    .tags
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|t| Some((t.key?, t.value?)))
                    .collect(),
            }),
            Err(e) => seen_on_error(e)?,
        };
        anyhow::Ok((n.clone(), seen))
    }))
    .await
}

/// Not-found is missing, AccessDenied is missing or unreadable; anything else
/// fails the read.
fn seen_on_error(e: AwsError) -> Result<Seen, AwsError> {
    match e.kind {
        AwsErrorKind::NotFound => Ok(Seen::Missing),
        AwsErrorKind::AccessDenied => Ok(Seen::Unreadable(e.to_string())),
        _ => Err(e),
    }
}

/// Missing or deleted secrets block the deploy; claw never writes a value here.
pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    plan.blockers.extend(problems(found, &t.config.region));
}

/// Nothing to apply: `claw secrets set` writes secrets, deploy only checks them.
pub async fn apply(_: &Ctx<'_>, _: &Found, _: &Plan) -> anyhow::Result<()> {
    Ok(())
}

/// Secrets go only with `--include-secrets`, and only the ones tagged for this
/// app and stage.
pub fn plan_destroy(t: &Target, found: &Found, opts: DestroyOptions, p: &mut Plan) {
    let mut kept = Vec::new();
    for (name, s) in found {
        let Seen::Found(s) = s else { continue };
        if s.deleted {
            continue;
        }
        if opts.include_secrets && is_ours(&s.tags, &t.config) {
            p.changes.push(
                ResourceChange::new(ResourceKind::Secret, name, Action::Delete)
                    .with_note("recoverable for 7 days"),
            );
        } else if opts.include_secrets {
            p.notes
                .push(untagged_note(&format!("secret {name}"), &t.config));
        } else {
            kept.push(name.clone());
        }
    }
    if !kept.is_empty() {
        p.notes.push(format!(
            "secrets kept: {} (--include-secrets deletes the ones tagged for this app and stage)",
            kept.join(", ")
        ));
    }
}

/// Schedules the listed secrets for deletion, recoverable for 7 days.
pub async fn delete(cx: &Ctx<'_>, _: &Found, plan: &Plan) -> anyhow::Result<()> {
    let names: Vec<String> = plan
        .of_kind(ResourceKind::Secret)
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.name.clone())
        .collect();
    for name in names {
        step(
            cx.progress,
            "deleting",
            "scheduled for deletion",
            &format!("{} {name}", ResourceKind::Secret.label()),
            async {
                cx.aws
                    .secrets
                    .delete_secret()
                    .secret_id(&name)
                    .recovery_window_in_days(7)
                    .send()
                    .await
                    .ctx("DeleteSecret", &name)?;
                Ok(())
            },
        )
        .await?;
    }
    Ok(())
}

/// The blockers for missing or deleted secrets, one per secret.
fn problems(found: &[(String, Seen)], region: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, seen) in found {
        match seen {
            Seen::Missing => out.push(format!(
                "secret {name} does not exist in {region}; create it with: claw secrets set {name}"
            )),
            Seen::Unreadable(why) => out.push(format!(
                "secret {name} is missing or unreadable in {region} (access denied: {why}); create it with: claw secrets set {name}, or, if it exists, allow these credentials secretsmanager:DescribeSecret on it"
            )),
            Seen::Found(l) if l.deleted => out.push(format!(
                "secret {name} is scheduled for deletion; restore it (aws secretsmanager restore-secret --secret-id {name}) or set it again with: claw secrets set {name}"
            )),
            Seen::Found(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn error(code: &str) -> AwsError {
        AwsError {
            operation: "DescribeSecret",
            resource: "s".into(),
            code: Some(code.into()),
            kind: AwsErrorKind::of(Some(code)),
            message: "m".into(),
        }
    }

    /// A deployer allowed DescribeSecret only on `name-??????` may get
    /// AccessDeniedException, not ResourceNotFoundException, for a secret that
    /// does not exist: the plan lists it with the fix instead of failing.
    #[test]
    fn access_denied_on_describe_secret_is_missing_or_unreadable_not_a_failure() {
        assert!(matches!(
            seen_on_error(error("ResourceNotFoundException")),
            Ok(Seen::Missing)
        ));
        let Ok(denied) = seen_on_error(error("AccessDeniedException")) else {
            panic!("AccessDenied failed the read");
        };
        assert!(seen_on_error(error("InternalServiceError")).is_err());

        let t = testing::target();
        let name = t.config.secret_names()[0].clone();
        let mut p = testing::plan(&t);
        plan(&t, &vec![(name.clone(), denied)], &mut p);
        assert_eq!(p.blockers.len(), 1, "{p:?}");
        let b = &p.blockers[0];
        assert!(b.contains("missing or unreadable"), "{b}");
        assert!(b.contains(&format!("claw secrets set {name}")), "{b}");
        assert!(b.contains("AccessDeniedException"), "{b}");
    }
}
