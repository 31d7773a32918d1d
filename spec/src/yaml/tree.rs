//! The located YAML tree: every value with the line and column it came from, and
//! the key paths that diagnostics use to point back into it. Both the loader
//! ([`super::load`]) and the deserializer ([`super::de`]) build on this module; it
//! depends on neither.

use std::fmt;

/// A 1-based line and column in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub mark: Mark,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string scalar. `quoted` is true when the source quoted it (or used a block
    /// scalar), so `"123"` stays text while a plain `123` is a number.
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// A node removed after it produced an error, so later passes skip it.
    Removed,
    /// Stands in for a required key that is missing (or was removed for an error),
    /// so the rest of its mapping can still be read and checked. It deserializes as
    /// an empty value: `""`, `0`, `false`, an empty list or mapping.
    Placeholder,
}

impl Value {
    /// The YAML type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Removed | Value::Placeholder => "nothing",
        }
    }
}

impl Node {
    /// Looks up a key in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The (key, value) pair of a mapping entry.
    fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key)),
            _ => None,
        }
    }

    /// One step down a path.
    fn child(&self, seg: &PathSeg) -> Option<&Node> {
        match (seg, &self.value) {
            (PathSeg::Key(k), _) => self.get(k),
            (PathSeg::Index(i), Value::Seq(items)) => items.get(*i),
            _ => None,
        }
    }

    fn child_mut(&mut self, seg: &PathSeg) -> Option<&mut Node> {
        match (seg, &mut self.value) {
            (PathSeg::Key(k), Value::Map(entries)) => entries
                .iter_mut()
                .find(|(key, _)| matches!(&key.value, Value::Str(s) if s == k))
                .map(|(_, v)| v),
            (PathSeg::Index(i), Value::Seq(items)) => items.get_mut(*i),
            _ => None,
        }
    }

    /// The deepest node that exists along `path`.
    fn deepest(&self, path: &[PathSeg]) -> (&Node, usize) {
        let mut node = self;
        for (depth, seg) in path.iter().enumerate() {
            match node.child(seg) {
                Some(n) => node = n,
                None => return (node, depth),
            }
        }
        (node, path.len())
    }

    /// The position of the node at a path, or of the deepest node that exists on it.
    pub fn locate(&self, path: &[PathSeg]) -> Mark {
        self.deepest(path).0.mark
    }

    /// The position of a key (not its value) at a path; falls back to [`Node::locate`].
    pub fn locate_key(&self, path: &[PathSeg]) -> Mark {
        let Some((last, parent)) = path.split_last() else {
            return self.mark;
        };
        let (node, reached) = self.deepest(parent);
        if reached < parent.len() {
            return node.mark;
        }
        match last {
            PathSeg::Key(k) => node
                .entry(k)
                .map_or_else(|| self.locate(path), |(key, _)| key.mark),
            PathSeg::Index(_) => self.locate(path),
        }
    }

    /// Marks the node at `path` as removed. Returns false when there is no such node.
    pub fn remove(&mut self, path: &[PathSeg]) -> bool {
        let mut node = self;
        for seg in path {
            match node.child_mut(seg) {
                Some(n) => node = n,
                None => return false,
            }
        }
        if node.value == Value::Removed {
            return false;
        }
        node.value = Value::Removed;
        true
    }
}

impl Node {
    /// Puts a [`Value::Placeholder`] at `path`, whose last step must be a key: over a
    /// removed value, or as a new entry of the mapping above it (a placeholder there
    /// becomes an empty mapping first). Returns false when there is no such mapping.
    pub fn fill(&mut self, path: &[PathSeg]) -> bool {
        let Some((PathSeg::Key(key), parent)) = path.split_last() else {
            return false;
        };
        let mut node = self;
        for seg in parent {
            match node.child_mut(seg) {
                Some(n) => node = n,
                None => return false,
            }
        }
        if node.value == Value::Placeholder {
            node.value = Value::Map(Vec::new());
        }
        let mark = node.mark;
        let Value::Map(entries) = &mut node.value else {
            return false;
        };
        let stand_in = Node {
            value: Value::Placeholder,
            mark,
        };
        match entries
            .iter_mut()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
        {
            Some((_, v)) if v.value == Value::Removed => *v = stand_in,
            Some(_) => return false,
            None => entries.push((
                Node {
                    value: Value::Str(key.clone()),
                    mark,
                },
                stand_in,
            )),
        }
        true
    }
}

/// One step of a key path such as `tools.get_lead.url` or `vpc.subnet_ids[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Renders a key path the way users write it: `tools.get_lead.url`, `vpc.subnet_ids[0]`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}
