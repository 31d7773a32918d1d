//! The S3 tool kinds: `s3_get` and `s3_put`, confined to one bucket and prefix.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::problem::Problem;
use super::raw::RawTool;
use crate::iam::Statement;
use crate::names::Names;
use crate::rules::is_bucket_name;

/// The kind-specific keys: (required, optional).
pub const KEYS: (&[&str], &[&str]) = (&["bucket"], &["prefix"]);

/// A validated S3 tool: a bucket and the key prefix it is confined to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct S3Tool {
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl S3Tool {
    pub(super) fn from_raw(raw: &RawTool) -> Option<S3Tool> {
        Some(S3Tool {
            bucket: raw.bucket.clone()?,
            prefix: raw.prefix.clone(),
        })
    }

    /// The prefix, empty when none is set.
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or_default()
    }

    /// `action` on the objects under the prefix.
    pub(super) fn statement(&self, sid: &str, action: &str, names: &Names) -> Statement {
        Statement::allow(
            sid,
            &[action],
            vec![names.s3_objects_arn(&self.bucket, self.prefix())],
        )
    }
}

pub(super) fn get_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"key": {"type": "string", "description": "Object key, relative to the tool's prefix"}},
        "required": ["key"]
    })
}

pub(super) fn put_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"key": {"type": "string"}, "body": {"type": "string"}},
        "required": ["key", "body"]
    })
}

pub(super) fn check(tool: &RawTool, out: &mut Vec<Problem>) {
    if let Some(b) = &tool.bucket
        && !is_bucket_name(b)
    {
        out.push(Problem::error(
            &["bucket"],
            format!("`{b}` is not an S3 bucket name"),
        ));
    }
    if let Some(pre) = &tool.prefix
        && (pre.starts_with('/') || pre.contains('*') || pre.contains(".."))
    {
        out.push(Problem::error(
            &["prefix"],
            "the prefix must not start with `/` or contain `*` or `..`",
        ));
    }
}
