//! The cargo profile the function is built with (below the build and the
//! toolchain, which both need it).

use serde::{Deserialize, Serialize};

/// Cargo profile of the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Optimised, stripped, `panic = "abort"` (the workspace's release profile).
    #[default]
    Release,
    /// Unoptimised, for debugging locally; large.
    Debug,
}
