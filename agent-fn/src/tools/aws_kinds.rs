//! The AWS tool kinds. Each does exactly the one call its IAM statement in
//! `claw_spec::tools::statements` allows, on exactly the configured resource; the
//! model chooses only the data.

use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::tools::{S3Tool, ToolSpec};
use serde_json::{Value, json};

use super::ddb_json;
use crate::aws::{Aws, describe, queue_url};

/// Largest S3 object or Lambda payload read back for the model.
pub const MAX_READ_BYTES: usize = 262_144;
const DEFAULT_QUERY_LIMIT: i32 = 25;
const MAX_QUERY_LIMIT: i32 = 100;

/// Where the calls go: the region and account the config names.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

pub async fn call(
    aws: &Aws,
    target: &Target<'_>,
    tool: &ToolSpec,
    input: &Value,
) -> Result<Value, String> {
    let obj = input.as_object().ok_or("the input must be a JSON object")?;
    let need = |key: &str| -> Result<&Value, String> {
        obj.get(key)
            .ok_or_else(|| format!("the input is missing `{key}`"))
    };
    match tool {
        ToolSpec::Http(_) | ToolSpec::Mcp(_) => Err("not an AWS tool".into()),
        ToolSpec::DynamodbGet { table } => {
            let key = need("key")?.as_object().ok_or("`key` must be an object")?;
            let out = aws
                .dynamodb()
                .await
                .get_item()
                .table_name(table)
                .set_key(Some(ddb_json::to_item(key)?))
                .send()
                .await
                .map_err(|e| format!("GetItem failed: {}", describe(&e)))?;
            Ok(match out.item() {
                Some(item) => json!({"found": true, "item": ddb_json::from_item(item)}),
                None => json!({"found": false, "item": null}),
            })
        }
        ToolSpec::DynamodbQuery {
            table,
            partition_key,
            index,
        } => {
            let value = ddb_json::to_attr(need("value")?)?;
            if !matches!(value, AttributeValue::S(_) | AttributeValue::N(_)) {
                return Err("`value` must be a string or a number".into());
            }
            let limit = match obj.get("limit") {
                None | Some(Value::Null) => DEFAULT_QUERY_LIMIT,
                Some(v) => v
                    .as_i64()
                    .filter(|n| (1..=i64::from(MAX_QUERY_LIMIT)).contains(n))
                    .ok_or(format!(
                        "`limit` must be an integer from 1 to {MAX_QUERY_LIMIT}"
                    ))? as i32,
            };
            let out = aws
                .dynamodb()
                .await
                .query()
                .table_name(table)
                .set_index_name(index.clone())
                .key_condition_expression("#pk = :v")
                .expression_attribute_names("#pk", partition_key)
                .expression_attribute_values(":v", value)
                .limit(limit)
                .send()
                .await
                .map_err(|e| format!("Query failed: {}", describe(&e)))?;
            let items: Vec<Value> = out.items().iter().map(ddb_json::from_item).collect();
            Ok(
                json!({"count": items.len(), "items": items, "more": out.last_evaluated_key().is_some()}),
            )
        }
        ToolSpec::DynamodbPut { table } => {
            let item = need("item")?
                .as_object()
                .ok_or("`item` must be an object")?;
            aws.dynamodb()
                .await
                .put_item()
                .table_name(table)
                .set_item(Some(ddb_json::to_item(item)?))
                .send()
                .await
                .map_err(|e| format!("PutItem failed: {}", describe(&e)))?;
            Ok(json!({"ok": true}))
        }
        ToolSpec::S3Get(s3) => {
            let key = object_key(s3, need("key")?)?;
            let out = aws
                .s3()
                .await
                .get_object()
                .bucket(&s3.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| format!("GetObject failed: {}", describe(&e)))?;
            let content_type = out.content_type().map(str::to_string);
            let mut body = out.body;
            let mut buf = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = body
                .try_next()
                .await
                .map_err(|e| format!("reading the object failed: {}", describe(&e)))?
            {
                let room = MAX_READ_BYTES - buf.len();
                if chunk.len() > room {
                    buf.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(json!({
                "key": key,
                "content_type": content_type,
                "body": String::from_utf8_lossy(&buf),
                "truncated": truncated,
            }))
        }
        ToolSpec::S3Put(s3) => {
            let key = object_key(s3, need("key")?)?;
            let body = need("body")?.as_str().ok_or("`body` must be a string")?;
            aws.s3()
                .await
                .put_object()
                .bucket(&s3.bucket)
                .key(&key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .map_err(|e| format!("PutObject failed: {}", describe(&e)))?;
            Ok(json!({"ok": true, "key": key}))
        }
        ToolSpec::SqsSend { queue } => {
            let message = match need("message")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let out = aws
                .sqs()
                .await
                .send_message()
                .queue_url(queue_url(target.region, target.account, queue))
                .message_body(message)
                .send()
                .await
                .map_err(|e| format!("SendMessage failed: {}", describe(&e)))?;
            Ok(json!({"message_id": out.message_id()}))
        }
        ToolSpec::LambdaInvoke { function } => {
            let payload = serde_json::to_vec(need("payload")?).map_err(|e| e.to_string())?;
            let out = aws
                .lambda()
                .await
                .invoke()
                .function_name(function)
                .payload(aws_sdk_lambda::primitives::Blob::new(payload))
                .send()
                .await
                .map_err(|e| format!("Invoke failed: {}", describe(&e)))?;
            let raw = out.payload().map(|b| b.as_ref()).unwrap_or_default();
            let truncated = raw.len() > MAX_READ_BYTES;
            let raw = &raw[..raw.len().min(MAX_READ_BYTES)];
            let result = serde_json::from_slice::<Value>(raw)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into_owned()));
            if let Some(fe) = out.function_error() {
                return Err(json!({"function_error": fe, "payload": result}).to_string());
            }
            Ok(json!({"status": out.status_code(), "payload": result, "truncated": truncated}))
        }
        ToolSpec::EventbridgePut(eb) => {
            let detail = need("detail")?;
            if !detail.is_object() {
                return Err("`detail` must be an object".into());
            }
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source(&eb.source)
                .detail_type(&eb.detail_type)
                .detail(detail.to_string())
                .event_bus_name(eb.bus())
                .build();
            let out = aws
                .events()
                .await
                .put_events()
                .entries(entry)
                .send()
                .await
                .map_err(|e| format!("PutEvents failed: {}", describe(&e)))?;
            if out.failed_entry_count() > 0 {
                let code = out
                    .entries()
                    .first()
                    .and_then(|e| e.error_code())
                    .unwrap_or("unknown");
                return Err(format!("PutEvents rejected the event ({code})"));
            }
            let id = out.entries().first().and_then(|e| e.event_id());
            Ok(json!({"ok": true, "event_id": id}))
        }
    }
}

/// The full object key for a model-supplied key: always under the tool's prefix.
/// Absolute keys, `..` segments and control characters are refused rather than
/// normalised, so the model cannot probe outside the prefix.
pub fn object_key(tool: &S3Tool, key: &Value) -> Result<String, String> {
    let key = key.as_str().ok_or("`key` must be a string")?;
    if key.is_empty() || key.len() > 900 {
        return Err("`key` must be 1 to 900 characters".into());
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err("`key` must be relative to the tool's prefix".into());
    }
    if key.chars().any(char::is_control) {
        return Err("`key` must not contain control characters".into());
    }
    if key.split(['/', '\\']).any(|seg| seg == ".." || seg == ".") {
        return Err("`key` must not contain `.` or `..` segments".into());
    }
    Ok(format!("{}{key}", tool.prefix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_tool(prefix: &str) -> S3Tool {
        S3Tool {
            bucket: "b".into(),
            prefix: Some(prefix.into()),
        }
    }

    #[test]
    fn object_keys_stay_under_the_prefix() {
        let t = s3_tool("reports/");
        assert_eq!(
            object_key(&t, &json!("2024/q1.csv")).unwrap(),
            "reports/2024/q1.csv"
        );
        for bad in [
            json!("../secrets.txt"),
            json!("a/../../b"),
            json!("/etc/passwd"),
            json!("\\x"),
            json!("a/./b"),
            json!(""),
            json!("a\nb"),
            json!(5),
        ] {
            assert!(object_key(&t, &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queue_urls_follow_the_partition() {
        assert_eq!(
            queue_url("ap-southeast-2", "123456789012", "q"),
            "https://sqs.ap-southeast-2.amazonaws.com/123456789012/q"
        );
        assert_eq!(
            queue_url("cn-north-1", "123456789012", "q"),
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"
        );
    }
}
