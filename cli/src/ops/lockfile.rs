//! The policy lockfile: the generated IAM documents as the files `claw policy
//! write` commits under `policies/<app>-<stage>/` (and `claw init` starts with).
//! One definition of the file set and its text, so the two never disagree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use claw_spec::Config;
use claw_spec::ci::GithubTrust;
use claw_spec::iam::PolicyDocument;
use claw_spec::policy::{self, PolicyKind};

/// All generated documents, by kind: the kinds agent.yaml determines, and the
/// CI trust when the repository is known.
pub fn generated(
    config: &Config,
    github: Option<&GithubTrust>,
) -> BTreeMap<PolicyKind, PolicyDocument> {
    PolicyKind::EVERY
        .into_iter()
        .filter_map(|k| policy::generate(k, config, github).ok().map(|d| (k, d)))
        .collect()
}

/// Pretty JSON with a trailing newline: the lockfile format.
pub fn to_file_text(doc: &PolicyDocument) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
    s.push('\n');
    s
}

/// The lockfile's files for `config`, relative to the lockfile directory
/// (`<app>-<stage>/<kind>.json`), with their text.
pub fn files(config: &Config) -> Vec<(PathBuf, String)> {
    let names = claw_spec::Names::new(config);
    generated(config, None)
        .into_iter()
        .map(|(kind, doc)| {
            (
                PathBuf::from(&names.function).join(kind.file_name()),
                to_file_text(&doc),
            )
        })
        .collect()
}
