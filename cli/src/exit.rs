//! Exit codes, the same for every command: 0 ok, 1 error, 2 difference found.

/// What a command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; nothing to report (or no difference).
    Ok,
    /// Something failed (bad config, AWS error, findings from `policy lint`).
    Error,
    /// A comparison found a difference (`policy diff`, `plan --detailed-exitcode`).
    Different,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Different => 2,
        })
    }
}
