//! What the section checks share: the finding type and the collector.

use crate::model::RawConfig;
use crate::yaml::PathSeg;

/// How serious a finding is. Errors stop every command; warnings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Advice that needs no change, such as a prompt too short to cache.
    Note,
}

/// A finding before it is located in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub path: Vec<PathSeg>,
    pub message: String,
    /// Point at the key itself rather than its value (for "not allowed here").
    pub at_key: bool,
}

/// The findings so far, and the config they are about.
pub(super) struct Check<'a> {
    pub(super) out: Vec<Finding>,
    pub(super) config: &'a RawConfig,
}

pub(super) fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

/// A key path from its keys.
pub(super) fn p(parts: &[&str]) -> Vec<PathSeg> {
    parts.iter().map(|k| key(k)).collect()
}

impl Check<'_> {
    pub(super) fn error(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Error,
            path,
            message: message.into(),
            at_key: false,
        });
    }

    pub(super) fn key_error(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Error,
            path,
            message: message.into(),
            at_key: true,
        });
    }

    pub(super) fn warn(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Warning,
            path,
            message: message.into(),
            at_key: false,
        });
    }

    pub(super) fn note(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Note,
            path,
            message: message.into(),
            at_key: false,
        });
    }

    pub(super) fn range(&mut self, path: Vec<PathSeg>, value: u64, lo: u64, hi: u64, unit: &str) {
        if value < lo || value > hi {
            self.error(
                path,
                format!("must be from {lo} to {hi}{unit}, found {value}"),
            );
        }
    }
}
