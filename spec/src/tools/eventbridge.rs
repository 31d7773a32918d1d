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

    /// PutEvents on this bus for this source only. `events:source` is multivalued
    /// (ArrayOfString in the Service Authorization Reference for EventBridge), so a
    /// plain `StringEquals` never matches it: every source of the request must be
    /// this one (`ForAllValues`), and a request must name one (`Null` = false,
    /// since `ForAllValues` alone holds for a request without the key).
    pub(super) fn statement(&self, sid: &str, names: &Names) -> Statement {
        Statement::allow(
            sid,
            &["events:PutEvents"],
            vec![names.event_bus_arn(self.bus())],
        )
        .when(
            "ForAllValues:StringEquals",
            "events:source",
            json!([self.source]),
        )
        .when("Null", "events:source", json!("false"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Request, allows};
    use crate::iam::PolicyDocument;

    #[test]
    fn the_statement_allows_exactly_its_source_as_iam_evaluates_a_multivalued_key() {
        let text = include_str!("../../../tests/fixtures/variants/all-tools.yaml");
        let loaded = crate::load("all-tools.yaml", text, &Default::default(), &|_| None).unwrap();
        let names = Names::new(&loaded.config);
        let tool = EventBridgeTool {
            bus: None,
            source: "crm.agent".into(),
            detail_type: "LeadQualified".into(),
        };
        let doc = PolicyDocument::new(vec![tool.statement("Put", &names)]);
        let bus = names.event_bus_arn("default");
        let put = |sources: &[&str]| {
            let req = Request::new("events:PutEvents", &bus);
            let req = if sources.is_empty() {
                req
            } else {
                req.with_values("events:source", sources)
            };
            allows(&doc, &req)
        };
        assert!(put(&["crm.agent"]), "its own source is allowed");
        assert!(!put(&["other"]), "another source is denied");
        assert!(!put(&["crm.agent", "other"]), "a mixed batch is denied");
        assert!(!put(&[]), "a request without a source is denied");
    }
}
