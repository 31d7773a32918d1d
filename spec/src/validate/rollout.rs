//! The `rollout` section.

use super::check::{Check, key, p};
use crate::rollout::{Gate, Strategy};

pub(super) fn rollout(c: &mut Check) {
    let cfg = c.config;
    let Some(r) = &cfg.rollout else {
        return;
    };
    if let Some(can) = &r.canary {
        c.range(
            p(&["rollout", "canary", "percent"]),
            can.percent.into(),
            1,
            99,
            " percent",
        );
        c.range(
            p(&["rollout", "canary", "minutes"]),
            can.minutes.into(),
            1,
            1440,
            " minutes",
        );
        if r.strategy != Strategy::Canary {
            c.error(
                p(&["rollout", "canary"]),
                "`canary` is for `strategy: canary`; remove it or change the strategy",
            );
        }
    }
    if let Some(lin) = &r.linear {
        c.range(
            p(&["rollout", "linear", "percent"]),
            lin.percent.into(),
            1,
            99,
            " percent",
        );
        c.range(
            p(&["rollout", "linear", "every_minutes"]),
            lin.every_minutes.into(),
            1,
            1440,
            " minutes",
        );
        if r.strategy != Strategy::Linear {
            c.error(
                p(&["rollout", "linear"]),
                "`linear` is for `strategy: linear`; remove it or change the strategy",
            );
        }
    }
    c.range(
        p(&["rollout", "keep_versions"]),
        r.keep_versions.into(),
        0,
        100,
        "",
    );
    c.range(
        p(&["rollout", "min_invocations"]),
        r.min_invocations.into(),
        0,
        1_000_000,
        "",
    );
    if r.strategy == Strategy::AllAtOnce && r.min_invocations > 0 {
        c.warn(
            p(&["rollout", "min_invocations"]),
            "`all_at_once` has no step to hold back, so `min_invocations` has no effect",
        );
    }
    let a = &cfg.alarms;
    for (i, g) in r.gate.iter().enumerate() {
        let missing = match g {
            Gate::Invocations => a
                .invocations_per_5min
                .is_none()
                .then_some("invocations_per_5min"),
            Gate::OutputTokens => a
                .output_tokens_per_hour
                .is_none()
                .then_some("output_tokens_per_hour"),
            Gate::Cost => a.cost_usd_per_day.is_none().then_some("cost_usd_per_day"),
            _ => None,
        };
        if let Some(k) = missing {
            let mut path = p(&["rollout", "gate"]);
            path.push(crate::yaml::PathSeg::Index(i));
            c.error(
                path,
                format!(
                    "gate `{}` names an alarm this stage does not have: set `alarms.{k}`, or remove it from the gate",
                    g.key()
                ),
            );
        }
    }
    if r.gate.is_empty() && r.strategy != Strategy::AllAtOnce {
        c.warn(
            vec![key("rollout"), key("gate")],
            "no gate: only the new version's own error rate can stop the rollout",
        );
    }
}
