//! Policy documents as IAM returns them: GetRole's trust policy, GetRolePolicy and
//! GetPolicyVersion answer URL-encoded JSON (moto as real AWS does); Lambda's
//! GetPolicy answers plain JSON. Tests read both without reaching into claw.

/// Decodes `%XX` escapes, leaving everything else (and invalid escapes) alone.
fn percent_decode(s: &str) -> String {
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
/// already JSON (a raw document starts with `{`, an encoded one with `%7B`).
pub fn decode(raw: &str) -> String {
    if raw.trim_start().starts_with('{') {
        raw.to_string()
    } else {
        percent_decode(raw)
    }
}

/// A document as AWS returned it, parsed as JSON; panics with the text otherwise.
pub fn parse(raw: &str) -> serde_json::Value {
    let text = decode(raw);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a JSON policy document ({e}): {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_and_plain_documents() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(decode(raw), r#"{"Version":"2012-10-17","Statement":[]}"#);
        assert_eq!(parse(raw)["Version"], "2012-10-17");
        assert_eq!(decode(r#"{"a":"%41"}"#), r#"{"a":"%41"}"#);
        assert_eq!(decode("%7B%zz%7D"), "{%zz}");
    }
}
