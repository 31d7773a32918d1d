//! The tool catalog: for each tool kind, the keys it takes, the input the model
//! sends it, and the exact IAM statements the function needs to run it. The function
//! (agent-fn) and the policy generator both read this module, so a tool can never
//! do more than its policy allows, nor be granted more than it does.

use serde_json::{Value, json};

use crate::iam::Statement;
use crate::model::{Tool, ToolKind};
use crate::names::Names;

/// The kind-specific keys of a tool: (required, optional). `kind`, `description`
/// and `input_schema` apply to every kind.
pub fn kind_keys(kind: ToolKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        ToolKind::Http => (
            &["url"],
            &[
                "method",
                "auth",
                "timeout_ms",
                "max_response_bytes",
                "allow_private_hosts",
            ],
        ),
        ToolKind::DynamodbGet | ToolKind::DynamodbPut => (&["table"], &[]),
        ToolKind::DynamodbQuery => (&["table", "partition_key"], &["index"]),
        ToolKind::S3Get | ToolKind::S3Put => (&["bucket"], &["prefix"]),
        ToolKind::SqsSend => (&["queue"], &[]),
        ToolKind::LambdaInvoke => (&["function"], &[]),
        ToolKind::EventbridgePut => (&["source", "detail_type"], &["bus"]),
    }
}

/// Names of the kind-specific keys a tool has set, for "does not apply" checks.
pub fn keys_set(tool: &Tool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut set = |name: &'static str, present: bool| {
        if present {
            out.push(name);
        }
    };
    set("method", tool.method.is_some());
    set("url", tool.url.is_some());
    set("auth", tool.auth.is_some());
    set("timeout_ms", tool.timeout_ms.is_some());
    set("max_response_bytes", tool.max_response_bytes.is_some());
    set("allow_private_hosts", tool.allow_private_hosts);
    set("table", tool.table.is_some());
    set("index", tool.index.is_some());
    set("partition_key", tool.partition_key.is_some());
    set("bucket", tool.bucket.is_some());
    set("prefix", tool.prefix.is_some());
    set("queue", tool.queue.is_some());
    set("function", tool.function.is_some());
    set("bus", tool.bus.is_some());
    set("source", tool.source.is_some());
    set("detail_type", tool.detail_type.is_some());
    out
}

/// `{name}` placeholders in an http tool's URL template, in order.
pub fn url_params(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// The input schema the model sees: the configured one, or the kind's default.
pub fn input_schema(tool: &Tool) -> Value {
    if let Some(schema) = &tool.input_schema {
        return schema.clone();
    }
    match tool.kind {
        ToolKind::Http => {
            let params = tool.url.as_deref().map(url_params).unwrap_or_default();
            let props: serde_json::Map<String, Value> = params
                .iter()
                .map(|p| (p.clone(), json!({"type": "string"})))
                .collect();
            json!({"type": "object", "properties": props, "required": params})
        }
        ToolKind::DynamodbGet => json!({
            "type": "object",
            "properties": {"key": {"type": "object", "description": "The item's primary key attributes"}},
            "required": ["key"]
        }),
        ToolKind::DynamodbQuery => json!({
            "type": "object",
            "properties": {
                "value": {"type": "string", "description": "The partition key value"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100}
            },
            "required": ["value"]
        }),
        ToolKind::DynamodbPut => json!({
            "type": "object",
            "properties": {"item": {"type": "object"}},
            "required": ["item"]
        }),
        ToolKind::S3Get => json!({
            "type": "object",
            "properties": {"key": {"type": "string", "description": "Object key, relative to the tool's prefix"}},
            "required": ["key"]
        }),
        ToolKind::S3Put => json!({
            "type": "object",
            "properties": {"key": {"type": "string"}, "body": {"type": "string"}},
            "required": ["key", "body"]
        }),
        ToolKind::SqsSend => json!({
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"]
        }),
        ToolKind::LambdaInvoke => json!({
            "type": "object",
            "properties": {"payload": {"type": "object"}},
            "required": ["payload"]
        }),
        ToolKind::EventbridgePut => json!({
            "type": "object",
            "properties": {"detail": {"type": "object"}},
            "required": ["detail"]
        }),
    }
}

/// A statement id for a tool: `Tool` + the name in CamelCase, alphanumerics only.
pub fn tool_sid(name: &str) -> String {
    let mut sid = String::from("Tool");
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                sid.push(c.to_ascii_uppercase());
            } else {
                sid.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    sid
}

/// The IAM statements one tool needs: exactly its action on exactly its resource.
pub fn statements(name: &str, tool: &Tool, names: &Names) -> Vec<Statement> {
    let sid = tool_sid(name);
    let table = || names.table_arn(tool.table.as_deref().unwrap_or_default());
    let object_arn = || {
        names.s3_objects_arn(
            tool.bucket.as_deref().unwrap_or_default(),
            tool.prefix.as_deref().unwrap_or_default(),
        )
    };
    match tool.kind {
        ToolKind::Http => Vec::new(),
        ToolKind::DynamodbGet => vec![Statement::allow(&sid, &["dynamodb:GetItem"], vec![table()])],
        ToolKind::DynamodbPut => vec![Statement::allow(&sid, &["dynamodb:PutItem"], vec![table()])],
        ToolKind::DynamodbQuery => {
            let resource = match &tool.index {
                Some(index) => format!("{}/index/{index}", table()),
                None => table(),
            };
            vec![Statement::allow(&sid, &["dynamodb:Query"], vec![resource])]
        }
        ToolKind::S3Get => vec![Statement::allow(
            &sid,
            &["s3:GetObject"],
            vec![object_arn()],
        )],
        ToolKind::S3Put => vec![Statement::allow(
            &sid,
            &["s3:PutObject"],
            vec![object_arn()],
        )],
        ToolKind::SqsSend => vec![Statement::allow(
            &sid,
            &["sqs:SendMessage"],
            vec![names.queue_arn(tool.queue.as_deref().unwrap_or_default())],
        )],
        ToolKind::LambdaInvoke => vec![Statement::allow(
            &sid,
            &["lambda:InvokeFunction"],
            vec![names.lambda_function_arn(tool.function.as_deref().unwrap_or_default())],
        )],
        ToolKind::EventbridgePut => vec![
            Statement::allow(
                &sid,
                &["events:PutEvents"],
                vec![names.event_bus_arn(tool.bus.as_deref().unwrap_or("default"))],
            )
            .when(
                "StringEquals",
                "events:source",
                json!(tool.source.clone().unwrap_or_default()),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_params_in_order() {
        assert_eq!(
            url_params("https://x.example/{a}/b/{c}?q={d}"),
            vec!["a", "c", "d"]
        );
        assert!(url_params("https://x.example/{unclosed").is_empty());
    }

    #[test]
    fn tool_sids_are_alphanumeric() {
        assert_eq!(tool_sid("get_lead"), "ToolGetLead");
        assert_eq!(tool_sid("lookup-company2"), "ToolLookupCompany2");
    }
}
