//! One output path for every command.
//!
//! A command writes its progress for people through the [`Printer`] (text mode
//! only) and ends with one [`Report`], or with an error. `lib::main` hands either
//! to the printer exactly once, so `--output json` always prints exactly one JSON
//! document on stdout, success or failure, with the same top-level keys: `ok`, and
//! `error` when `ok` is false. Everything else a command says in JSON mode goes to
//! stderr.

use std::io::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::args::Output;
use crate::exit::Exit;
use crate::ops::load::ConfigError;

/// What a command ended with: its exit code, the error that made it fail (if it
/// did), and its result as a JSON object.
#[derive(Debug)]
pub struct Report {
    exit: Exit,
    error: Option<String>,
    body: Map<String, Value>,
}

impl Report {
    /// A successful result; `body` serializes to the keys of the JSON document.
    pub fn new(body: impl Serialize) -> Report {
        let body = match serde_json::to_value(body) {
            Ok(Value::Object(m)) => m,
            Ok(other) => Map::from_iter([("result".to_string(), other)]),
            Err(e) => Map::from_iter([(
                "result".to_string(),
                Value::String(format!("the result could not be serialized: {e}")),
            )]),
        };
        Report {
            exit: Exit::Ok,
            error: None,
            body,
        }
    }

    /// The same result with another exit code (`Exit::Different` for a diff found).
    pub fn with_exit(mut self, exit: Exit) -> Report {
        self.exit = exit;
        self
    }

    /// The result of a command that ran but failed (a function error, lint
    /// findings, a plan with blockers): exit 1, `ok: false` and this `error`.
    pub fn failed(mut self, error: impl Into<String>) -> Report {
        self.exit = Exit::Error;
        self.error = Some(error.into());
        self
    }

    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// The JSON document: `ok` first, the command's keys, then `error` on failure.
    pub fn document(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("ok".into(), Value::Bool(self.error.is_none()));
        for (k, v) in &self.body {
            if k != "ok" && k != "error" {
                doc.insert(k.clone(), v.clone());
            }
        }
        if let Some(e) = &self.error {
            doc.insert("error".into(), Value::String(e.clone()));
        }
        Value::Object(doc)
    }
}

/// Errors the output path renders with more than their message (besides
/// [`ConfigError`], whose located problems it prints).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A command refused to go on (deploy with blockers, approval missing); the
    /// details (the plan, say) go into the JSON document beside the error.
    #[error("{message}")]
    Refused {
        message: String,
        details: Map<String, Value>,
    },
}

impl CliError {
    /// A refusal with the given details (an object's keys) for the JSON document.
    pub fn refused(message: impl Into<String>, details: impl Serialize) -> CliError {
        let details = match serde_json::to_value(details) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        CliError::Refused {
            message: message.into(),
            details,
        }
    }
}

/// Where every command's output goes, in the format `--output` asked for.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
}

impl Printer {
    pub fn new(output: Output) -> Printer {
        Printer {
            json: output == Output::Json,
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Text for people on stdout; nothing in JSON mode (stdout carries one document).
    pub fn text(&self, text: impl std::fmt::Display) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{text}");
        }
    }

    /// One line of text on stdout; nothing in JSON mode.
    pub fn line(&self, text: impl std::fmt::Display) {
        if !self.json {
            println!("{text}");
        }
    }

    /// A warning or note for people on stderr; nothing in JSON mode, where the
    /// document carries it.
    pub fn note(&self, text: impl std::fmt::Display) {
        if !self.json {
            eprintln!("{text}");
        }
    }

    /// Prints a finished command's document (JSON mode) and returns its exit code.
    pub fn finish(&self, report: &Report) -> Exit {
        if self.json {
            print_document(&report.document());
        }
        report.exit()
    }

    /// Prints a failed command's error: one JSON document with `ok: false` and
    /// `error`, or the located problems and the cause chain on stderr.
    pub fn fail(&self, err: &anyhow::Error) -> Exit {
        let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
        let cli = err.downcast_ref::<CliError>();
        let config = err.downcast_ref::<ConfigError>();
        if self.json {
            let mut doc = Map::new();
            doc.insert("ok".into(), Value::Bool(false));
            doc.insert("error".into(), Value::String(chain.join(": ")));
            if let Some(cfg) = config {
                doc.insert(
                    "problems".into(),
                    serde_json::to_value(&cfg.problems).unwrap_or_default(),
                );
            }
            if let Some(CliError::Refused { details, .. }) = cli {
                for (k, v) in details {
                    doc.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            print_document(&Value::Object(doc));
        } else if let Some(cfg) = config {
            for p in &cfg.problems {
                eprintln!("{}\n", p.render(&cfg.source_text));
            }
            eprintln!("error: {cfg}");
        } else {
            eprintln!("error: {}", chain[0]);
            for c in &chain[1..] {
                eprintln!("  caused by: {c}");
            }
        }
        Exit::Error
    }
}

fn print_document(doc: &Value) {
    let text = serde_json::to_string_pretty(doc).unwrap_or_else(|e| {
        format!("{{\"ok\": false, \"error\": \"cannot serialize the result: {e}\"}}")
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lead_with_ok_and_end_with_error() {
        let r = Report::new(serde_json::json!({"a": 1, "ok": "ignored"}));
        assert_eq!(r.document(), serde_json::json!({"ok": true, "a": 1}));
        assert_eq!(r.exit(), Exit::Ok);
        let r = Report::new(serde_json::json!({"a": 1})).failed("boom");
        assert_eq!(
            serde_json::to_string(&r.document()).unwrap(),
            r#"{"ok":false,"a":1,"error":"boom"}"#
        );
        assert_eq!(r.exit(), Exit::Error);
    }

    #[test]
    fn non_object_results_are_wrapped() {
        let r = Report::new(vec![1, 2]).with_exit(Exit::Different);
        assert_eq!(
            r.document(),
            serde_json::json!({"ok": true, "result": [1, 2]})
        );
        assert_eq!(r.exit(), Exit::Different);
    }
}
