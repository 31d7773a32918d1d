//! Asking before a change that needs a person's yes: on a terminal claw asks;
//! without one (CI), the change stops unless the command line approved it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;

use crate::report::CliError;

/// What to ask, and what to say when nobody can be asked.
pub struct Ask<'a> {
    /// The yes/no question on the terminal.
    pub question: &'a str,
    /// The refusal without a terminal (says how to approve non-interactively).
    pub no_terminal: &'a str,
    /// The refusal when the answer is no.
    pub declined: &'a str,
}

/// Asks on the terminal, or refuses when there is none or the answer is no.
/// `details` go into the JSON document of the refusal (the plan, say).
pub fn require(ask: &Ask<'_>, details: impl serde::Serialize) -> anyhow::Result<()> {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !terminal {
        return Err(CliError::refused(ask.no_terminal, details).into());
    }
    if !confirm(ask.question)? {
        return Err(CliError::refused(ask.declined, details).into());
    }
    Ok(())
}

/// Asks a yes/no question on the terminal (stderr), reading the answer from stdin.
fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer from the terminal")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
