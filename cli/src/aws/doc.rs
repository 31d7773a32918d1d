//! Policy documents as AWS returns them.
//!
//! IAM returns every document (GetRole's trust policy, GetRolePolicy,
//! GetPolicyVersion) URL-encoded, as RFC 3986 percent-encoding; Lambda's GetPolicy
//! returns plain JSON. [`parse`] accepts both.

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;

/// Decodes `%XX` escapes (and leaves everything else alone). Invalid escapes are
/// kept as they are rather than guessed at.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON text of a document as AWS returned it: percent-decoded unless it is
/// already JSON (a raw document starts with `{`; an encoded one with `%7B`).
pub fn decode(raw: &str) -> String {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') {
        raw.to_string()
    } else {
        percent_decode(raw)
    }
}

/// Parses a policy document as AWS returned it; `what` names it in errors.
pub fn parse(raw: &str, what: &str) -> anyhow::Result<PolicyDocument> {
    let text = decode(raw);
    serde_json::from_str(&text).with_context(|| format!("{what} is not a valid policy document"))
}

/// The JSON claw sends: compact, fields in AWS's order.
pub fn to_json(doc: &PolicyDocument) -> String {
    serde_json::to_string(doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_iam_documents() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        let doc = parse(raw, "test").unwrap();
        assert_eq!(doc.version, "2012-10-17");
        assert!(doc.statement.is_empty());
    }

    #[test]
    fn plain_json_is_not_decoded() {
        // A literal %41 inside a raw document must survive.
        let raw = r#"{"Version":"2012-10-17","Statement":[{"Sid":"a%41","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let doc = parse(raw, "test").unwrap();
        assert_eq!(doc.statement[0].sid.as_deref(), Some("a%41"));
    }

    #[test]
    fn bad_escapes_are_kept() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%2Fb"), "a/b");
    }
}
