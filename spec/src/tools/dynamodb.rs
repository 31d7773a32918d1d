//! The DynamoDB tool kinds: `dynamodb_get`, `dynamodb_query` and `dynamodb_put`,
//! each one action on one table (or one of its indexes).

use serde_json::{Value, json};

use super::problem::Problem;
use super::raw::RawTool;
use crate::iam::Statement;
use crate::names::Names;
use crate::rules::is_table_name;

/// The kind-specific keys of `dynamodb_get` and `dynamodb_put`: (required, optional).
pub const ITEM_KEYS: (&[&str], &[&str]) = (&["table"], &[]);
/// The kind-specific keys of `dynamodb_query`: (required, optional).
pub const QUERY_KEYS: (&[&str], &[&str]) = (&["table", "partition_key"], &["index"]);

pub(super) fn get_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"key": {"type": "object", "description": "The item's primary key attributes"}},
        "required": ["key"]
    })
}

pub(super) fn query_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "value": {"type": "string", "description": "The partition key value"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100}
        },
        "required": ["value"]
    })
}

pub(super) fn put_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"item": {"type": "object"}},
        "required": ["item"]
    })
}

pub(super) fn check(tool: &RawTool, out: &mut Vec<Problem>) {
    if let Some(t) = &tool.table
        && !is_table_name(t)
    {
        out.push(Problem::error(
            &["table"],
            format!("`{t}` is not a DynamoDB table name"),
        ));
    }
    if let Some(i) = &tool.index
        && !is_table_name(i)
    {
        out.push(Problem::error(
            &["index"],
            format!("`{i}` is not a DynamoDB index name"),
        ));
    }
}

/// `action` on the table, or on the index when one is named.
pub(super) fn statement(
    sid: &str,
    action: &str,
    table: &str,
    index: Option<&str>,
    names: &Names,
) -> Statement {
    let resource = match index {
        Some(index) => format!("{}/index/{index}", names.table_arn(table)),
        None => names.table_arn(table),
    };
    Statement::allow(sid, &[action], vec![resource])
}
