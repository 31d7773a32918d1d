//! The serde `Deserializer` over the located tree. Every error it returns carries
//! the key path and position of the node that caused it; unknown keys go to a
//! shared sink instead of failing, and a [`Value::Placeholder`] deserializes as an
//! empty value of whatever type is asked for.

use std::cell::RefCell;

use serde::de::{self, IntoDeserializer, Visitor};

use super::error::{DeError, suggest};
use super::tree::{Mark, Node, PathSeg, Value, path_string};

pub(super) struct NodeDe<'a> {
    node: &'a Node,
    path: Vec<PathSeg>,
    sink: &'a RefCell<Vec<DeError>>,
}

impl<'a> NodeDe<'a> {
    /// A deserializer for the whole tree, collecting unknown keys into `sink`.
    pub(super) fn root(node: &'a Node, sink: &'a RefCell<Vec<DeError>>) -> NodeDe<'a> {
        NodeDe {
            node,
            path: Vec::new(),
            sink,
        }
    }

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
