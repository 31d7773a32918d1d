//! Tag keys and values, checked as each service does. moto accepts any text.
//!
//! Most services allow Unicode letters, digits, white space and `_ . : / = + - @`
//! (IAM: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules_creating;
//! Lambda, CloudWatch, CloudWatch Logs, SQS and API Gateway say the same);
//! DynamoDB leaves out `@`
//! (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Tagging.html#TaggingRestrictions).
//! Keys are 1–128 characters, values at most 256.

use serde_json::Value;

use super::wire::{Request, Response, error};

fn allowed(service: &str, c: char) -> bool {
    let extra = if service == "dynamodb" {
        "_.:/=+-"
    } else {
        "_.:/=+-@"
    };
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || c == ' ' || extra.contains(c)
}

/// The tags a request sets: query `Tags.member.N.Key/Value`, or a JSON `Tags` /
/// `tags` map or list of `{Key, Value}`.
fn tags(req: &Request) -> Vec<(String, String)> {
    if req.is_form() {
        let form = req.form();
        return form
            .iter()
            .filter_map(|(k, key)| {
                let n = k.strip_prefix("Tags.member.")?.strip_suffix(".Key")?;
                let value = form
                    .get(&format!("Tags.member.{n}.Value"))
                    .cloned()
                    .unwrap_or_default();
                Some((key.clone(), value))
            })
            .collect();
    }
    let body = req.json();
    let found = body.get("Tags").or_else(|| body.get("tags"));
    match found {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| {
                let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                (s("Key"), s("Value"))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The service's refusal of the first tag it would not accept.
pub fn check(req: &Request) -> Option<Response> {
    let service = req.service();
    let (what, text) = tags(req).into_iter().find_map(|(k, v)| {
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(|c| allowed(&service, c)) {
            Some(("key", k))
        } else if v.chars().count() > 256 || !v.chars().all(|c| allowed(&service, c)) {
            Some(("value", v))
        } else {
            None
        }
    })?;
    let message = format!(
        "1 validation error detected: Value '{text}' at 'tags' failed to satisfy constraint: the tag {what} must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-{}]*",
        if service == "dynamodb" { "" } else { "@" }
    );
    let code = match service.as_str() {
        "iam" | "monitoring" => "ValidationError",
        "apigateway" => "BadRequestException",
        _ => "ValidationException",
    };
    Some(error(req, 400, code, &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_alone_refuses_at_signs() {
        assert!(allowed("iam", '@') && !allowed("dynamodb", '@'));
        assert!(!allowed("lambda", ',') && !allowed("lambda", '!'));
        assert!(allowed("lambda", ' ') && allowed("lambda", 'é'));
    }
}
