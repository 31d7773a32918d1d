//! `claw deploy`: build if needed, plan, ask when permissions broaden, apply.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use claw_spec::Config;

use crate::aws::progress::Progress;
use crate::aws::stack::{self, Code, Outcome};
use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Approval {
    /// Never ask.
    Never,
    /// Ask when permissions broaden or drift would be removed (the default).
    Broadening,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Approve broadening security changes and drift removal without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// When to ask for approval: `broadening` (IAM statements or invoke permissions
    /// added, a route opened up, statements added outside claw removed) or `never`.
    /// Without a terminal, a change that needs approval stops the deploy unless --yes.
    #[arg(long, value_enum, default_value_t = Approval::Broadening)]
    pub require_approval: Approval,
    /// Deploy this package (a zip with `bootstrap`) instead of building.
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
}

/// The package `claw build` last wrote for this config, if there is one. Used by
/// `claw plan` to compare code without building.
pub fn existing_package(_config: &Config) -> anyhow::Result<Option<Code>> {
    Ok(None)
}

/// The package to deploy: `--zip`, or a fresh build.
fn package(_ctx: &Context, zip: Option<&Path>) -> anyhow::Result<Code> {
    match zip {
        Some(p) => Code::from_zip(p),
        None => anyhow::bail!(
            "building the function is not available in this build; build the zip yourself and pass --zip PATH"
        ),
    }
}

/// Asks a yes/no question on the terminal.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
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

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let code = {
        // Validate the config before building: a bad agent.yaml should not cost a build.
        let loaded = ctx.load_quiet()?;
        let _ = loaded;
        package(ctx, args.zip.as_deref())?
    };
    let zip = code.path.clone();
    let (aws, target, live, plan) = crate::commands::plan::make_plan(ctx, Some(&zip)).await?;
    let json = ctx.json();
    if !json {
        print!("{}", plan.render());
    }
    if !plan.blockers.is_empty() {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"ok": false, "plan": plan}))?
            );
        }
        anyhow::bail!(
            "deploy refused: {} problem{} to fix first:\n  {}",
            plan.blockers.len(),
            if plan.blockers.len() == 1 { "" } else { "s" },
            plan.blockers.join("\n  ")
        );
    }
    let outcome = if !plan.has_changes() {
        if !json {
            println!("No changes.");
        }
        Outcome {
            endpoint: live
                .api
                .ours
                .as_ref()
                .map(|a| a.endpoint.clone())
                .unwrap_or_default(),
            api_id: live
                .api
                .ours
                .as_ref()
                .map(|a| a.id.clone())
                .unwrap_or_default(),
            function_arn: live
                .function
                .as_ref()
                .map(|f| f.arn.clone())
                .unwrap_or_else(|| target.names.function_arn()),
            code_sha256: code.sha256.clone(),
        }
    } else {
        if plan.needs_approval() && args.require_approval == Approval::Broadening && !args.yes {
            let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            if !terminal {
                anyhow::bail!(
                    "this deploy broadens permissions or removes statements added outside claw (see \"Security changes\"); nothing was changed. Re-run with --yes to approve, or on a terminal to be asked"
                );
            }
            if !confirm("Apply these security changes?")? {
                anyhow::bail!("not approved; nothing was changed");
            }
        }
        if !json {
            println!("\nApplying:");
        }
        let progress = Progress::new(json);
        match stack::apply(&aws, &target, &live, &plan, &progress).await {
            Ok(o) => o,
            Err(e) => {
                return Err(e.context(format!(
                    "deploy of {} stopped after {} change{}; what was applied is in place and nothing is half-done that a re-run cannot finish: run `claw deploy` again to converge",
                    target.names.function,
                    aws.calls.mutations(),
                    if aws.calls.mutations() == 1 { "" } else { "s" }
                )));
            }
        }
    };
    let secs = started.elapsed().as_secs_f64();
    if json {
        let v = serde_json::json!({
            "ok": true,
            "plan": plan,
            "endpoint": outcome.endpoint,
            "api_id": outcome.api_id,
            "function_arn": outcome.function_arn,
            "code_sha256": outcome.code_sha256,
            "api_calls": {"reads": aws.calls.reads(), "mutations": aws.calls.mutations()},
            "seconds": secs,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!();
        println!("Endpoint:    {}", outcome.endpoint);
        println!("Function:    {}", outcome.function_arn);
        println!("CodeSha256:  {}", outcome.code_sha256);
        println!(
            "Done in {secs:.1} s ({} API calls, {} of them changes).",
            aws.calls.reads() + aws.calls.mutations(),
            aws.calls.mutations()
        );
    }
    Ok(Exit::Ok)
}
