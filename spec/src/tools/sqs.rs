//! The `sqs_send` tool kind: SendMessage to one queue.

use serde_json::{Value, json};

use super::problem::Problem;
use super::raw::RawTool;
use crate::iam::Statement;
use crate::names::Names;
use crate::rules::is_name;

/// The kind-specific keys: (required, optional).
pub const KEYS: (&[&str], &[&str]) = (&["queue"], &[]);

pub(super) fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"]
    })
}

pub(super) fn check(tool: &RawTool, out: &mut Vec<Problem>) {
    if let Some(q) = &tool.queue {
        let stem = q.strip_suffix(".fifo").unwrap_or(q);
        if !is_name(stem, 80) {
            out.push(Problem::error(
                &["queue"],
                format!("`{q}` is not an SQS queue name"),
            ));
        }
    }
}

pub(super) fn statement(sid: &str, queue: &str, names: &Names) -> Statement {
    Statement::allow(sid, &["sqs:SendMessage"], vec![names.queue_arn(queue)])
}
