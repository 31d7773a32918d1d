//! The one audit line and the one EMF metrics line every invocation writes to
//! stdout (CloudWatch Logs). Neither ever carries a secret, a message or a model
//! reply: only ids, counters and short error categories.

use serde::Serialize;
use serde_json::json;

use crate::deadline::now_epoch_ms;

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
        "ModelLatency": a.model_latency_ms,
        "Duration": a.duration_ms,
    });
    if let Some(usd) = a.cost_usd {
        line["CostMicroUSD"] = json!((usd * 1_000_000.0).round() as u64);
    }
    line.to_string()
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
}
