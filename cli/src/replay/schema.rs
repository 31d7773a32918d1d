//! The JSON Schema keywords `expect.answer.schema` understands: `type` (one or a
//! list), `properties`, `required`, `additionalProperties: false`, `items`,
//! `enum`, `const`, `minimum`, `maximum`, `minLength`, `maxLength`, `pattern`,
//! `minItems`, `maxItems`, and the annotations `title`, `description`,
//! `$schema`. Any other keyword is refused when the file is read, so a check is
//! never silently skipped.

use serde_json::Value;

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "title",
    "description",
    "$schema",
];

/// Refuses a schema with a keyword this checker does not apply.
pub fn supported(schema: &Value) -> Result<(), String> {
    supported_at(schema, "")
}

fn supported_at(schema: &Value, at: &str) -> Result<(), String> {
    let Some(obj) = schema.as_object() else {
        return Err(format!("{}: a schema is a mapping", or_root(at)));
    };
    for (k, v) in obj {
        if !KEYWORDS.contains(&k.as_str()) {
            return Err(format!(
                "{}: `{k}` is not a keyword claw test applies (it applies: {})",
                or_root(at),
                KEYWORDS.join(", ")
            ));
        }
        if k == "additionalProperties" && v != &Value::Bool(false) && v != &Value::Bool(true) {
            return Err(format!(
                "{}: additionalProperties must be true or false",
                or_root(at)
            ));
        }
        if k == "pattern" && regex_lite::Regex::new(v.as_str().unwrap_or("(")).is_err() {
            return Err(format!(
                "{}: pattern is not a regular expression",
                or_root(at)
            ));
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            supported_at(s, &format!("{at}.properties.{k}"))?;
        }
    }
    if let Some(items) = obj.get("items") {
        supported_at(items, &format!("{at}.items"))?;
    }
    Ok(())
}

fn or_root(at: &str) -> &str {
    if at.is_empty() { "(root)" } else { &at[1..] }
}

/// Whether `v` is valid under `schema`; the error names the first failing place
/// (`$.score`) and rule.
pub fn validate(schema: &Value, v: &Value) -> Result<(), String> {
    check(schema, v, "$")
}

fn check(s: &Value, v: &Value, at: &str) -> Result<(), String> {
    let fail = |why: String| Err(format!("{at}: {why}"));
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => t.as_str().into_iter().collect(),
        };
        if !types.iter().any(|t| is_type(v, t)) {
            return fail(format!("is {}, not {}", type_of(v), types.join(" or ")));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return fail(format!("{v} is not one of {}", Value::Array(e.clone())));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return fail(format!("{v} is not {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return fail(format!("{v} is below the minimum {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return fail(format!("{v} is above the maximum {max}"));
        }
    }
    if let Some(text) = v.as_str() {
        let len = text.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
        {
            return fail(format!("is {len} characters, fewer than minLength"));
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
        {
            return fail(format!("is {len} characters, more than maxLength"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && regex_lite::Regex::new(p).is_ok_and(|re| !re.is_match(text))
        {
            return fail(format!("does not match the pattern /{p}/"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            return fail(format!("has {n} items, fewer than minItems"));
        }
        if s.get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return fail(format!("has {n} items, more than maxItems"));
        }
        if let Some(is) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(is, item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = r.as_str()
                && !obj.contains_key(k)
            {
                return fail(format!("lacks the required key `{k}`"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, item) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(ps, item, &format!("{at}.{k}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return fail(format!(
                        "has the key `{k}`, which the schema does not allow"
                    ));
                }
                None => {}
            }
        }
    }
    Ok(())
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        other => type_of(v) == other,
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_keyword_fails_with_the_place_and_the_rule() {
        let s = json!({"type": "object", "required": ["score", "reason"], "additionalProperties": false,
            "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 100},
                           "reason": {"type": "string", "minLength": 3, "pattern": "^[A-Z]"},
                           "tags": {"type": "array", "maxItems": 1, "items": {"enum": ["hot", "cold"]}}}});
        assert_eq!(
            validate(&s, &json!({"score": 70, "reason": "Big company"})),
            Ok(())
        );
        let bad = |v: Value| validate(&s, &v).unwrap_err();
        assert_eq!(bad(json!([])), "$: is array, not object");
        assert_eq!(
            bad(json!({"score": 70})),
            "$: lacks the required key `reason`"
        );
        assert_eq!(
            bad(json!({"score": 101, "reason": "Ok!"})),
            "$.score: 101 is above the maximum 100"
        );
        assert_eq!(
            bad(json!({"score": 1.5, "reason": "Ok!"})),
            "$.score: is number, not integer"
        );
        assert_eq!(
            bad(json!({"score": 1, "reason": "ok!"})),
            "$.reason: does not match the pattern /^[A-Z]/"
        );
        assert_eq!(
            bad(json!({"score": 1, "reason": "Ok"})),
            "$.reason: is 2 characters, fewer than minLength"
        );
        assert_eq!(
            bad(json!({"score": 1, "reason": "Ok!", "x": 1})),
            "$: has the key `x`, which the schema does not allow"
        );
        assert_eq!(
            bad(json!({"score": 1, "reason": "Ok!", "tags": ["warm"]})),
            "$.tags[0]: \"warm\" is not one of [\"hot\",\"cold\"]"
        );
        assert_eq!(
            bad(json!({"score": 1, "reason": "Ok!", "tags": ["hot", "hot"]})),
            "$.tags: has 2 items, more than maxItems"
        );
    }

    #[test]
    fn an_unknown_keyword_is_refused_not_skipped() {
        let e =
            supported(&json!({"type": "object", "properties": {"a": {"oneOf": []}}})).unwrap_err();
        assert!(
            e.starts_with("properties.a: `oneOf` is not a keyword claw test applies"),
            "{e}"
        );
        assert!(
            supported(&json!({"type": "object", "additionalProperties": {"type": "string"}}))
                .is_err()
        );
        assert!(supported(&json!({"type": ["string", "null"], "const": "x"})).is_ok());
    }
}
