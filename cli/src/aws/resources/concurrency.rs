//! The function's reserved concurrency: put when agent.yaml sets
//! `function.reserved_concurrency`, removed when it no longer does. Lambda returns
//! it with GetFunction, so its live state comes from the function's read; it goes
//! with the function on destroy.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::{Ctx, DestroyOptions};
use crate::aws::error::AwsResultExt;
use crate::aws::ownership::is_ours;
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

/// What GetFunction says about the reservation, and whose function it is.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub reserved: Option<i32>,
    /// The function's tags: a foreign function's concurrency is not claw's either.
    pub tags: BTreeMap<String, String>,
}

/// The reservation claw wants, if any.
pub type Desired = Option<i32>;

pub fn desired(t: &Target) -> Desired {
    t.config.function.reserved_concurrency.map(|c| c as i32)
}

/// The reservation's one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Reserved,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Reserved => "reserved".into(),
        }
    }
}

pub fn plan(t: &Target, live: &Option<Live>, plan: &mut Plan) {
    let want = desired(t);
    let action = match live {
        None => want.map(|_| Action::Create),
        // The function's blocker covers it.
        Some(l) if !is_ours(&l.tags, &t.config) => None,
        Some(l) => match (l.reserved, want) {
            (None, None) => None,
            (None, Some(_)) => Some(Action::Create),
            (Some(_), None) => Some(Action::Delete),
            (Some(a), Some(b)) => {
                let changes: Vec<_> = (a != b)
                    .then(|| Changed::new(Field::Reserved, a, b))
                    .into_iter()
                    .collect();
                Some(update_of(&changes))
            }
        },
    };
    if let Some(action) = action {
        plan.push(ResourceChange::new(
            ResourceKind::Concurrency,
            &t.names.function,
            action,
        ));
    }
}

/// Puts the reservation, or removes one the config dropped.
pub async fn apply(cx: &Ctx<'_>, _: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.function;
    let what = format!("{} {name}", ResourceKind::Concurrency.label());
    match plan.action(ResourceKind::Concurrency, name) {
        Action::Create | Action::Update { .. } => {
            let n = desired(t).context("reserved concurrency planned without a value")?;
            step(
                progress,
                "setting",
                "set",
                &format!("{what} to {n}"),
                async {
                    aws.lambda
                        .put_function_concurrency()
                        .function_name(name)
                        .reserved_concurrent_executions(n)
                        .send()
                        .await
                        .ctx("PutFunctionConcurrency", name)?;
                    Ok(())
                },
            )
            .await
        }
        Action::Delete => {
            step(progress, "removing", "removed", &what, async {
                aws.lambda
                    .delete_function_concurrency()
                    .function_name(name)
                    .send()
                    .await
                    .ctx("DeleteFunctionConcurrency", name)?;
                Ok(())
            })
            .await
        }
        Action::NoChange => Ok(()),
    }
}

/// Destroy deletes the function, and its reservation with it.
pub fn plan_destroy(_: &Target, _: &Option<Live>, _: DestroyOptions, _: &mut Plan) {}

/// Nothing of its own to delete: see [`plan_destroy`]; a reservation the config
/// dropped is removed by [`apply`].
pub async fn delete(_: &Ctx<'_>, _: &Option<Live>, _: &Plan) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn ours(t: &Target, reserved: Option<i32>) -> Option<Live> {
        Some(Live {
            reserved,
            tags: t.tags.clone(),
        })
    }

    #[test]
    fn reservation_follows_the_config() {
        let mut t = testing::target();
        t.config.function.reserved_concurrency = Some(50);
        let mut p = testing::plan(&t);
        plan(&t, &ours(&t, Some(20)), &mut p);
        assert_eq!(p.changes[0].fields()[0].to_string(), "reserved 20 → 50");
        let mut p = testing::plan(&t);
        plan(&t, &ours(&t, Some(50)), &mut p);
        assert_eq!(p.changes[0].action, Action::NoChange);
        let mut p = testing::plan(&t);
        plan(&t, &None, &mut p);
        assert_eq!(p.changes[0].action, Action::Create);
        t.config.function.reserved_concurrency = None;
        let mut p = testing::plan(&t);
        plan(&t, &ours(&t, Some(50)), &mut p);
        assert_eq!(p.changes[0].action, Action::Delete);
        let mut p = testing::plan(&t);
        plan(
            &t,
            &Some(Live {
                reserved: Some(5),
                tags: BTreeMap::new(),
            }),
            &mut p,
        );
        assert!(
            p.changes.is_empty(),
            "a foreign function's reservation is left alone"
        );
    }
}
