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
    /// Deploy this package (a zip with an executable `bootstrap`) instead of
    /// building. Without it, deploy runs `claw build` first (incrementally).
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
    /// How long to wait for another deploy or destroy of this app and stage to
    /// finish (`30s`, `5m`); by default claw stops at once and says who holds the lock.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

/// The package `claw build` (or an earlier deploy) last wrote for this config and
/// architecture, if there is one: `claw plan` compares its CodeSha256 with the
/// function's without building. No package, or no claw workspace to find it in,
/// is not an error: the plan then says the code was not compared.
pub fn existing_package(ctx: &Context, config: &Config) -> anyhow::Result<Option<Code>> {
    let Ok(workspace) = crate::package::Workspace::locate(&ctx.global.config) else {
        return Ok(None);
    };
    match crate::package::existing(config, &workspace, config.function.architecture) {
        Ok((zip, _manifest)) => Code::from_zip(&zip).map(Some),
        Err(_) => Ok(None),
    }
}

/// The package to deploy: `--zip`, or a build (incremental: an unchanged function
/// costs cargo's no-op check, and the zip is rewritten only when its inputs change).
async fn package(ctx: &Context, config: &Config, zip: Option<&Path>) -> anyhow::Result<Code> {
    if let Some(p) = zip {
        return Code::from_zip(p);
    }
    let mut params = crate::package::BuildParams::new(config, &ctx.global.config, None)?;
    params.progress = crate::package::BuildProgress::Auto;
    params.verbose = ctx.verbose() > 0;
    let out = tokio::task::spawn_blocking(move || crate::package::ensure_built(&params))
        .await
        .context("the build task panicked")??;
    let code = Code::from_zip(&out.zip_path)?;
    if code.sha256 != out.code_sha256 {
        anyhow::bail!(
            "{} changed while deploying (CodeSha256 {} after the build, {} now); run claw deploy again",
            out.zip_path.display(),
            out.code_sha256,
            code.sha256
        );
    }
    Ok(code)
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
    // The config is validated before building: a bad agent.yaml costs no build.
    let loaded = ctx.load_quiet()?;
    let code = package(ctx, &loaded.config, args.zip.as_deref()).await?;
    let build_secs = started.elapsed().as_secs_f64();
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
        // One writer per app and stage. The state is read again under the lock: a
        // deploy that finished while this one waited may have changed it.
        let lock = crate::aws::lock::acquire(
            &aws,
            &target.names.function,
            "deploy",
            &target.tags,
            args.lock_timeout,
        )
        .await?;
        let live = stack::read(&aws, &target).await?;
        let relocked = stack::plan(&target, &live);
        if relocked.needs_approval() && !plan.needs_approval() && !args.yes {
            lock.release().await?;
            anyhow::bail!(
                "the stack changed while this deploy waited for the lock, and the new plan needs approval; nothing was changed. Run `claw deploy` again"
            );
        }
        let plan = relocked;
        if !json {
            println!("\nApplying:");
        }
        let progress = Progress::new(json);
        let applied = stack::apply(&aws, &target, &live, &plan, &progress).await;
        // A lock that cannot be released now goes stale after its heartbeat stops;
        // the apply error, if any, is the one to report.
        let released = lock.release().await;
        match applied {
            Ok(o) => {
                released?;
                o
            }
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
            "build_seconds": if args.zip.is_none() { Some(build_secs) } else { None },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!();
        println!("Endpoint:    {}", outcome.endpoint);
        println!("Function:    {}", outcome.function_arn);
        println!("CodeSha256:  {}", outcome.code_sha256);
        let build = if args.zip.is_none() {
            format!("build {build_secs:.1} s, ")
        } else {
            String::new()
        };
        println!(
            "Done in {secs:.1} s ({build}{} API calls, {} of them changes).",
            aws.calls.reads() + aws.calls.mutations(),
            aws.calls.mutations()
        );
    }
    Ok(Exit::Ok)
}
