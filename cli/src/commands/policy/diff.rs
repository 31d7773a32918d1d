//! The result of comparing generated documents with another side.

use claw_spec::policy_diff::Change;

/// One kind's comparison: `change` is None when the other side has no document.
pub struct KindDiff {
    pub kind: String,
    pub change: Option<Change>,
    /// What the document diff cannot show (policies attached outside claw...).
    pub notes: Vec<String>,
}

/// A whole comparison: which side generated documents were compared with
/// (`policies/…`, `deployed`) and each kind's difference.
pub struct Diffs {
    /// The stack compared, `<app>-<stage>`.
    pub stack: String,
    pub other: String,
    pub kinds: Vec<KindDiff>,
}
