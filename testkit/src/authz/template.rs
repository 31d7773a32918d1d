//! Values taken from a request for the map's templates: `{form:RoleName}` (a
//! query-protocol form field), `{json:Tags}` or `{json:accessLogSettings.format}`
//! (the JSON body), `{path:FunctionName}` (a REST path variable, decoded),
//! `{query:tagKeys}`, `{fact:account}`, and `{each}` (the current item of an
//! entry's `each` list). A token may end with one modifier: `|last_segment` (after
//! the last `/`, a queue URL's name), `|function_name` (the name in a function ARN,
//! or the name as given), `|url_encode`, `|log_group_arn` (a log group ARN without
//! a trailing `:*`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Facts, Recorded};

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Form(String),
    Json(String),
    Path(String),
    Query(String),
    Fact(String),
    Each,
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, String> {
        if s == "each" {
            return Ok(Source::Each);
        }
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not `kind:name`"))?;
        let name = name.to_string();
        Ok(match kind {
            "form" => Source::Form(name),
            "json" => Source::Json(name),
            "path" => Source::Path(name),
            "query" => Source::Query(name),
            "fact" => Source::Fact(name),
            _ => return Err(format!("unknown value source {kind:?} in {s:?}")),
        })
    }
}

/// One request's values.
pub struct Vars<'a> {
    form: Vec<(String, String)>,
    query: Vec<(String, String)>,
    json: Value,
    path: BTreeMap<String, String>,
    facts: &'a Facts,
    each: Option<String>,
}

impl<'a> Vars<'a> {
    pub fn new(req: &Recorded, path: BTreeMap<String, String>, facts: &'a Facts) -> Vars<'a> {
        let json = serde_json::from_str(&req.body).unwrap_or(Value::Null);
        let form = if json.is_null() {
            pairs(&req.body)
        } else {
            Vec::new()
        };
        Vars {
            form,
            query: pairs(&req.query),
            json,
            path,
            facts,
            each: None,
        }
    }

    pub fn with_each(&self, each: Option<String>) -> Vars<'a> {
        Vars {
            form: self.form.clone(),
            query: self.query.clone(),
            json: self.json.clone(),
            path: self.path.clone(),
            facts: self.facts,
            each,
        }
    }

    fn json_at(&self, dotted: &str) -> Option<&Value> {
        dotted
            .split('.')
            .try_fold(&self.json, |v, k| v.get(k))
            .filter(|v| !v.is_null())
    }

    /// One value.
    pub fn get(&self, src: &Source) -> Option<String> {
        match src {
            Source::Form(n) => self
                .form
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone()),
            Source::Query(n) => self
                .query
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone()),
            Source::Json(n) => self.json_at(n).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            Source::Path(n) => self.path.get(n).cloned(),
            Source::Fact(n) => self.facts.values.get(n).cloned(),
            Source::Each => self.each.clone(),
        }
    }

    /// Whether the request carries the value (for a list or map: non-empty).
    pub fn present(&self, src: &Source) -> bool {
        match src {
            Source::Form(n) => self
                .form
                .iter()
                .any(|(k, _)| k == n || k.starts_with(&format!("{n}."))),
            Source::Json(n) => match self.json_at(n) {
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Object(o)) => !o.is_empty(),
                Some(_) => true,
                None => false,
            },
            other => self.get(other).is_some(),
        }
    }

    /// A list: `Name.N` (or `Name.member.N`) form fields in order, a repeated query
    /// parameter, a JSON array of strings.
    pub fn list(&self, src: &Source) -> Vec<String> {
        match src {
            Source::Form(n) => {
                let prefix = format!("{n}.");
                let mut items: Vec<(u32, String)> = self
                    .form
                    .iter()
                    .filter_map(|(k, v)| {
                        let i = k.strip_prefix(&prefix)?.parse().ok()?;
                        Some((i, v.clone()))
                    })
                    .collect();
                items.sort();
                items.into_iter().map(|(_, v)| v).collect()
            }
            Source::Query(n) => self
                .query
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .collect(),
            Source::Json(n) => match self.json_at(n) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            },
            other => self.get(other).into_iter().collect(),
        }
    }

    /// Tags: `Name.N.Key`/`Name.N.Value` form fields, or a JSON map, or a JSON list
    /// of `{Key, Value}`.
    pub fn tags(&self, src: &Source) -> Result<BTreeMap<String, String>, String> {
        match src {
            Source::Form(n) => {
                let prefix = format!("{n}.");
                let mut by_index: BTreeMap<u32, (String, String)> = BTreeMap::new();
                for (k, v) in &self.form {
                    let Some(rest) = k.strip_prefix(&prefix) else {
                        continue;
                    };
                    let Some((i, field)) = rest.split_once('.') else {
                        continue;
                    };
                    let Ok(i) = i.parse() else { continue };
                    let e = by_index.entry(i).or_default();
                    match field {
                        "Key" => e.0 = v.clone(),
                        "Value" => e.1 = v.clone(),
                        _ => {}
                    }
                }
                Ok(by_index.into_values().collect())
            }
            Source::Json(n) => match self.json_at(n) {
                Some(Value::Object(o)) => Ok(o
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()),
                Some(Value::Array(a)) => Ok(a
                    .iter()
                    .map(|t| {
                        (
                            t["Key"].as_str().unwrap_or_default().to_string(),
                            t["Value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()),
                _ => Ok(BTreeMap::new()),
            },
            other => Err(format!("tags cannot come from {other:?}")),
        }
    }

    /// Fills a template; `None` when a value it names is absent from the request.
    pub fn expand(&self, template: &str) -> Result<Option<String>, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed {{ in {template:?}"))?;
            let token = &rest[start + 1..start + end];
            let (src, modifier) = match token.split_once('|') {
                Some((s, m)) => (s, Some(m)),
                None => (token, None),
            };
            let Some(value) = self.get(&Source::parse(src)?) else {
                return Ok(None);
            };
            out.push_str(&apply(modifier, value)?);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(Some(out))
    }
}

fn apply(modifier: Option<&str>, value: String) -> Result<String, String> {
    Ok(match modifier {
        None => value,
        Some("last_segment") => value.rsplit('/').next().unwrap_or_default().to_string(),
        Some("function_name") => {
            if value.starts_with("arn:") {
                value.split(':').nth(6).unwrap_or_default().to_string()
            } else {
                value
            }
        }
        Some("url_encode") => percent_encode(&value),
        Some("log_group_arn") => value.strip_suffix(":*").unwrap_or(&value).to_string(),
        Some(other) => return Err(format!("unknown modifier {other:?}")),
    })
}

/// `a=1&b=2`, each name and value percent-decoded (`+` is a space in a form).
fn pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 unreserved characters kept, everything else `%XX`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}
