//! A job's result as stored: whole, or cut to fit a DynamoDB item.

use serde_json::{Value, json};

/// The most bytes a job's stored result may take. DynamoDB refuses items over
/// 400 KB (attribute names and values together,
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html);
/// an answer of `max_tokens` up to 128,000 can pass that, the update would fail,
/// and SQS would run the job again and again. 300 KiB leaves room for the rest
/// of the item.
pub const RESULT_LIMIT: usize = 300 * 1024;

/// What ends a response cut to fit [`RESULT_LIMIT`].
pub const TRUNCATED_MARKER: &str =
    "\n[truncated: the answer is longer than a job record holds (400 KB)]";

/// The result as stored: its JSON, or, when that is over [`RESULT_LIMIT`], the
/// same JSON with `response` cut at a character boundary and ended with
/// [`TRUNCATED_MARKER`], and `"truncated": true`.
pub fn stored_result(result: &Value) -> String {
    let full = result.to_string();
    if full.len() <= RESULT_LIMIT {
        return full;
    }
    let text = result["response"].as_str().unwrap_or_default();
    // Cutting n bytes of text shrinks the JSON by at least n (escapes only add).
    let mut keep = text.len().saturating_sub(full.len() - RESULT_LIMIT + 256);
    loop {
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        let mut v = result.clone();
        v["response"] = json!(format!("{}{TRUNCATED_MARKER}", &text[..keep]));
        v["truncated"] = json!(true);
        let out = v.to_string();
        if out.len() <= RESULT_LIMIT {
            return out;
        }
        if keep == 0 {
            // Not the response's fault: keep only the marker.
            return json!({"response": TRUNCATED_MARKER, "truncated": true}).to_string();
        }
        keep = keep.saturating_sub(out.len() - RESULT_LIMIT).min(keep / 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(response: String) -> Value {
        json!({
            "response": response,
            "session_id": "s",
            "tool_calls": 0,
            "usage": {"input_tokens": 1, "output_tokens": 128000},
            "stop_reason": "max_tokens",
        })
    }

    /// An answer of 128,000 tokens can pass DynamoDB's 400 KB item limit; it is
    /// stored cut, marked, as valid JSON under the limit, never refused.
    #[test]
    fn a_result_over_the_item_limit_is_truncated_with_a_marker() {
        // Multi-byte characters and quotes (which JSON escapes) included.
        let long: String = "é\"日本語 ".repeat(60_000);
        assert!(long.len() > 400 * 1024);
        let stored = stored_result(&answer(long.clone()));
        assert!(stored.len() <= RESULT_LIMIT, "{}", stored.len());
        let v: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(v["truncated"], true);
        let text = v["response"].as_str().unwrap();
        let kept = text.strip_suffix(TRUNCATED_MARKER).expect("the marker");
        assert!(
            long.starts_with(kept) && kept.len() > 200 * 1024,
            "{}",
            kept.len()
        );
        assert_eq!(v["stop_reason"], "max_tokens");

        // A result that fits is stored as it is.
        let short = answer("ok".into());
        assert_eq!(stored_result(&short), short.to_string());
    }
}
