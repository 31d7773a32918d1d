//! Conversation memory in DynamoDB: one item per `session_id` holding the history
//! (a JSON string), a `version` and a `ttl` (epoch seconds). Writes are conditional
//! on the version read, so two concurrent invocations on one session cannot
//! silently lose a turn: the second one gets a conflict and says so.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::storage::{SESSIONS_KEY, TTL_ATTR, session};

use crate::anthropic::{Message, Role};
use crate::aws::describe;
use crate::deadline::now_epoch_s;

/// History kept under DynamoDB's 400 KB item limit with room for the other attributes.
pub const MAX_HISTORY_BYTES: usize = 300_000;

#[derive(Debug, Default)]
pub struct Loaded {
    pub messages: Vec<Message>,
    /// 0 when the session is new.
    pub version: u64,
    /// The stored history could not be read and was dropped (logged by the caller).
    pub discarded: bool,
}

#[derive(Debug)]
pub enum SaveError {
    /// Another invocation wrote the session since it was read.
    Conflict,
    Other(String),
}

pub async fn load(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    session_id: &str,
) -> Result<Loaded, String> {
    let out = ddb
        .get_item()
        .table_name(table)
        .key(SESSIONS_KEY, AttributeValue::S(session_id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| format!("reading the session: {}", describe(&e)))?;
    let Some(item) = out.item() else {
        return Ok(Loaded::default());
    };
    let version = match item.get(session::VERSION) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    let parsed = match item.get(session::HISTORY) {
        Some(AttributeValue::S(s)) => serde_json::from_str::<Vec<Message>>(s).ok(),
        _ => None,
    };
    Ok(match parsed {
        Some(messages) if valid_start(&messages) => Loaded {
            messages,
            version,
            discarded: false,
        },
        // Start over rather than fail every future request on this session; the
        // version is kept so the overwrite is still conditional.
        _ => Loaded {
            messages: Vec::new(),
            version,
            discarded: true,
        },
    })
}

pub async fn save(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    session_id: &str,
    messages: &[Message],
    expected_version: u64,
    ttl_days: u32,
) -> Result<(), SaveError> {
    let history = serde_json::to_string(messages)
        .map_err(|e| SaveError::Other(format!("encoding the history: {e}")))?;
    let now = now_epoch_s();
    let ttl = now + u64::from(ttl_days) * 86_400;
    let result = ddb
        .put_item()
        .table_name(table)
        .item(SESSIONS_KEY, AttributeValue::S(session_id.to_string()))
        .item(session::HISTORY, AttributeValue::S(history))
        .item(
            session::VERSION,
            AttributeValue::N((expected_version + 1).to_string()),
        )
        .item(session::UPDATED_AT, AttributeValue::N(now.to_string()))
        .item(TTL_ATTR, AttributeValue::N(ttl.to_string()))
        .condition_expression(format!(
            "attribute_not_exists({SESSIONS_KEY}) OR {} = :expected",
            session::VERSION
        ))
        .expression_attribute_values(":expected", AttributeValue::N(expected_version.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
        {
            Err(SaveError::Conflict)
        }
        Err(e) => Err(SaveError::Other(format!(
            "writing the session: {}",
            describe(&e)
        ))),
    }
}

/// A stored conversation must start with a plain user turn.
fn valid_start(messages: &[Message]) -> bool {
    messages.first().is_none_or(is_turn_start)
}

fn is_turn_start(m: &Message) -> bool {
    m.role == Role::User
        && !m
            .content
            .iter()
            .any(|b| b.get("type").and_then(|t| t.as_str()) == Some("tool_result"))
}

/// Drops the oldest turns until the history fits `max_bytes`, cutting only where a
/// plain user turn starts so tool calls and their results stay paired.
pub fn trim(messages: &mut Vec<Message>, max_bytes: usize) {
    let size = |m: &[Message]| {
        serde_json::to_string(m)
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
    };
    while messages.len() > 1 && size(messages) > max_bytes {
        let Some(cut) = (1..messages.len()).find(|&i| is_turn_start(&messages[i])) else {
            break;
        };
        messages.drain(..cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(i: usize) -> Vec<Message> {
        vec![
            Message::user_text(&format!("question {i} {}", "x".repeat(100))),
            Message {
                role: Role::Assistant,
                content: vec![
                    json!({"type":"tool_use","id":format!("t{i}"),"name":"n","input":{}}),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    json!({"type":"tool_result","tool_use_id":format!("t{i}"),"content":"r"}),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![json!({"type":"text","text":"answer"})],
            },
        ]
    }

    #[test]
    fn trims_whole_turns_from_the_front() {
        let mut m: Vec<Message> = (0..10).flat_map(turn).collect();
        let full = serde_json::to_string(&m).unwrap().len();
        trim(&mut m, full / 2);
        assert!(serde_json::to_string(&m).unwrap().len() <= full / 2);
        assert!(is_turn_start(&m[0]));
        assert_eq!(m.len() % 4, 0);
        assert_eq!(m.last().unwrap().content[0]["text"], "answer");
    }

    #[test]
    fn small_histories_are_untouched() {
        let mut m: Vec<Message> = (0..2).flat_map(turn).collect();
        trim(&mut m, MAX_HISTORY_BYTES);
        assert_eq!(m.len(), 8);
    }

    #[test]
    fn histories_must_start_with_a_user_question() {
        assert!(valid_start(&[]));
        assert!(valid_start(&turn(0)));
        assert!(!valid_start(&turn(0)[1..]));
        assert!(!valid_start(&turn(0)[2..]));
    }
}
