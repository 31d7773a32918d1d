//! serde deserialization from the located YAML tree, collecting every problem.
//!
//! serde stops at the first error. To report all problems in one run, [`from_node`]
//! deserializes, records the error with its key path and position, marks the offending
//! node as removed (or, for a missing required key, fills the key with an empty
//! placeholder), and tries again, until the document deserializes or nothing more
//! can be removed. Unknown keys never abort: the struct's own field list (which serde
//! hands to `deserialize_struct`) filters them out and suggests the nearest valid key.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::tree::{Mark, Node, PathSeg, Value, path_string};

/// One problem found while reading agent.yaml into the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DeError {
    pub path: Vec<PathSeg>,
    pub mark: Mark,
    pub message: String,
    /// Missing-key errors are reported on the mapping that lacks the key; they are
    /// dropped when the key was present but removed for an earlier error.
    missing: Option<String>,
    located: bool,
}

impl DeError {
    /// The key whose absence this error reports, if it is a missing-key error.
    pub fn missing_key(&self) -> Option<&str> {
        self.missing.as_deref()
    }

    /// The path this error is about: the missing key's own path for a missing-key
    /// error (its `path` is the mapping that lacks it), else `path`.
    pub fn subject(&self) -> Vec<PathSeg> {
        let mut p = self.path.clone();
        if let Some(k) = &self.missing {
            p.push(PathSeg::Key(k.clone()));
        }
        p
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            path: Vec::new(),
            mark: Mark::default(),
            message: msg.to_string(),
            missing: None,
            located: false,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = DeError::custom(format!("missing required key `{field}`"));
        e.missing = Some(field.to_string());
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut msg = format!(
            "`{variant}` is not one of {}",
            expected
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(s) = suggest(variant, expected) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        DeError::custom(msg)
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::custom(format!("expected {exp}, found {}", describe(unexp)))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::custom(format!("expected {exp}, found {}", describe(unexp)))
    }
}

fn describe(unexp: de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Str(s) => format!("the string `{s}`"),
        de::Unexpected::Signed(i) => format!("the integer {i}"),
        de::Unexpected::Unsigned(i) => format!("the integer {i}"),
        de::Unexpected::Float(f) => format!("the number {f}"),
        de::Unexpected::Bool(b) => format!("the boolean {b}"),
        de::Unexpected::Unit => "nothing (null)".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Suggests the closest candidate to `got`, if one is close enough to be a typo.
pub fn suggest<'a>(got: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let got_l = got.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                c,
                strsim::damerau_levenshtein(&got_l, &c.to_ascii_lowercase()),
            )
        })
        .filter(|(c, d)| *d <= 2.max(c.len() / 3) && *d < c.len().max(got.len()))
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| *c)
}

/// Deserializes `T` from the tree, returning every problem found. A value comes
/// back whenever one could be built (unknown keys skipped, bad optional values
/// dropped, missing required keys filled with a [`Value::Placeholder`]), so later
/// validation can still check the keys that are present.
pub fn from_node<T: DeserializeOwned>(root: &Node) -> (Option<T>, Vec<DeError>) {
    let mut tree = root.clone();
    let mut errors: Vec<DeError> = Vec::new();
    let mut removed: Vec<Vec<PathSeg>> = Vec::new();
    // Keys filled with a placeholder: errors at or below them are consequences of a
    // problem already reported, so they are not reported again.
    let mut filled: Vec<Vec<PathSeg>> = Vec::new();
    // Mappings whose placeholder could not be built (a missing choice of variant):
    // they are removed instead, as a whole.
    let mut unfillable: Vec<Vec<PathSeg>> = Vec::new();
    // Each pass removes or fills one node, so the loop is bounded by the size of the
    // document and its schema; the cap is a second guard against a deserializer that
    // keeps failing in the same place.
    for _ in 0..1000 {
        let sink = RefCell::new(Vec::new());
        let result = T::deserialize(NodeDe {
            node: &tree,
            path: Vec::new(),
            sink: &sink,
        });
        for w in sink.into_inner() {
            if !errors.contains(&w) {
                errors.push(w);
            }
        }
        let e = match result {
            Ok(v) => return (Some(v), errors),
            Err(e) => e,
        };
        let under_filled = filled.iter().find(|f| e.path.starts_with(f)).cloned();
        let mut remove_at = e.path.clone();
        if let Some(field) = &e.missing {
            let mut key = e.path.clone();
            key.push(PathSeg::Key(field.clone()));
            // A key removed for an earlier error, or one inside a placeholder, was
            // reported already (or its absence follows from what was).
            let consequence = removed.contains(&key) || under_filled.is_some();
            if !consequence && !errors.contains(&e) {
                errors.push(e.clone());
            }
            if !unfillable.contains(&e.path) && tree.fill(&key) {
                filled.push(key);
                continue;
            }
        } else if let Some(stand_in) = under_filled {
            // A placeholder that cannot be built: drop the mapping that lacked the key.
            remove_at = stand_in[..stand_in.len() - 1].to_vec();
            unfillable.push(remove_at.clone());
        } else if !errors.contains(&e) {
            errors.push(e.clone());
        }
        // Remove the failing node (for a missing key that cannot be filled: the
        // mapping that lacks it). The root itself is never removed: that would only
        // produce noise.
        loop {
            if remove_at.is_empty() {
                if errors.is_empty() {
                    errors.push(e);
                }
                return (None, errors);
            }
            if tree.remove(&remove_at) {
                removed.push(remove_at);
                break;
            }
            remove_at.pop();
        }
    }
    (None, errors)
}

struct NodeDe<'a> {
    node: &'a Node,
    path: Vec<PathSeg>,
    sink: &'a RefCell<Vec<DeError>>,
}

impl NodeDe<'_> {
    fn error(&self, message: String) -> DeError {
        DeError {
            path: self.path.clone(),
            mark: self.node.mark,
            message,
            missing: None,
            located: true,
        }
    }

    fn locate(&self, mut e: DeError) -> DeError {
        if !e.located {
            e.path = self.path.clone();
            e.mark = self.node.mark;
            e.located = true;
        }
        e
    }

    /// A mapping, read as a struct (with its field list) or as a map.
    fn mapping<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries: &[(Node, Node)] = match &self.node.value {
            Value::Map(entries) => entries,
            Value::Placeholder => &[],
            _ => return Err(self.wrong_type("a mapping")),
        };
        let access = MapAccess {
            entries,
            index: 0,
            path: &self.path,
            sink: self.sink,
            fields,
        };
        visitor.visit_map(access).map_err(|e| self.locate(e))
    }

    fn wrong_type(&self, expected: &str) -> DeError {
        self.error(format!(
            "expected {expected}, found {}",
            match &self.node.value {
                Value::Str(s) => format!("the string `{}`", truncate(s)),
                Value::Int(i) => format!("the integer {i}"),
                Value::Float(f) => format!("the number {f}"),
                Value::Bool(b) => format!("the boolean {b}"),
                other => other.type_name().to_string(),
            }
        ))
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

macro_rules! int_method {
    ($method:ident, $visit:ident, $ty:ty, $name:literal) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match &self.node.value {
                Value::Placeholder => visitor.$visit(<$ty>::default()).map_err(|e| self.locate(e)),
                Value::Int(i) => match <$ty>::try_from(*i) {
                    Ok(v) => visitor.$visit(v).map_err(|e| self.locate(e)),
                    Err(_) => Err(self.error(format!("{i} is out of range for {}", $name))),
                },
                _ => Err(self.wrong_type($name)),
            }
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Null | Value::Removed | Value::Placeholder => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(_) => return self.deserialize_seq(visitor),
            Value::Map(_) => return self.deserialize_map(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Bool(b) => visitor.visit_bool(*b).map_err(|e| self.locate(e)),
            Value::Placeholder => visitor.visit_bool(false).map_err(|e| self.locate(e)),
            _ => Err(self.wrong_type("true or false")),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8, "a small integer");
    int_method!(deserialize_i16, visit_i16, i16, "an integer");
    int_method!(deserialize_i32, visit_i32, i32, "an integer");
    int_method!(deserialize_i64, visit_i64, i64, "an integer");
    int_method!(deserialize_u8, visit_u8, u8, "a whole number from 0 to 255");
    int_method!(
        deserialize_u16,
        visit_u16,
        u16,
        "a whole number from 0 to 65535"
    );
    int_method!(
        deserialize_u32,
        visit_u32,
        u32,
        "a whole number (0 or more)"
    );
    int_method!(
        deserialize_u64,
        visit_u64,
        u64,
        "a whole number (0 or more)"
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Int(i) => visitor.visit_f64(*i as f64),
            Value::Placeholder => visitor.visit_f64(0.0),
            _ => return Err(self.wrong_type("a number")),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => visitor.visit_str(s).map_err(|e| self.locate(e)),
            Value::Placeholder => visitor.visit_str("").map_err(|e| self.locate(e)),
            _ => Err(self.wrong_type("text")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(self.wrong_type("bytes"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Null | Value::Removed | Value::Placeholder => {
                visitor.visit_none().map_err(|e| self.locate(e))
            }
            _ => {
                let r = visitor.visit_some(NodeDe {
                    node: self.node,
                    path: self.path.clone(),
                    sink: self.sink,
                });
                r.map_err(|e| self.locate(e))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Null | Value::Placeholder => visitor.visit_unit().map_err(|e| self.locate(e)),
            _ => Err(self.wrong_type("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let r = visitor.visit_newtype_struct(NodeDe {
            node: self.node,
            path,
            sink: self.sink,
        });
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: &[Node] = match &self.node.value {
            Value::Seq(items) => items,
            Value::Placeholder => &[],
            _ => return Err(self.wrong_type("a list")),
        };
        let access = SeqAccess {
            items,
            index: 0,
            path: &self.path,
            sink: self.sink,
        };
        visitor.visit_seq(access).map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.mapping(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.mapping(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: DeError| self.locate(e)),
            // No variant is a neutral stand-in; the caller drops the enclosing mapping.
            Value::Placeholder => {
                Err(self.error("no value to stand in for a missing choice".into()))
            }
            _ => Err(self.wrong_type("one of the listed words")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'a> {
    items: &'a [Node],
    index: usize,
    path: &'a [PathSeg],
    sink: &'a RefCell<Vec<DeError>>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        while let Some(node) = self.items.get(self.index) {
            let index = self.index;
            self.index += 1;
            if node.value == Value::Removed {
                continue;
            }
            let mut path = self.path.to_vec();
            path.push(PathSeg::Index(index));
            let de = NodeDe {
                node,
                path,
                sink: self.sink,
            };
            let (p, m) = (de.path.clone(), node.mark);
            return seed.deserialize(de).map(Some).map_err(|e| locate(e, p, m));
        }
        Ok(None)
    }
}

fn locate(mut e: DeError, path: Vec<PathSeg>, mark: Mark) -> DeError {
    if !e.located {
        e.path = path;
        e.mark = mark;
        e.located = true;
    }
    e
}

struct MapAccess<'a> {
    entries: &'a [(Node, Node)],
    index: usize,
    path: &'a [PathSeg],
    sink: &'a RefCell<Vec<DeError>>,
    fields: Option<&'static [&'static str]>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        while let Some((key, value)) = self.entries.get(self.index) {
            if value.value == Value::Removed {
                self.index += 1;
                continue;
            }
            let Value::Str(name) = &key.value else {
                self.index += 1;
                continue;
            };
            if let Some(fields) = self.fields
                && !fields.contains(&name.as_str())
            {
                let mut path = self.path.to_vec();
                path.push(PathSeg::Key(name.clone()));
                let where_ = if self.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in `{}`", path_string(self.path))
                };
                let mut message = format!("unknown key `{name}` {where_}");
                match suggest(name, fields) {
                    Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                    None => message.push_str(&format!("; valid keys: {}", fields.join(", "))),
                }
                self.sink.borrow_mut().push(DeError {
                    path,
                    mark: key.mark,
                    message,
                    missing: None,
                    located: true,
                });
                self.index += 1;
                continue;
            }
            let mut path = self.path.to_vec();
            path.push(PathSeg::Key(name.clone()));
            return seed
                .deserialize(NodeDe {
                    node: key,
                    path: path.clone(),
                    sink: self.sink,
                })
                .map(Some)
                .map_err(|e| locate(e, path, key.mark));
        }
        Ok(None)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.entries.get(self.index) else {
            return Err(de::Error::custom(
                "value requested past the end of a mapping",
            ));
        };
        self.index += 1;
        let name = match &key.value {
            Value::Str(s) => s.clone(),
            _ => String::new(),
        };
        let mut path = self.path.to_vec();
        path.push(PathSeg::Key(name));
        let de = NodeDe {
            node: value,
            path: path.clone(),
            sink: self.sink,
        };
        seed.deserialize(de)
            .map_err(|e| locate(e, path, value.mark))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        size: u32,
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        list: Vec<u8>,
        #[serde(default)]
        flag: bool,
    }

    #[test]
    fn collects_every_problem_with_positions() {
        let doc = "inner:\n  size: big\n  nmae: x\nlist: [1, 300, 2]\nflag: yes\nextra: 1\n";
        let errs = from_node::<Outer>(&load(doc).unwrap()).1;
        let shown: Vec<String> = errs
            .iter()
            .map(|e| format!("{} {} {}", e.mark, path_string(&e.path), e.message))
            .collect();
        assert!(
            shown.contains(
                &"2:9 inner.size expected a whole number (0 or more), found the string `big`"
                    .to_string()
            ),
            "{shown:#?}"
        );
        assert!(
            shown.contains(
                &"3:3 inner.nmae unknown key `nmae` in `inner`; did you mean `name`?".to_string()
            ),
            "{shown:#?}"
        );
        assert!(
            shown.contains(
                &"4:11 list[1] 300 is out of range for a whole number from 0 to 255".to_string()
            ),
            "{shown:#?}"
        );
        assert!(
            shown.contains(&"5:7 flag expected true or false, found the string `yes`".to_string()),
            "{shown:#?}"
        );
        assert!(
            shown.iter().any(|s| s.starts_with("6:1 extra unknown key")),
            "{shown:#?}"
        );
    }

    #[test]
    fn suggestions_are_close_matches_only() {
        assert_eq!(
            suggest("memroy_mb", &["memory_mb", "timeout_s"]),
            Some("memory_mb")
        );
        assert_eq!(suggest("zzz", &["memory_mb", "timeout_s"]), None);
    }
}
