//! The problems deserialization reports, and the "did you mean" suggestion.

use std::fmt;

use serde::de;

use super::tree::{Mark, PathSeg};

/// One problem found while reading agent.yaml into the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DeError {
    pub path: Vec<PathSeg>,
    pub mark: Mark,
    pub message: String,
    /// Missing-key errors are reported on the mapping that lacks the key; they are
    /// dropped when the key was present but removed for an earlier error.
    pub(super) missing: Option<String>,
    pub(super) located: bool,
}

impl DeError {
    /// The key whose absence this error reports, if it is a missing-key error.
    pub fn missing_key(&self) -> Option<&str> {
        self.missing.as_deref()
    }

    /// The path this error is about: the missing key's own path for a missing-key
    /// error (its `path` is the mapping that lacks it), else `path`.
    pub fn subject(&self) -> Vec<PathSeg> {
        let mut p = self.path.clone();
        if let Some(k) = &self.missing {
            p.push(PathSeg::Key(k.clone()));
        }
        p
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            path: Vec::new(),
            mark: Mark::default(),
            message: msg.to_string(),
            missing: None,
            located: false,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = DeError::custom(format!("missing required key `{field}`"));
        e.missing = Some(field.to_string());
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut msg = format!(
            "`{variant}` is not one of {}",
            expected
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(s) = suggest(variant, expected) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        DeError::custom(msg)
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::custom(format!("expected {exp}, found {}", describe(unexp)))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::custom(format!("expected {exp}, found {}", describe(unexp)))
    }
}

fn describe(unexp: de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Str(s) => format!("the string `{s}`"),
        de::Unexpected::Signed(i) => format!("the integer {i}"),
        de::Unexpected::Unsigned(i) => format!("the integer {i}"),
        de::Unexpected::Float(f) => format!("the number {f}"),
        de::Unexpected::Bool(b) => format!("the boolean {b}"),
        de::Unexpected::Unit => "nothing (null)".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Suggests the closest candidate to `got`, if one is close enough to be a typo.
pub fn suggest<'a>(got: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let got_l = got.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                c,
                strsim::damerau_levenshtein(&got_l, &c.to_ascii_lowercase()),
            )
        })
        .filter(|(c, d)| *d <= 2.max(c.len() / 3) && *d < c.len().max(got.len()))
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| *c)
}
