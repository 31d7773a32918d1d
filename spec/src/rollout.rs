//! `rollout:`: how a change reaches callers. With it, every caller (the HTTP
//! API, the function URL, the job queue) invokes the alias [`ALIAS`], a change
//! is published as a new version, and the alias's traffic moves to it step by
//! step while claw watches the gate alarms and the new version's own errors.
//! Without it, a deploy replaces the function's code for every caller at once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The alias every caller invokes when `rollout:` is set.
pub const ALIAS: &str = "live";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// `all_at_once` (publish and move the alias), `canary` (a share of the
    /// traffic for a while, then all of it) or `linear` (equal steps).
    #[serde(default)]
    pub strategy: Strategy,
    /// The canary step: `{ percent: 10, minutes: 5 }` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The linear steps: `{ percent: 25, every_minutes: 2 }` (default 10 every 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<Linear>,
    /// Which of claw's alarms stop a rollout when they are in ALARM (default
    /// `errors`, `agent_errors`, `duration_p99`).
    #[serde(default = "default_gate")]
    pub gate: Vec<Gate>,
    /// Invocations the new version must have served before a step may promote
    /// (default 0: time alone promotes).
    #[serde(default)]
    pub min_invocations: u32,
    /// Published versions kept besides the alias's (default 3); older ones are
    /// deleted after a rollout.
    #[serde(default = "default_keep")]
    pub keep_versions: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    AllAtOnce,
    #[default]
    Canary,
    Linear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// The new version's share of traffic during the canary, 1 to 99.
    pub percent: u32,
    /// How long the canary runs before all traffic moves, 1 to 1440.
    pub minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// How much traffic each step adds, 1 to 99.
    pub percent: u32,
    /// Minutes between steps, 1 to 1440.
    pub every_minutes: u32,
}

/// An alarm that can stop a rollout, by the name of the figure it watches.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    Errors,
    AgentErrors,
    Throttles,
    DurationP99,
    Invocations,
    OutputTokens,
    Cost,
}

impl Gate {
    /// The suffix of the alarm's name (`{app}-{stage}-SUFFIX`).
    pub fn alarm_suffix(self) -> &'static str {
        match self {
            Gate::Errors => "errors",
            Gate::AgentErrors => "agent-errors",
            Gate::Throttles => "throttles",
            Gate::DurationP99 => "duration-p99",
            Gate::Invocations => "invocations-per-5min",
            Gate::OutputTokens => "output-tokens-per-hour",
            Gate::Cost => "cost-per-day",
        }
    }

    /// The name agent.yaml uses.
    pub fn key(self) -> &'static str {
        match self {
            Gate::Errors => "errors",
            Gate::AgentErrors => "agent_errors",
            Gate::Throttles => "throttles",
            Gate::DurationP99 => "duration_p99",
            Gate::Invocations => "invocations",
            Gate::OutputTokens => "output_tokens",
            Gate::Cost => "cost",
        }
    }
}

fn default_gate() -> Vec<Gate> {
    vec![Gate::Errors, Gate::AgentErrors, Gate::DurationP99]
}

fn default_keep() -> u32 {
    3
}

/// The resources of the deployer's function statements: the function, and with
/// `rollout:` its versions and alias too (`function:NAME:*`: deleting old
/// versions, the alias's own resource policy and function URL); and the
/// `lambda:FunctionArn` an event source mapping may name: the function, or with
/// `rollout:` the alias (and the function while a mapping moves to it).
pub fn deployer_resources(
    rollout: bool,
    names: &crate::names::Names,
) -> (Vec<String>, serde_json::Value) {
    let fn_arn = names.function_arn();
    if !rollout {
        return (vec![fn_arn.clone()], serde_json::json!(fn_arn));
    }
    (
        vec![fn_arn.clone(), names.function_qualified_arns()],
        serde_json::json!([fn_arn, names.invoked_arn()]),
    )
}

/// What the deployer needs to roll out: publish versions and move the alias
/// between them (old versions are deleted with `lambda:DeleteFunction`, which
/// ManageFunction grants on the same resources).
pub fn deployer_statement(fn_arns: &[String]) -> crate::iam::Statement {
    crate::iam::Statement::allow(
        "PublishVersionsAndMoveAlias",
        &[
            "lambda:PublishVersion",
            "lambda:ListVersionsByFunction",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            "lambda:DeleteAlias",
        ],
        fn_arns.to_vec(),
    )
}

/// One step of a rollout: the new version's share of traffic (100 = promoted)
/// and how long it is held before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    pub percent: u32,
    pub minutes: u32,
}

impl Rollout {
    /// The steps before the last (which is always 100%): none for
    /// `all_at_once`, one for `canary`, `percent`, `2 × percent`, … below 100
    /// for `linear`.
    pub fn steps(&self) -> Vec<Step> {
        match self.strategy {
            Strategy::AllAtOnce => Vec::new(),
            Strategy::Canary => {
                let c = self.canary.unwrap_or(Canary {
                    percent: 10,
                    minutes: 5,
                });
                vec![Step {
                    percent: c.percent,
                    minutes: c.minutes,
                }]
            }
            Strategy::Linear => {
                let l = self.linear.unwrap_or(Linear {
                    percent: 10,
                    every_minutes: 1,
                });
                let step = l.percent.max(1);
                (1..)
                    .map(|i| i * step)
                    .take_while(|p| *p < 100)
                    .map(|percent| Step {
                        percent,
                        minutes: l.every_minutes,
                    })
                    .collect()
            }
        }
    }

    /// Minutes from the first shift to the last step's end.
    pub fn total_minutes(&self) -> u32 {
        self.steps().iter().map(|s| s.minutes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(json: &str) -> Rollout {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn canary_is_one_step_and_linear_climbs_below_a_hundred() {
        let r = rollout(r#"{"strategy": "canary", "canary": {"percent": 10, "minutes": 5}}"#);
        assert_eq!(
            r.steps(),
            [Step {
                percent: 10,
                minutes: 5
            }]
        );
        let r = rollout(r#"{"strategy": "linear", "linear": {"percent": 25, "every_minutes": 2}}"#);
        let shares: Vec<u32> = r.steps().iter().map(|s| s.percent).collect();
        assert_eq!(shares, [25, 50, 75]);
        assert_eq!(r.total_minutes(), 6);
        let r = rollout(r#"{"strategy": "linear", "linear": {"percent": 30, "every_minutes": 1}}"#);
        let shares: Vec<u32> = r.steps().iter().map(|s| s.percent).collect();
        assert_eq!(shares, [30, 60, 90]);
        assert!(rollout(r#"{"strategy": "all_at_once"}"#).steps().is_empty());
    }

    #[test]
    fn defaults_gate_on_errors_and_keep_three_versions() {
        let r = rollout("{}");
        assert_eq!(r.strategy, Strategy::Canary);
        assert_eq!(r.gate, [Gate::Errors, Gate::AgentErrors, Gate::DurationP99]);
        assert_eq!(r.keep_versions, 3);
        assert_eq!(r.min_invocations, 0);
        assert_eq!(r.steps()[0].percent, 10);
    }
}
