//! agent.yaml as a located tree, and serde deserialization from it.
//!
//! serde-based YAML crates stop at the first error and forget where values came from,
//! but claw promises `file:line:column` for every problem, all of them in one run.
//! So agent.yaml is read into a small located tree ([`tree`], built by [`load`] from
//! `saphyr-parser` events), deserialized from it collecting every problem ([`de`]),
//! and validation points back into it by key path.
//!
//! Module order, bottom-up: `tree` (no dependencies) <- `load`, `de`.

pub mod de;
mod load;
mod tree;

pub use de::{DeError, from_node, suggest};
pub use load::{LoadError, MAX_DEPTH, MAX_INPUT_BYTES, MAX_NODES, load};
pub use tree::{Mark, Node, PathSeg, Value, path_string};
