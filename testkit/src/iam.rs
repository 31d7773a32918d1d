//! Policy documents as IAM returns them: GetRole's trust policy, GetRolePolicy and
//! GetPolicyVersion answer URL-encoded JSON (moto as real AWS does); Lambda's
//! GetPolicy answers plain JSON. Tests read both without reaching into claw.

/// The JSON text of a document as AWS returned it (percent-decoded unless it is
/// already JSON), read the way claw reads it.
pub fn decode(raw: &str) -> String {
    claw_spec::iam::document_text(raw)
}

/// A document as AWS returned it, parsed as JSON; panics with the text otherwise.
pub fn parse(raw: &str) -> serde_json::Value {
    let text = decode(raw);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a JSON policy document ({e}): {text}"))
}
