//! Policy documents as AWS returns them.
//!
//! IAM returns every document URL-encoded, Lambda's GetPolicy plain JSON;
//! [`parse`] accepts both (through `claw_spec::iam::document_text`).

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;

/// Parses a policy document as AWS returned it; `what` names it in errors.
pub fn parse(raw: &str, what: &str) -> anyhow::Result<PolicyDocument> {
    let text = claw_spec::iam::document_text(raw);
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
}
