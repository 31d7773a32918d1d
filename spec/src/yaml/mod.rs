//! agent.yaml as a located tree, and serde deserialization from it.
//!
//! serde-based YAML crates stop at the first error and forget where values came from,
//! but claw promises `file:line:column` for every problem, all of them in one run.
//! So agent.yaml is read into a small located tree ([`tree`], built by [`load`] from
//! `saphyr-parser` events), deserialized from it collecting every problem ([`de`]),
//! and validation points back into it by key path.
//!
//! Module order, bottom-up: `tree` (no dependencies) <- `load`, `error` <-
//! `node_de` (the serde `Deserializer`) <- `de` (the collect-and-retry loop).

mod de;
mod error;
mod load;
mod node_de;
mod tree;

pub use de::from_node;
pub use error::{DeError, suggest};
pub use load::{LoadError, MAX_DEPTH, MAX_INPUT_BYTES, MAX_NODES, load};
pub use tree::{Mark, Node, PathSeg, Value, path_string};
