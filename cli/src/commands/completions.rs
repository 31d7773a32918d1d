//! `claw completions SHELL`: the shell completion script, generated from claw's
//! own command definition, so it always matches this version's commands and flags.

use serde::Serialize;

use crate::context::Context;
use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<Shell> for clap_complete::Shell {
    fn from(s: Shell) -> clap_complete::Shell {
        match s {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
            Shell::Powershell => clap_complete::Shell::PowerShell,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Serialize)]
struct CompletionsReport<'a> {
    shell: &'a str,
    script: String,
}

/// Prints the script for `command` (claw's whole command line definition).
pub fn run(ctx: &Context, args: &Args, mut command: clap::Command) -> anyhow::Result<Report> {
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(args.shell),
        &mut command,
        "claw",
        &mut script,
    );
    let script = String::from_utf8(script)?;
    ctx.out.text(&script);
    let shell = match args.shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
        Shell::Fish => "fish",
        Shell::Powershell => "powershell",
    };
    Ok(Report::new(CompletionsReport { shell, script }))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;
    use crate::args::{GlobalArgs, Output};
    use crate::cli::Cli;

    fn script(shell: Shell) -> String {
        let ctx = Context::new(&GlobalArgs {
            config: "agent.yaml".into(),
            stage: None,
            region: None,
            output: Output::Json,
            verbose: 0,
        });
        let report = run(&ctx, &Args { shell }, Cli::command()).expect("generating");
        report.document()["script"]
            .as_str()
            .expect("the script")
            .to_string()
    }

    #[test]
    fn the_bash_script_completes_every_command_and_its_flags() {
        let bash = script(Shell::Bash);
        for sub in Cli::command().get_subcommands() {
            assert!(
                bash.contains(sub.get_name()),
                "`{}` missing from the bash script",
                sub.get_name()
            );
        }
        for word in [
            "init",
            "deploy",
            "--require-approval",
            "--detailed-exitcode",
        ] {
            assert!(bash.contains(word), "{word}");
        }
        assert!(bash.contains("complete -F _claw"), "{bash}");
    }

    #[test]
    fn every_shell_gets_a_script() {
        for shell in [Shell::Zsh, Shell::Fish, Shell::Powershell] {
            let s = script(shell);
            assert!(s.contains("deploy") && s.contains("claw"), "{shell:?}");
        }
    }
}
