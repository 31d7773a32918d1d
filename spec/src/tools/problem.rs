//! What the tool kinds' checks take and give back.

/// What the kinds' checks need to know about the rest of the config.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The function's timeout: an http tool's timeout may not exceed it.
    pub function_timeout_s: u32,
    /// This agent's own function: a tool may not invoke it.
    pub own_function: &'a str,
}

/// A problem a kind's checks found, at a key path below the tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub keys: Vec<&'static str>,
    pub message: String,
    pub warning: bool,
}

impl Problem {
    pub(super) fn error(keys: &[&'static str], message: impl Into<String>) -> Problem {
        Problem {
            keys: keys.to_vec(),
            message: message.into(),
            warning: false,
        }
    }

    pub(super) fn warning(keys: &[&'static str], message: impl Into<String>) -> Problem {
        Problem {
            warning: true,
            ..Problem::error(keys, message)
        }
    }

    pub(super) fn range(
        out: &mut Vec<Problem>,
        key: &'static str,
        value: u64,
        lo: u64,
        hi: u64,
        unit: &str,
    ) {
        if value < lo || value > hi {
            out.push(Problem::error(
                &[key],
                format!("must be from {lo} to {hi}{unit}, found {value}"),
            ));
        }
    }
}
