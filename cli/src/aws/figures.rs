//! The figures that say how a stack is doing, defined once for the two places
//! that show them: the CloudWatch dashboard deploy keeps (`resources::dashboard`)
//! and `claw status` (`ops::status`), which reads them with one GetMetricData.
//!
//! Lambda's own metrics (namespace `AWS/Lambda`, dimension `FunctionName`) and
//! the function's EMF metrics (namespace `claw`, dimensions `app`, `stage`,
//! `agent`, and `tool` for the per-tool ones; see agent-fn's `audit.rs`). An EMF
//! metric is one series per agent; a figure sums them, as the alarms do.

use crate::aws::target::Target;

/// The function's EMF namespace.
pub const CLAW_NAMESPACE: &str = "claw";
/// The agent dimension of runs that ended before an agent was chosen.
pub const NO_AGENT: &str = "none";

/// How a figure's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Milliseconds,
    /// Stored as micro-dollars (`CostMicroUSD`), shown as dollars.
    Usd,
}

/// One CloudWatch series: a metric with exact dimensions and a statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub stat: &'static str,
}

/// One figure: the sum of its series (most have one).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Stable key for JSON output and query ids.
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub series: Vec<Series>,
}

/// A tool of an agent: how often it was called and how long a call took.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFigures {
    pub agent: String,
    pub tool: String,
    /// `ToolCalls`, Sum.
    pub calls: Series,
    /// `ToolLatency`, Average over the calls.
    pub latency: Series,
    /// `ToolErrors`, Sum.
    pub errors: Series,
}

fn lambda(t: &Target, metric: &'static str, stat: &'static str) -> Series {
    Series {
        namespace: "AWS/Lambda",
        metric,
        dimensions: vec![("FunctionName", t.names.function.clone())],
        stat,
    }
}

/// The values of the `agent` dimension the function writes, sorted: every
/// agent, and with `with_none` the runs that named no agent.
pub fn agents(t: &Target, with_none: bool) -> Vec<String> {
    let mut agents: Vec<String> = t.config.agents.keys().cloned().collect();
    if with_none {
        agents.push(NO_AGENT.into());
    }
    agents.sort();
    agents.dedup();
    agents
}

fn per_agent(t: &Target, metric: &'static str, with_none: bool) -> Vec<Series> {
    agents(t, with_none)
        .into_iter()
        .map(|agent| Series {
            namespace: CLAW_NAMESPACE,
            metric,
            dimensions: vec![
                ("app", t.config.app.clone()),
                ("stage", t.config.stage.clone()),
                ("agent", agent),
            ],
            stat: "Sum",
        })
        .collect()
}

/// The stack's figures, in the order they are shown.
pub fn figures(t: &Target) -> Vec<Figure> {
    let one = |key, label, unit, s: Series| Figure {
        key,
        label,
        unit,
        series: vec![s],
    };
    vec![
        one(
            "invocations",
            "invocations",
            Unit::Count,
            lambda(t, "Invocations", "Sum"),
        ),
        one("errors", "errors", Unit::Count, lambda(t, "Errors", "Sum")),
        Figure {
            key: "agent_errors",
            label: "agent errors",
            unit: Unit::Count,
            series: per_agent(t, "Errors", true),
        },
        one(
            "throttles",
            "throttles",
            Unit::Count,
            lambda(t, "Throttles", "Sum"),
        ),
        one(
            "duration_p99",
            "duration p99",
            Unit::Milliseconds,
            lambda(t, "Duration", "p99"),
        ),
        Figure {
            key: "output_tokens",
            label: "output tokens",
            unit: Unit::Count,
            series: per_agent(t, "OutputTokens", false),
        },
        Figure {
            key: "cost_usd",
            label: "cost",
            unit: Unit::Usd,
            series: per_agent(t, "CostMicroUSD", false),
        },
    ]
}

/// Every configured tool of every agent (tool names are configured names only:
/// the function records no other).
pub fn tools(t: &Target) -> Vec<ToolFigures> {
    let mut out = Vec::new();
    for (agent, a) in &t.config.agents {
        for tool in &a.tools {
            let series = |metric, stat| Series {
                namespace: CLAW_NAMESPACE,
                metric,
                dimensions: vec![
                    ("app", t.config.app.clone()),
                    ("stage", t.config.stage.clone()),
                    ("agent", agent.clone()),
                    ("tool", tool.clone()),
                ],
                stat,
            };
            out.push(ToolFigures {
                agent: agent.clone(),
                tool: tool.clone(),
                calls: series("ToolCalls", "Sum"),
                latency: series("ToolLatency", "Average"),
                errors: series("ToolErrors", "Sum"),
            });
        }
    }
    out
}

/// The period of one point for a window: about 24 points, whole minutes (the
/// finest period GetMetricData keeps for data older than 15 days is 5 minutes,
/// older than 63 days one hour; claw's windows stay well inside those).
pub fn period_for(window_s: u64) -> i32 {
    let raw = window_s.div_ceil(24).max(60);
    (raw.div_ceil(60) * 60).min(86_400) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent.yaml"),
        )
        .unwrap();
        let loaded = claw_spec::load("agent.yaml", &text, &Default::default(), &|_| None).unwrap();
        Target::new(loaded.config, None)
    }

    #[test]
    fn per_agent_figures_cover_every_agent_and_errors_the_agentless_runs() {
        let t = target();
        let figs = figures(&t);
        let agents = t.config.agents.len();
        let by = |k: &str| figs.iter().find(|f| f.key == k).unwrap().series.len();
        assert_eq!(by("output_tokens"), agents);
        assert_eq!(by("cost_usd"), agents);
        assert_eq!(by("agent_errors"), agents + 1);
        assert_eq!(by("invocations"), 1);
        let tools = tools(&t);
        let configured: usize = t.config.agents.values().map(|a| a.tools.len()).sum();
        assert_eq!(tools.len(), configured);
    }

    #[test]
    fn a_window_has_about_24_points_of_whole_minutes() {
        assert_eq!(period_for(24 * 3600), 3600);
        assert_eq!(period_for(3600), 180);
        assert_eq!(period_for(60), 60);
        assert_eq!(period_for(7 * 24 * 3600), 25_200);
        assert_eq!(period_for(30 * 24 * 3600), 86_400);
    }
}
