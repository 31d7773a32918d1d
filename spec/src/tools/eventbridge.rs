//! The `eventbridge_put` tool kind: PutEvents to one bus, with one fixed source.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::problem::Problem;
use super::raw::RawTool;
use crate::iam::Statement;
use crate::names::Names;

/// The kind-specific keys: (required, optional).
pub const KEYS: (&[&str], &[&str]) = (&["source", "detail_type"], &["bus"]);

/// A validated eventbridge_put tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBridgeTool {
    /// The bus; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// The event `source`; the role may put only this source.
    pub source: String,
    /// The event `detail-type`.
    pub detail_type: String,
}

impl EventBridgeTool {
    pub(super) fn from_raw(raw: &RawTool) -> Option<EventBridgeTool> {
        Some(EventBridgeTool {
            bus: raw.bus.clone(),
            source: raw.source.clone()?,
            detail_type: raw.detail_type.clone()?,
        })
    }

    /// The bus name, `default` when none is set.
    pub fn bus(&self) -> &str {
        self.bus.as_deref().unwrap_or("default")
    }

    pub(super) fn statement(&self, sid: &str, names: &Names) -> Statement {
        Statement::allow(
            sid,
            &["events:PutEvents"],
            vec![names.event_bus_arn(self.bus())],
        )
        .when("StringEquals", "events:source", json!(self.source))
    }
}

pub(super) fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"detail": {"type": "object"}},
        "required": ["detail"]
    })
}

pub(super) fn check(tool: &RawTool, out: &mut Vec<Problem>) {
    if let Some(b) = &tool.bus
        && (!b
            .bytes()
            .all(|x| x.is_ascii_alphanumeric() || b"._-/".contains(&x))
            || b.is_empty())
    {
        out.push(Problem::error(
            &["bus"],
            format!("`{b}` is not an event bus name"),
        ));
    }
    if let Some(s) = &tool.source
        && (s.starts_with("aws.") || s.trim().is_empty())
    {
        out.push(Problem::error(
            &["source"],
            "the source must be set and must not start with `aws.` (reserved)",
        ));
    }
}
