//! One module per resource kind, each with the same five entry points:
//!
//! - `read(aws, target) -> Found`: the live state (`Option<Live>` for a single
//!   resource, a small struct or map when the kind has several);
//! - `plan(target, &found, &mut Plan)`: pure, desired against live;
//! - `apply(&Ctx, &found, &Plan)`: the plan's creates and updates for this kind;
//! - `plan_destroy(target, &found, DestroyOptions, &mut Plan)`: pure, what
//!   `claw destroy` deletes and what it keeps;
//! - `delete(&Ctx, &found, &Plan)`: the plan's deletes for this kind.
//!
//! Each module's desired state is its `Desired`. Modules depend on `plan`,
//! `target`, `ownership`, `error` and `progress`, never on each other or on
//! `stack`, which only sequences them.

pub mod alarms;
pub mod api;
pub mod boundary;
pub mod concurrency;
pub mod dashboard;
pub mod function;
pub mod function_url;
pub mod log_group;
pub mod mapping;
pub mod permissions;
pub mod queues;
pub mod role;
pub mod secrets;
pub mod tables;

use claw_spec::model::ApiMode;

use super::Aws;
use super::error::is_access_denied;
use super::plan::{Action, Plan, ResourceKind};
use super::progress::{ApplyProgress, step};
use super::target::Target;

/// What apply and delete work with: the clients, the target, the progress lines.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub aws: &'a Aws,
    pub target: &'a Target,
    pub progress: &'a ApplyProgress,
}

impl Ctx<'_> {
    /// Deletes one resource the plan marks for deletion, as one progress step.
    pub async fn delete_step<F>(
        &self,
        plan: &Plan,
        kind: ResourceKind,
        name: &str,
        fut: F,
    ) -> anyhow::Result<()>
    where
        F: std::future::Future<Output = anyhow::Result<()>>,
    {
        if plan.action(kind, name) != Action::Delete {
            return Ok(());
        }
        step(
            self.progress,
            "deleting",
            "deleted",
            &format!("{} {name}", kind.label()),
            fut,
        )
        .await
    }
}

/// What `claw destroy` may delete besides the stack itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct DestroyOptions {
    pub include_secrets: bool,
    pub include_data: bool,
}

/// In sync mode claw still looks for async-mode resources, to delete what a
/// switch back from async left behind. A deployer role made for sync mode may not
/// read them; that is no reason to fail: claw could not delete them either.
pub fn leftover<T: Default>(
    t: &Target,
    what: &str,
    read: anyhow::Result<T>,
) -> anyhow::Result<(T, Option<String>)> {
    match read {
        Ok(v) => Ok((v, None)),
        Err(e) if t.config.api.mode == ApiMode::Sync && is_access_denied(&e) => Ok((
            T::default(),
            Some(format!(
                "could not look for {what} left from async mode (access denied: {e}); skipped"
            )),
        )),
        Err(e) => Err(e),
    }
}

/// Runs independent steps to completion (none is cancelled half-way when another
/// fails) and reports every failure.
pub fn all(results: Vec<anyhow::Result<()>>) -> anyhow::Result<()> {
    let errors: Vec<anyhow::Error> = results.into_iter().filter_map(Result::err).collect();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors
            .into_iter()
            .next()
            .unwrap_or_else(|| anyhow::anyhow!("unknown error"))),
        n => {
            let list: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            Err(anyhow::anyhow!(
                "{n} steps failed:\n  {}",
                list.join("\n  ")
            ))
        }
    }
}

/// A `Live` whose tags say whether claw owns it.
pub trait Tagged {
    fn tags(&self) -> &std::collections::BTreeMap<String, String>;
}

/// The destroy plan of one resource found by name: a Delete when it is claw's, a
/// "kept" note when it is not, nothing when there is none.
pub fn destroy_owned<L: Tagged>(
    t: &Target,
    live: Option<&L>,
    kind: ResourceKind,
    name: &str,
    what: &str,
    plan: &mut Plan,
) {
    match live {
        Some(l) if super::ownership::is_ours(l.tags(), &t.config) => {
            plan.push(super::plan::ResourceChange::new(kind, name, Action::Delete));
        }
        Some(_) => plan
            .notes
            .push(super::ownership::untagged_note(what, &t.config)),
        None => {}
    }
}

/// Every page of a paged list call (for operations whose SDK has no paginator):
/// `fetch(next_token)` returns one page's items and the next token.
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<T>, Option<String>)>>,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (items, next) = fetch(token.take()).await?;
        out.extend(items);
        match next {
            Some(n) if !n.is_empty() => token = Some(n),
            _ => return Ok(out),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shared fixtures for the resource modules' plan tests.

    use super::Target;
    use crate::aws::plan::Plan;

    /// The example agent.yaml as a target, without a package.
    pub fn target() -> Target {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent.yaml"),
        )
        .unwrap();
        let loaded = claw_spec::load("agent.yaml", &text, &Default::default(), &|_| None).unwrap();
        Target::new(loaded.config, None)
    }

    pub fn plan(t: &Target) -> Plan {
        Plan::for_target(t)
    }
}
