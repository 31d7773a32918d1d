//! The function's reserved concurrency: put when agent.yaml sets
//! `function.reserved_concurrency`, removed when it no longer does. Lambda returns
//! it with GetFunction, so its live state comes from the function's read; it goes
//! with the function on destroy.
//!
//! Lambda keeps part of the account's concurrency unreserved: "You can reserve
//! up to the Unreserved account concurrency value minus 100"
//! (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html),
//! and PutFunctionConcurrency past that fails with "decreases account's
//! UnreservedConcurrentExecution below its minimum value". New accounts often
//! have a quota of 10, so the plan reads GetAccountSettings and blocks, with the
//! numbers, before any of the stack is created.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::{Ctx, DestroyOptions};
use crate::aws::Aws;
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

/// The account's concurrency, from GetAccountSettings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// The quota (`ConcurrentExecutions`).
    pub total: i32,
    /// What no function has reserved (`UnreservedConcurrentExecutions`).
    pub unreserved: i32,
}

/// The reservation (with the function) and the account's figures (read only
/// when agent.yaml reserves concurrency).
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub live: Option<Live>,
    pub account: Option<Account>,
}

/// What Lambda keeps unreserved; an account whose whole quota is smaller can
/// reserve nothing.
pub const UNRESERVED_MINIMUM: i32 = 100;

/// The account's concurrency figures, when agent.yaml reserves concurrency.
/// Credentials that may not read them get a note, and the quota goes unchecked.
pub async fn read_account(
    aws: &Aws,
    t: &Target,
) -> anyhow::Result<(Option<Account>, Option<String>)> {
    if desired(t).is_none() {
        return Ok((None, None));
    }
    match aws.lambda.get_account_settings().send().await.ctx(
        "GetAccountSettings",
        format!("account {}", t.config.account),
    ) {
        Ok(out) => Ok((
            out.account_limit.map(|l| Account {
                total: l.concurrent_executions,
                unreserved: l
                    .unreserved_concurrent_executions
                    .unwrap_or(l.concurrent_executions),
            }),
            None,
        )),
        // The quota check is a courtesy before PutFunctionConcurrency, which
        // refuses an over-quota reservation itself: a credential without
        // lambda:GetAccountSettings, or an endpoint that does not implement it
        // (moto answers 404), costs the early check, not the deploy.
        Err(e) => {
            let why = match &e.code {
                Some(_) => e.to_string(),
                None => "GetAccountSettings got no AWS answer (an endpoint without the call, \
                         such as moto)"
                    .to_string(),
            };
            Ok((
                None,
                Some(format!(
                    "function.reserved_concurrency is not checked against the account's quota: {why}"
                )),
            ))
        }
    }
}

/// Why the reservation cannot be made in this account, if it cannot.
fn quota_blocker(t: &Target, want: i32, current: Option<i32>, account: Account) -> Option<String> {
    let needed = want - current.unwrap_or(0);
    let minimum = UNRESERVED_MINIMUM.min(account.total);
    if needed <= 0 || account.unreserved - needed >= minimum {
        return None;
    }
    let most = (account.unreserved + current.unwrap_or(0) - minimum).max(0);
    Some(format!(
        "function.reserved_concurrency: {want} cannot be reserved for {function}: account {acct} has a quota of {total} concurrent executions in {region}, {unreserved} of them unreserved{mine}, and Lambda keeps at least {minimum} unreserved, so at most {most} can be reserved for this function. Lower or remove function.reserved_concurrency, or request a higher 'Concurrent executions' quota (Service Quotas → AWS Lambda, quota code L-B99A9384).",
        function = t.names.function,
        acct = t.config.account,
        total = account.total,
        region = t.config.region,
        unreserved = account.unreserved,
        mine = current
            .map(|c| format!(" (this function already holds {c})"))
            .unwrap_or_default(),
    ))
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

pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    let (live, want) = (&found.live, desired(t));
    if let (Some(n), Some(account)) = (want, found.account) {
        let current = live.as_ref().and_then(|l| l.reserved);
        plan.blockers.extend(quota_blocker(t, n, current, account));
    }
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
pub async fn apply(cx: &Ctx<'_>, _: &Found, plan: &Plan) -> anyhow::Result<()> {
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
pub fn plan_destroy(_: &Target, _: &Found, _: DestroyOptions, _: &mut Plan) {}

/// Nothing of its own to delete: see [`plan_destroy`]; a reservation the config
/// dropped is removed by [`apply`].
pub async fn delete(_: &Ctx<'_>, _: &Found, _: &Plan) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn ours(t: &Target, reserved: Option<i32>) -> Found {
        Found {
            live: Some(Live {
                reserved,
                tags: t.tags.clone(),
            }),
            account: None,
        }
    }

    fn with_account(mut found: Found, total: i32, unreserved: i32) -> Found {
        found.account = Some(Account { total, unreserved });
        found
    }

    #[test]
    fn a_reservation_that_would_leave_under_100_unreserved_is_blocked_with_the_numbers() {
        let mut t = testing::target();
        t.config.function.reserved_concurrency = Some(50);
        // A new account: quota 10, nothing reserved.
        let mut p = testing::plan(&t);
        plan(&t, &with_account(Found::default(), 10, 10), &mut p);
        assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
        let b = &p.blockers[0];
        for part in [
            "quota of 10",
            "10 of them unreserved",
            "at least 10",
            "at most 0",
            "L-B99A9384",
        ] {
            assert!(b.contains(part), "{part:?} missing from {b}");
        }
        // The default quota with room: no blocker.
        let mut p = testing::plan(&t);
        plan(&t, &with_account(Found::default(), 1000, 1000), &mut p);
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
        // 140 unreserved: 50 more would leave 90 < 100.
        let mut p = testing::plan(&t);
        plan(&t, &with_account(Found::default(), 1000, 140), &mut p);
        assert!(p.blockers[0].contains("at most 40"), "{:?}", p.blockers);
        // What this function already holds counts: 30 held, 20 more leaves 120.
        let mut p = testing::plan(&t);
        plan(&t, &with_account(ours(&t, Some(30)), 1000, 140), &mut p);
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
        // Lowering a reservation never needs room.
        let mut p = testing::plan(&t);
        plan(&t, &with_account(ours(&t, Some(80)), 1000, 0), &mut p);
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
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
        plan(&t, &Found::default(), &mut p);
        assert_eq!(p.changes[0].action, Action::Create);
        t.config.function.reserved_concurrency = None;
        let mut p = testing::plan(&t);
        plan(&t, &ours(&t, Some(50)), &mut p);
        assert_eq!(p.changes[0].action, Action::Delete);
        let mut p = testing::plan(&t);
        plan(
            &t,
            &Found {
                live: Some(Live {
                    reserved: Some(5),
                    tags: BTreeMap::new(),
                }),
                account: None,
            },
            &mut p,
        );
        assert!(
            p.changes.is_empty(),
            "a foreign function's reservation is left alone"
        );
    }
}
