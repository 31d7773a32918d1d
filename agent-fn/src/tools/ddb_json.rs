//! Plain JSON <-> DynamoDB AttributeValue. The model speaks plain JSON; tables hold
//! typed attributes. Numbers keep their exact text both ways (DynamoDB numbers have
//! 38 digits of precision, more than f64).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted from the model; DynamoDB's own limit is 32.
const MAX_DEPTH: usize = 32;

pub fn to_attr(v: &Value) -> Result<AttributeValue, String> {
    to_attr_at(v, 0)
}

fn to_attr_at(v: &Value, depth: usize) -> Result<AttributeValue, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(
            items
                .iter()
                .map(|i| to_attr_at(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => AttributeValue::M(to_item_at(m, depth + 1)?),
    })
}

/// A JSON object as an item (or key).
pub fn to_item(m: &Map<String, Value>) -> Result<HashMap<String, AttributeValue>, String> {
    to_item_at(m, 0)
}

fn to_item_at(
    m: &Map<String, Value>,
    depth: usize,
) -> Result<HashMap<String, AttributeValue>, String> {
    m.iter()
        .map(|(k, v)| Ok((k.clone(), to_attr_at(v, depth)?)))
        .collect()
}

pub fn from_attr(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => from_item(m),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect()),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(ns.iter().map(|n| number(n)).collect()),
        AttributeValue::B(b) => Value::String(b64(b)),
        AttributeValue::Bs(bs) => Value::Array(bs.iter().map(|b| Value::String(b64(b))).collect()),
        _ => Value::Null,
    }
}

pub fn from_item(m: &HashMap<String, AttributeValue>) -> Value {
    // Sorted keys: stable output for the model and for tests.
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), from_attr(&m[k])))
            .collect(),
    )
}

/// A DynamoDB number as a JSON number when JSON can hold it exactly, else as text.
fn number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::Number(u.into());
    }
    match n.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(f) if f.to_string() == n || n.len() <= 15 => Value::Number(f),
        _ => Value::String(n.to_string()),
    }
}

fn b64(b: &Blob) -> String {
    base64::engine::general_purpose::STANDARD.encode(b.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_plain_json() {
        let v = json!({
            "domain": "acme.example",
            "employees": 120,
            "score": 0.75,
            "public": true,
            "parent": null,
            "tags": ["b2b", 3],
            "address": {"city": "Sydney", "zip": "2000"}
        });
        let item = to_item(v.as_object().unwrap()).unwrap();
        assert_eq!(item["employees"], AttributeValue::N("120".into()));
        assert_eq!(item["parent"], AttributeValue::Null(true));
        assert_eq!(from_item(&item), v);
    }

    #[test]
    fn reads_sets_binary_and_big_numbers() {
        let mut m = HashMap::new();
        m.insert(
            "ss".to_string(),
            AttributeValue::Ss(vec!["a".into(), "b".into()]),
        );
        m.insert(
            "ns".to_string(),
            AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
        );
        m.insert(
            "b".to_string(),
            AttributeValue::B(Blob::new(b"hi".to_vec())),
        );
        m.insert(
            "big".to_string(),
            AttributeValue::N("123456789012345678901234567890.123".into()),
        );
        let v = from_item(&m);
        assert_eq!(v["ss"], json!(["a", "b"]));
        assert_eq!(v["ns"], json!([1, 2.5]));
        assert_eq!(v["b"], json!("aGk="));
        assert_eq!(v["big"], json!("123456789012345678901234567890.123"));
    }

    #[test]
    fn refuses_absurd_nesting() {
        let mut v = json!(1);
        for _ in 0..40 {
            v = json!([v]);
        }
        assert!(to_attr(&v).is_err());
    }
}
