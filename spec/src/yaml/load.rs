//! The YAML loader: source text into the located tree, from `saphyr-parser` events.
//!
//! The loader is defensive: it never panics, and it bounds depth, node count (alias
//! expansion included, so "billion laughs" documents fail fast) and input size.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::tree::{Mark, Node, Value};

/// Largest agent.yaml accepted, in bytes. Real files are a few KiB.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// Deepest nesting accepted (the schema itself needs fewer than 10 levels).
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, aliases included.
pub const MAX_NODES: usize = 200_000;

fn mark_of(m: &saphyr_parser::Marker) -> Mark {
    Mark {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// Why a document could not be loaded at all.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub mark: Mark,
    pub message: String,
}

/// Parses one YAML document into a located tree. An empty document loads as `Null`.
pub fn load(source: &str) -> Result<Node, LoadError> {
    if source.len() > MAX_INPUT_BYTES {
        return Err(LoadError {
            mark: Mark { line: 1, column: 1 },
            message: format!(
                "the file is {} bytes; agent.yaml may be at most {} bytes",
                source.len(),
                MAX_INPUT_BYTES
            ),
        });
    }
    let mut loader = Loader {
        parser: Parser::new_from_str(source),
        anchors: HashMap::new(),
        nodes: 0,
    };
    loader.document()
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

enum Item {
    Node(Node),
    SeqEnd,
    MapEnd,
}

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Mark), LoadError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, mark_of(&span.start))),
            Some(Err(e)) => Err(LoadError {
                mark: mark_of(e.marker()),
                message: format!("invalid YAML: {}", e.info()),
            }),
            None => Err(LoadError {
                mark: Mark { line: 1, column: 1 },
                message: "invalid YAML: unexpected end of input".into(),
            }),
        }
    }

    fn document(&mut self) -> Result<Node, LoadError> {
        let mut root = None;
        loop {
            let (event, mark) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(LoadError {
                            mark,
                            message: "agent.yaml must hold exactly one YAML document; found a second `---`"
                                .into(),
                        });
                    }
                    let first = self.next()?;
                    match self.item(first, 0)? {
                        Item::Node(n) => root = Some(n),
                        _ => {
                            return Err(LoadError {
                                mark,
                                message: "invalid YAML: empty document".into(),
                            });
                        }
                    }
                }
                Event::StreamEnd => {
                    return Ok(root.unwrap_or(Node {
                        value: Value::Null,
                        mark: Mark { line: 1, column: 1 },
                    }));
                }
                other => {
                    return Err(LoadError {
                        mark,
                        message: format!("invalid YAML: unexpected {other:?}"),
                    });
                }
            }
        }
    }

    fn count(&mut self, n: usize, mark: Mark) -> Result<(), LoadError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(LoadError {
                mark,
                message: format!(
                    "the document expands to more than {MAX_NODES} values (aliases included); \
                     agent.yaml is refused to protect against alias bombs"
                ),
            });
        }
        Ok(())
    }

    fn item(&mut self, first: (Event<'a>, Mark), depth: usize) -> Result<Item, LoadError> {
        let (event, mark) = first;
        if depth > MAX_DEPTH {
            return Err(LoadError {
                mark,
                message: format!("the document nests deeper than {MAX_DEPTH} levels"),
            });
        }
        match event {
            Event::SequenceEnd => Ok(Item::SeqEnd),
            Event::MappingEnd => Ok(Item::MapEnd),
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| LoadError {
                    mark,
                    message: "invalid YAML: alias to an unknown anchor".into(),
                })?;
                self.count(size_of_node(&node), mark)?;
                Ok(Item::Node(Node {
                    value: node.value,
                    mark,
                }))
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, mark)?;
                let tag = tag.map(|t| t.to_string());
                let value = scalar(&text, style, tag.as_deref())
                    .map_err(|message| LoadError { mark, message })?;
                let node = Node { value, mark };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(Item::Node(node))
            }
            Event::SequenceStart(anchor, _) => {
                self.count(1, mark)?;
                let mut items = Vec::new();
                loop {
                    let ev = self.next()?;
                    match self.item(ev, depth + 1)? {
                        Item::Node(n) => items.push(n),
                        Item::SeqEnd => break,
                        Item::MapEnd => {
                            return Err(LoadError {
                                mark,
                                message: "invalid YAML: unbalanced mapping end".into(),
                            });
                        }
                    }
                }
                let node = Node {
                    value: Value::Seq(items),
                    mark,
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(Item::Node(node))
            }
            Event::MappingStart(anchor, _) => {
                self.count(1, mark)?;
                let mut entries: Vec<(Node, Node)> = Vec::new();
                loop {
                    let ev = self.next()?;
                    let key = match self.item(ev, depth + 1)? {
                        Item::Node(n) => n,
                        Item::MapEnd => break,
                        Item::SeqEnd => {
                            return Err(LoadError {
                                mark,
                                message: "invalid YAML: unbalanced sequence end".into(),
                            });
                        }
                    };
                    let ev = self.next()?;
                    let value = match self.item(ev, depth + 1)? {
                        Item::Node(n) => n,
                        _ => {
                            return Err(LoadError {
                                mark: key.mark,
                                message: "invalid YAML: a key without a value".into(),
                            });
                        }
                    };
                    let key = match key.value {
                        Value::Str(_) => key,
                        Value::Int(i) => Node {
                            value: Value::Str(i.to_string()),
                            mark: key.mark,
                        },
                        Value::Bool(b) => Node {
                            value: Value::Str(b.to_string()),
                            mark: key.mark,
                        },
                        other => {
                            return Err(LoadError {
                                mark: key.mark,
                                message: format!(
                                    "keys must be plain text, found {}",
                                    other.type_name()
                                ),
                            });
                        }
                    };
                    if let Value::Str(k) = &key.value
                        && let Some((prev, _)) = entries
                            .iter()
                            .find(|(p, _)| matches!(&p.value, Value::Str(s) if s == k))
                    {
                        return Err(LoadError {
                            mark: key.mark,
                            message: format!(
                                "duplicate key `{k}` (first defined at line {})",
                                prev.mark.line
                            ),
                        });
                    }
                    entries.push((key, value));
                }
                let node = Node {
                    value: Value::Map(entries),
                    mark,
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(Item::Node(node))
            }
            other => Err(LoadError {
                mark,
                message: format!("invalid YAML: unexpected {other:?}"),
            }),
        }
    }
}

fn size_of_node(node: &Node) -> usize {
    // Bounded by MAX_NODES already, since every stored node was counted when built.
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(size_of_node).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size_of_node(k) + size_of_node(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Resolves a scalar with the YAML 1.2 core schema.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    if let Some(tag) = tag {
        return match tag {
            "tag:yaml.org,2002:!str" | "!!str" => Ok(Value::Str(text.to_string())),
            "tag:yaml.org,2002:!int" | "!!int" => text
                .parse()
                .map(Value::Int)
                .map_err(|_| format!("`{text}` is tagged !!int but is not an integer")),
            "tag:yaml.org,2002:!float" | "!!float" => text
                .parse()
                .map(Value::Float)
                .map_err(|_| format!("`{text}` is tagged !!float but is not a number")),
            "tag:yaml.org,2002:!bool" | "!!bool" => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "`{text}` is tagged !!bool but is not true or false"
                )),
            },
            "tag:yaml.org,2002:!null" | "!!null" => Ok(Value::Null),
            other => Err(format!("unsupported YAML tag `{other}`")),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_string()));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => {
            if let Some(i) = parse_int(text) {
                Value::Int(i)
            } else if looks_like_float(text) {
                match text.parse::<f64>() {
                    Ok(f) => Value::Float(f),
                    Err(_) => Value::Str(text.to_string()),
                }
            } else {
                Value::Str(text.to_string())
            }
        }
    })
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

fn looks_like_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    !t.is_empty()
        && t.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && t.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_follow_the_core_schema() {
        let n = load("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: hello\n").unwrap();
        assert_eq!(n.get("a").unwrap().value, Value::Int(1));
        assert_eq!(n.get("b").unwrap().value, Value::Str("1".into()));
        assert_eq!(n.get("c").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("d").unwrap().value, Value::Null);
        assert_eq!(n.get("e").unwrap().value, Value::Float(1.5));
        assert_eq!(n.get("f").unwrap().value, Value::Str("hello".into()));
    }

    #[test]
    fn positions_are_one_based() {
        let n = load("app: x\nfunction:\n  memory_mb: 12\n").unwrap();
        let m = n.get("function").unwrap().get("memory_mb").unwrap().mark;
        assert_eq!(
            m,
            Mark {
                line: 3,
                column: 14
            }
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = load("app: a\napp: b\n").unwrap_err();
        assert_eq!(e.mark, Mark { line: 2, column: 1 });
        assert!(e.message.contains("duplicate key `app`"), "{}", e.message);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = load(&doc).unwrap_err();
        assert!(e.message.contains("alias bombs"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Our own limit, below the parser's.
        let doc = "[".repeat(70) + &"]".repeat(70);
        let e = load(&doc).unwrap_err();
        assert!(e.message.contains("nests deeper"), "{}", e.message);
        // The parser's limit, far deeper: still an error, never a stack overflow.
        let doc = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(load(&doc).is_err());
    }

    #[test]
    fn two_documents_are_refused() {
        let e = load("---\na: 1\n---\nb: 2\n").unwrap_err();
        assert!(
            e.message.contains("exactly one YAML document"),
            "{}",
            e.message
        );
    }

    #[test]
    fn empty_input_is_null() {
        assert_eq!(load("").unwrap().value, Value::Null);
        assert_eq!(load("# only a comment\n").unwrap().value, Value::Null);
    }
}
