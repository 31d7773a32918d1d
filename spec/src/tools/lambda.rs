//! The `lambda_invoke` tool kind: invoke one other Lambda function.

use serde_json::{Value, json};

use super::problem::{Context, Problem};
use super::raw::RawTool;
use crate::iam::Statement;
use crate::names::Names;
use crate::rules::is_name;

/// The kind-specific keys: (required, optional).
pub const KEYS: (&[&str], &[&str]) = (&["function"], &[]);

pub(super) fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"payload": {"type": "object"}},
        "required": ["payload"]
    })
}

pub(super) fn check(tool: &RawTool, cx: &Context, out: &mut Vec<Problem>) {
    if let Some(f) = &tool.function {
        if !is_name(f, 64) {
            out.push(Problem::error(
                &["function"],
                format!("`{f}` is not a Lambda function name"),
            ));
        } else if f == cx.own_function {
            out.push(Problem::error(
                &["function"],
                "a tool may not invoke this agent's own function (it would recurse)",
            ));
        }
    }
}

pub(super) fn statement(sid: &str, function: &str, names: &Names) -> Statement {
    Statement::allow(
        sid,
        &["lambda:InvokeFunction"],
        vec![names.lambda_function_arn(function)],
    )
}
