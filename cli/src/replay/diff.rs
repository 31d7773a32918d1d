//! How a model request the function sent differs from the recorded one, in the
//! terms a prompt author reads: which part of the request (the system prompt, a
//! tool's definition, a message of the conversation), and the text before and
//! after.

use serde_json::Value;

/// Differences shown at most; the count of the rest is given.
const MAX_SHOWN: usize = 8;

/// Characters of unchanged text kept on each side of a change in a long line.
const CONTEXT: usize = 40;

/// Every place `sent` differs from `recorded`, one block per place.
pub fn requests(recorded: &Value, sent: &Value) -> String {
    let mut found = Vec::new();
    walk(recorded, sent, &mut String::new(), &mut found);
    let mut out = String::new();
    for (path, old, new) in found.iter().take(MAX_SHOWN) {
        out.push_str(&format!("  at {path}{}:\n", meaning(path, recorded, sent)));
        out.push_str(&values(old.as_ref(), new.as_ref()));
    }
    if found.len() > MAX_SHOWN {
        out.push_str(&format!(
            "  … and {} more difference(s)\n",
            found.len() - MAX_SHOWN
        ));
    }
    out
}

type Found = Vec<(String, Option<Value>, Option<Value>)>;

fn walk(a: &Value, b: &Value, path: &mut String, found: &mut Found) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => walk(p, q, path, found),
                    (p, q) => found.push((path.clone(), p.cloned(), q.cloned())),
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => walk(p, q, path, found),
                    (p, q) => found.push((path.clone(), p.cloned(), q.cloned())),
                }
                path.truncate(len);
            }
        }
        _ => found.push((path.clone(), Some(a.clone()), Some(b.clone()))),
    }
}

/// What the path is, in words: ` (the system prompt)`, ` (the tool `x`)`, ….
fn meaning(path: &str, recorded: &Value, sent: &Value) -> String {
    let index = |prefix: &str| -> Option<usize> {
        let rest = path.strip_prefix(prefix)?.strip_prefix('[')?;
        rest[..rest.find(']')?].parse().ok()
    };
    let either = |key: &str, i: usize| {
        let v = &sent[key][i];
        if v.is_null() { &recorded[key][i] } else { v }
    };
    if path.starts_with("system") {
        " (the system prompt)".into()
    } else if let Some(i) = index("tools") {
        format!(
            " (the tool `{}`)",
            either("tools", i)["name"].as_str().unwrap_or("?")
        )
    } else if let Some(i) = index("messages") {
        let m = either("messages", i);
        let what = match m["content"].as_array().and_then(|c| c.first()) {
            Some(b) if b["type"] == "tool_result" => "with tool results",
            Some(b) if b["type"] == "tool_use" => "asking for tools",
            _ => "",
        };
        format!(
            " (message {} of the conversation, {}{}{what})",
            i + 1,
            m["role"].as_str().unwrap_or("?"),
            if what.is_empty() { "" } else { " " }
        )
    } else {
        String::new()
    }
}

/// The recorded value (`-`) and the sent one (`+`).
fn values(old: Option<&Value>, new: Option<&Value>) -> String {
    match (old, new) {
        (Some(Value::String(a)), Some(Value::String(b)))
            if a.contains('\n') || b.contains('\n') =>
        {
            let diff = similar::TextDiff::from_lines(a, b);
            let mut out = String::new();
            for group in diff.grouped_ops(1) {
                for op in group {
                    for change in diff.iter_changes(&op) {
                        let sign = match change.tag() {
                            similar::ChangeTag::Delete => "-",
                            similar::ChangeTag::Insert => "+",
                            similar::ChangeTag::Equal => " ",
                        };
                        out.push_str(&format!(
                            "    {sign} {}\n",
                            change.value().trim_end_matches('\n')
                        ));
                    }
                }
            }
            out
        }
        (Some(Value::String(a)), Some(Value::String(b))) => {
            let (a, b) = around_change(a, b);
            format!("    - {a}\n    + {b}\n")
        }
        (a, b) => {
            let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
            format!("    - {}\n    + {}\n", show(a), show(b))
        }
    }
}

/// Two one-line texts cut to their changed part with some context either side
/// (shown whole when both are short).
fn around_change(a: &str, b: &str) -> (String, String) {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if x.len().max(y.len()) <= 3 * CONTEXT {
        return (a.to_string(), b.to_string());
    }
    let prefix = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
    let suffix = x[prefix..]
        .iter()
        .rev()
        .zip(y[prefix..].iter().rev())
        .take_while(|(p, q)| p == q)
        .count();
    let start = prefix.saturating_sub(CONTEXT);
    let cut = |s: &[char]| {
        let end = (s.len() - suffix + CONTEXT).min(s.len());
        format!(
            "{}{}{}",
            if start > 0 { "…" } else { "" },
            s[start..end].iter().collect::<String>(),
            if end < s.len() { "…" } else { "" }
        )
    };
    (cut(&x), cut(&y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_system_prompt_is_named_and_cut_to_the_change() {
        let long = "You qualify new CRM leads. Fetch the lead, look up the company in our records and the public registry, and answer with a score from 0 to 100.";
        let a = json!({"model": "m", "system": [{"type": "text", "text": long}], "messages": []});
        let b = json!({"model": "m", "system": [{"type": "text", "text": long.replace("0 to 100", "1 to 10")}], "messages": []});
        let d = requests(&a, &b);
        assert!(
            d.starts_with("  at system[0].text (the system prompt):\n"),
            "{d}"
        );
        assert!(
            d.contains("    - … registry, and answer with a score from 0 to 100.\n"),
            "{d}"
        );
        assert!(
            d.contains("    + … registry, and answer with a score from 1 to 10.\n"),
            "{d}"
        );
    }

    #[test]
    fn tools_and_messages_are_named_and_absent_values_said() {
        let a = json!({"tools": [{"name": "get_lead", "description": "Fetch a lead"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]});
        let b = json!({"tools": [{"name": "get_lead", "description": "Fetch a lead by id"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                         {"role": "assistant", "content": [{"type": "text", "text": "x"}]}]});
        let d = requests(&a, &b);
        assert!(
            d.contains("at tools[0].description (the tool `get_lead`):"),
            "{d}"
        );
        assert!(
            d.contains(
                "at messages[1] (message 2 of the conversation, assistant):\n    - (absent)\n"
            ),
            "{d}"
        );
    }

    #[test]
    fn multi_line_text_gets_a_line_diff_and_many_differences_are_counted() {
        let a = json!({"system": "one\ntwo\nthree\n", "x": (0..12).collect::<Vec<_>>()});
        let b = json!({"system": "one\n2\nthree\n", "x": (1..13).collect::<Vec<_>>()});
        let d = requests(&a, &b);
        assert!(d.contains("    - two\n    + 2\n"), "{d}");
        assert!(d.contains("… and 5 more difference(s)"), "{d}");
    }
}
