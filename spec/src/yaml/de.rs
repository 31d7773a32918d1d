//! serde deserialization from the located YAML tree, collecting every problem.
//!
//! serde stops at the first error. To report all problems in one run, [`from_node`]
//! deserializes, records the error with its key path and position, marks the offending
//! node as removed (or, for a missing required key, fills the key with an empty
//! placeholder), and tries again, until the document deserializes or nothing more
//! can be removed. Unknown keys never abort: the struct's own field list (which serde
//! hands to `deserialize_struct`) filters them out and suggests the nearest valid key.

use std::cell::RefCell;

use serde::de::DeserializeOwned;

use super::error::DeError;
use super::node_de::NodeDe;
#[cfg(doc)]
use super::tree::Value;
use super::tree::{Node, PathSeg};

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
        let result = T::deserialize(NodeDe::root(&tree, &sink));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{load, path_string, suggest};
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
