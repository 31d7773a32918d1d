//! The one audit line and the one EMF metrics line every invocation writes to
//! stdout (CloudWatch Logs). Neither ever carries a secret, a message or a model
//! reply: only ids, counters and short error categories.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use crate::deadline::now_epoch_ms;
use crate::trace::{Span, SpanKind};

#[derive(Debug, Default, Clone, Serialize)]
pub struct Audit {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub request_id: String,
    /// `apigw`, `direct`, `sqs`, `eventbridge`, or `unknown`.
    pub source: &'static str,
    /// A configured agent name, never caller input that named no agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// ok | error | limit | deadline | max_tokens | refusal | bad_request | over_budget
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The HTTP-style status of the answer.
    pub status: u16,
    pub duration_ms: u64,
    pub turns: u32,
    pub tool_calls: u32,
    /// Tools the Messages API ran on MCP servers; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub mcp_calls: u32,
    /// Uncached input tokens (the API's `input_tokens`).
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    /// The cache writes by TTL (their sum is `cache_creation_input_tokens`).
    pub cache_write_5m_tokens: u64,
    pub cache_write_1h_tokens: u64,
    /// What the model calls cost, in USD, when the model has a price.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "micro_usd")]
    pub cost_usd: Option<f64>,
    pub model_latency_ms: u64,
    /// From the last reply's `anthropic-ratelimit-*` headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit_requests_remaining: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit_tokens_remaining: Option<u64>,
    /// Time waited for a spent rate limit to reset before a call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit_wait_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_records: Option<usize>,
    /// A short category such as `model_http_401` or `session_conflict`; absent on
    /// success, so filtering the log on `error` finds only failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The timed model and tool calls of the invocation's runs, with the agent
    /// that made them: the source of the per-tool metrics and the X-Ray
    /// subsegments. Not part of the audit line.
    #[serde(skip)]
    pub spans: Vec<(String, Span)>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn micro_usd<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(usd) => s.serialize_f64((usd * 1_000_000.0).round() / 1_000_000.0),
        None => s.serialize_none(),
    }
}

impl Audit {
    pub fn new(request_id: &str) -> Audit {
        Audit {
            kind: "audit",
            request_id: request_id.to_string(),
            source: "unknown",
            outcome: "ok",
            status: 200,
            ..Audit::default()
        }
    }

    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// CloudWatch Embedded Metric Format: namespace `claw`, dimensions app/stage/agent.
pub fn emf_line(app: &str, stage: &str, a: &Audit) -> String {
    let count = |name: &str| json!({"Name": name, "Unit": "Count"});
    let ms = |name: &str| json!({"Name": name, "Unit": "Milliseconds"});
    let mut metrics = vec![
        count("Invocations"),
        count("Errors"),
        count("ToolCalls"),
        count("InputTokens"),
        count("OutputTokens"),
        count("CacheCreationInputTokens"),
        count("CacheReadInputTokens"),
        count("CacheWrite5mInputTokens"),
        count("CacheWrite1hInputTokens"),
        ms("ModelLatency"),
        ms("Duration"),
    ];
    // Only a known cost is a data point: a missing one is no point at all, not 0.
    if a.cost_usd.is_some() {
        metrics.push(count("CostMicroUSD"));
    }
    let mut line = json!({
        "_aws": {
            "Timestamp": now_epoch_ms(),
            "CloudWatchMetrics": [{
                "Namespace": "claw",
                "Dimensions": [["app", "stage", "agent"]],
                "Metrics": metrics,
            }]
        },
        "app": app,
        "stage": stage,
        "agent": a.agent.as_deref().unwrap_or("none"),
        "request_id": a.request_id,
        "Invocations": 1,
        "Errors": u32::from(a.outcome == "error"),
        "ToolCalls": a.tool_calls,
        "InputTokens": a.input_tokens,
        "OutputTokens": a.output_tokens,
        "CacheCreationInputTokens": a.cache_creation_input_tokens,
        "CacheReadInputTokens": a.cache_read_input_tokens,
        "CacheWrite5mInputTokens": a.cache_write_5m_tokens,
        "CacheWrite1hInputTokens": a.cache_write_1h_tokens,
        "ModelLatency": a.model_latency_ms,
        "Duration": a.duration_ms,
    });
    if let Some(usd) = a.cost_usd {
        line["CostMicroUSD"] = json!((usd * 1_000_000.0).round() as u64);
    }
    line.to_string()
}

/// The most values one EMF metric may carry in an array.
const MAX_EMF_VALUES: usize = 100;

/// Per-tool metrics: one EMF line per agent and tool that ran (and more when a
/// tool ran over 100 times), namespace `claw`, dimensions `[app, stage, agent,
/// tool]`: `ToolCalls` (Count), `ToolLatency` (Milliseconds, one value per call)
/// and `ToolErrors` (Count).
///
/// The dimension `tool` is a single value per document, so each tool gets its own
/// line; `ToolLatency` is an array of values, one sample per call, which the EMF
/// specification allows (at most 100 values per metric) so averages and
/// percentiles are per call. See "Specification: Embedded metric format",
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
/// Tool names are configured names only: the loop never runs (so never records)
/// a tool the agent does not have.
pub fn tool_emf_lines(app: &str, stage: &str, a: &Audit) -> Vec<String> {
    let mut per_tool: BTreeMap<(&str, &str), Vec<&Span>> = BTreeMap::new();
    for (agent, span) in &a.spans {
        if span.kind == SpanKind::Tool {
            per_tool
                .entry((agent.as_str(), span.name.as_str()))
                .or_default()
                .push(span);
        }
    }
    let mut lines = Vec::new();
    for ((agent, tool), spans) in per_tool {
        for chunk in spans.chunks(MAX_EMF_VALUES) {
            let latencies: Vec<u64> = chunk
                .iter()
                .map(|s| s.duration().as_millis() as u64)
                .collect();
            lines.push(
                json!({
                    "_aws": {
                        "Timestamp": now_epoch_ms(),
                        "CloudWatchMetrics": [{
                            "Namespace": "claw",
                            "Dimensions": [["app", "stage", "agent", "tool"]],
                            "Metrics": [
                                {"Name": "ToolCalls", "Unit": "Count"},
                                {"Name": "ToolLatency", "Unit": "Milliseconds"},
                                {"Name": "ToolErrors", "Unit": "Count"},
                            ]
                        }]
                    },
                    "app": app,
                    "stage": stage,
                    "agent": agent,
                    "tool": tool,
                    "request_id": a.request_id,
                    "ToolCalls": chunk.len(),
                    "ToolLatency": latencies,
                    "ToolErrors": chunk.iter().filter(|s| !s.ok).count(),
                })
                .to_string(),
            );
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_and_emf_lines_are_single_json_lines() {
        let mut a = Audit::new("req-1");
        a.agent = Some("lead-qualifier".into());
        a.tool_calls = 2;
        a.outcome = "error";
        let line = a.line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "audit");
        assert_eq!(v["tool_calls"], 2);
        let emf: serde_json::Value = serde_json::from_str(&emf_line("app", "dev", &a)).unwrap();
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "claw");
        assert_eq!(emf["agent"], "lead-qualifier");
        assert_eq!(emf["Errors"], 1);
        assert_eq!(emf["ToolCalls"], 2);
        // Every metric named in the directive has a value at the top level.
        for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            assert!(emf[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
    }

    #[test]
    fn tool_metrics_are_one_line_per_agent_and_tool() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms);
        let mut a = Audit::new("req-1");
        a.agent = Some("lead-qualifier".into());
        let q = |s: Span| ("lead-qualifier".to_string(), s);
        a.spans = vec![
            q(Span::model(at(0), at(900), true)),
            q(Span::tool("get_lead", at(900), at(1080), true)),
            q(Span::tool("lookup_company", at(900), at(950), false)),
            q(Span::tool("get_lead", at(2000), at(2020), false)),
            (
                "other".to_string(),
                Span::tool("get_lead", at(0), at(5), true),
            ),
        ];
        let lines: Vec<serde_json::Value> = tool_emf_lines("app", "dev", &a)
            .iter()
            .map(|l| {
                assert!(!l.contains('\n'));
                serde_json::from_str(l).unwrap()
            })
            .collect();
        let keys: Vec<(String, String)> = lines
            .iter()
            .map(|l| {
                (
                    l["agent"].as_str().unwrap().into(),
                    l["tool"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("lead-qualifier".into(), "get_lead".into()),
                ("lead-qualifier".into(), "lookup_company".into()),
                ("other".into(), "get_lead".into()),
            ]
        );
        let get_lead = &lines[0];
        let directive = &get_lead["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "claw");
        assert_eq!(
            directive["Dimensions"],
            json!([["app", "stage", "agent", "tool"]])
        );
        assert_eq!(get_lead["ToolCalls"], 2);
        assert_eq!(get_lead["ToolLatency"], json!([180, 20]));
        assert_eq!(get_lead["ToolErrors"], 1);
        assert_eq!(lines[1]["ToolErrors"], 1);
        assert_eq!(lines[2]["ToolLatency"], json!([5]));
        // Every metric in the directive has its value, and every dimension its key.
        for l in &lines {
            let d = &l["_aws"]["CloudWatchMetrics"][0];
            for m in d["Metrics"].as_array().unwrap() {
                assert!(!l[m["Name"].as_str().unwrap()].is_null(), "{m}");
            }
            for k in d["Dimensions"][0].as_array().unwrap() {
                assert!(l[k.as_str().unwrap()].is_string(), "{k}");
            }
        }
        // The spans stay out of the audit line.
        assert!(!a.line().contains("spans"));
        assert!(!a.line().contains("get_lead"));
    }

    #[test]
    fn a_tool_called_over_100_times_splits_into_lines_of_100_values() {
        let t = std::time::UNIX_EPOCH;
        let mut a = Audit::new("req-1");
        a.spans = (0..230)
            .map(|_| ("a".to_string(), Span::tool("t", t, t, true)))
            .collect();
        let counts: Vec<u64> = tool_emf_lines("app", "dev", &a)
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(
                    v["ToolLatency"].as_array().unwrap().len() as u64,
                    v["ToolCalls"].as_u64().unwrap()
                );
                v["ToolCalls"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(counts, [100, 100, 30]);
    }
}
