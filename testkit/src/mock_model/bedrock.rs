//! The mock as Amazon Bedrock's InvokeModel for Claude: the request shape the
//! AWS SDK sends (SigV4 `Authorization` for the `bedrock` signing name, the
//! Messages body without `model` and with `anthropic_version`), and errors as
//! Bedrock returns them (`x-amzn-ErrorType` and `{"message"}`), per
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html>
//! and <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html>.

use serde_json::{Value, json};

use super::MockOptions;

/// The model id of `POST /model/{modelId}/invoke` (or of its streaming twin,
/// `/invoke-with-response-stream`), percent-decoded.
pub(super) fn model_id(method: &str, path: &str) -> Option<String> {
    let rest = path.split('?').next()?.strip_prefix("/model/")?;
    let id = rest
        .strip_suffix("/invoke")
        .or_else(|| rest.strip_suffix(STREAM_SUFFIX))?;
    (method == "POST").then(|| decode(id))
}

const STREAM_SUFFIX: &str = "/invoke-with-response-stream";

/// Whether the path is InvokeModelWithResponseStream's.
pub(super) fn streams(path: &str) -> bool {
    path.split('?')
        .next()
        .is_some_and(|p| p.ends_with(STREAM_SUFFIX))
}

/// The frames of a streamed answer: each of the Messages API's stream events
/// (`event: NAME\ndata: JSON`) as a `chunk`, an `error` event as a
/// `modelStreamErrorException`.
pub(super) fn frame(sse: &str) -> Vec<u8> {
    let data = sse
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .unwrap_or(Value::Null);
    if data["type"] == "error" {
        let message = data["error"]["message"]
            .as_str()
            .unwrap_or("mock bedrock: error");
        return super::eventstream::exception("modelStreamErrorException", message);
    }
    super::eventstream::chunk(&data)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What Bedrock (or IAM in front of it) would refuse.
pub(super) fn check(
    id: &str,
    headers: &[(String, String)],
    body: &Value,
    options: &MockOptions,
) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let auth = header("authorization").ok_or("mock bedrock: the request is not signed")?;
    let signed = auth.starts_with("AWS4-HMAC-SHA256 Credential=")
        && auth.contains("/bedrock/aws4_request")
        && auth.split("SignedHeaders=").nth(1).is_some_and(|h| {
            h.split([',', ' ']).next().is_some_and(|h| {
                h.split(';').any(|x| x == "host") && h.split(';').any(|x| x == "x-amz-date")
            })
        })
        && auth
            .split("Signature=")
            .nth(1)
            .is_some_and(|sig| sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()));
    if !signed || header("x-amz-date").is_none() {
        return Err(format!(
            "mock bedrock: not a SigV4 signature for `bedrock`: {}",
            auth.split("Signature=").next().unwrap_or_default()
        ));
    }
    if header("x-api-key").is_some() {
        return Err("mock bedrock: an Anthropic API key was sent to Bedrock".into());
    }
    if body.get("model").is_some() {
        return Err(
            "mock bedrock: `model` is not a body field on Bedrock: the id is in the path".into(),
        );
    }
    if body["anthropic_version"] != "bedrock-2023-05-31" {
        return Err("mock bedrock: `anthropic_version` must be `bedrock-2023-05-31`".into());
    }
    if let Some(want) = &options.expect_model
        && id != want
    {
        return Err(format!("mock bedrock: expected model `{want}`, got `{id}`"));
    }
    Ok(())
}

/// An error response as Bedrock sends it, for the status the script chose.
pub(super) fn error(status: u16, anthropic_body: &str) -> (Vec<(String, String)>, String) {
    let kind = match status {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 | 529 => "ServiceUnavailableException",
        _ => "InternalServerException",
    };
    let message = serde_json::from_str::<Value>(anthropic_body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| "mock bedrock: error".into());
    (
        vec![
            ("content-type".into(), "application/json".into()),
            (
                "x-amzn-ErrorType".into(),
                format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            ),
        ],
        json!({"message": message}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_the_model() {
        assert_eq!(
            model_id(
                "POST",
                "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke"
            )
            .as_deref(),
            Some("us.anthropic.claude-haiku-4-5-20251001-v1:0")
        );
        assert_eq!(model_id("GET", "/model/x/invoke"), None);
        assert_eq!(model_id("POST", "/v1/messages"), None);
    }
}
