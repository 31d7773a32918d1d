//! What the validation tests share: load a document, list its errors, and assert
//! one error's place and text.
#![allow(dead_code)] // each test file uses its own part

use claw_spec::{Diagnostic, Overrides, Severity};

pub fn load(text: &str) -> Result<claw_spec::Config, Vec<Diagnostic>> {
    claw_spec::load("agent.yaml", text, &Overrides::default(), &|_| None).map(|l| l.config)
}

pub fn errors(text: &str) -> Vec<Diagnostic> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(d) => d
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect(),
    }
}

/// An error at `path`, at `line`, whose message contains `want`.
pub fn assert_error(text: &str, path: &str, line: usize, want: &str) {
    let found = errors(text);
    let hit = found
        .iter()
        .any(|d| d.path == path && d.line == line && d.message.contains(want));
    let show: Vec<String> = found.iter().map(Diagnostic::headline).collect();
    assert!(
        hit,
        "expected {path} at line {line} ~ {want:?}, got {show:#?}"
    );
}

/// The warnings of a valid document, as `path: message`.
pub fn warnings(text: &str) -> Vec<String> {
    claw_spec::load("agent.yaml", text, &Overrides::default(), &|_| None)
        .map(|l| {
            l.warnings
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect()
        })
        .unwrap_or_default()
}
