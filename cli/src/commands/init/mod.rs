//! `claw init [DIR]`: a working starting point for a new agent's repository: an
//! annotated agent.yaml, a `.gitignore` for build output, the policy lockfile and
//! a GitHub Actions workflow. It never overwrites a file: what exists is kept and
//! reported as skipped, so running it again only adds what is missing.

mod files;
#[cfg(test)]
mod tests;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use claw_spec::{Config, Overrides};
use serde::Serialize;

use crate::context::Context;
use crate::report::Report;
use files::{Answers, Field};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write into; created when missing.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The app's name (`app:`): lowercase letters, digits and single hyphens,
    /// starting with a letter. Every resource is named {app}-{stage}[-suffix].
    #[arg(long)]
    pub app: Option<String>,
    /// The 12-digit AWS account (`account:`); deploys refuse credentials for any
    /// other account.
    #[arg(long)]
    pub account: Option<String>,
}

/// One file `claw init` did not write, and why.
#[derive(Debug, Serialize)]
struct Skipped {
    path: String,
    reason: String,
}

/// The JSON document of `claw init`.
#[derive(Debug, Serialize)]
struct InitReport {
    dir: String,
    app: String,
    stage: String,
    region: String,
    written: Vec<String>,
    skipped: Vec<Skipped>,
    next_steps: Vec<String>,
}

pub fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let dir = &args.dir;
    let config_path = dir.join("agent.yaml");
    // An existing agent.yaml is planned with no text: it is never written.
    let mut planned: Vec<(PathBuf, Option<String>)> = Vec::new();
    let (config, stages) = if config_path.exists() {
        planned.push(("agent.yaml".into(), None));
        // The example conversation is with the agent of the agent.yaml claw init writes.
        planned.push((files::EXAMPLE_RECORDING_PATH.into(), None));
        planned.push((files::EXAMPLE_CHECKS_PATH.into(), None));
        existing_config(ctx, args, &config_path)?
    } else {
        // Asked (and checked) before anything is created.
        let (text, config) = new_config(ctx, args)?;
        planned.push(("agent.yaml".into(), Some(text)));
        // The example conversation is with this agent.yaml's agent: written with it only.
        planned.push((
            files::EXAMPLE_RECORDING_PATH.into(),
            Some(files::EXAMPLE_RECORDING.into()),
        ));
        planned.push((
            files::EXAMPLE_CHECKS_PATH.into(),
            Some(files::EXAMPLE_CHECKS.into()),
        ));
        (config.clone(), vec![config])
    };
    planned.push((".gitignore".into(), Some(files::gitignore())));
    // One lockfile directory per stage, as `claw policy write` writes them.
    planned.extend(
        stages
            .iter()
            .flat_map(files::lockfile)
            .map(|(rel, text)| (rel, Some(text))),
    );
    planned.push((files::WORKFLOW_PATH.into(), Some(files::workflow(&config))));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for (rel, text) in planned {
        let path = dir.join(&rel);
        let wrote = match &text {
            Some(text) => write_new(&path, text)?,
            None => false,
        };
        if wrote {
            ctx.out.line(format_args!("wrote {}", path.display()));
            written.push(path.display().to_string());
        } else {
            let reason = skip_reason(&rel, &path);
            ctx.out
                .line(format_args!("skipped {}: {reason}", path.display()));
            skipped.push(Skipped {
                path: path.display().to_string(),
                reason,
            });
        }
    }
    let example = written
        .iter()
        .any(|p: &String| p.ends_with(files::EXAMPLE_RECORDING_PATH));
    let next_steps = next_steps(dir, &config, example);
    ctx.out.line("\nNext steps:");
    for s in &next_steps {
        ctx.out.line(format_args!("  {s}"));
    }
    Ok(Report::new(InitReport {
        dir: dir.display().to_string(),
        app: config.app.clone(),
        stage: config.stage.clone(),
        region: config.region.clone(),
        written,
        skipped,
        next_steps,
    }))
}

/// The config of an agent.yaml already in the directory, kept as it is: the
/// selected stage's (for the workflow and next steps) and every stage's (for the
/// lockfile).
fn existing_config(
    ctx: &Context,
    args: &Args,
    path: &Path,
) -> anyhow::Result<(Config, Vec<Config>)> {
    if args.app.is_some() || args.account.is_some() || ctx.global.region.is_some() {
        ctx.out.note(format_args!(
            "{} exists and is kept: --app, --region and --account apply only to a new agent.yaml",
            path.display()
        ));
    }
    let overrides = Overrides {
        stage: ctx.global.stage.clone(),
        region: None,
    };
    let loaded = crate::ops::load::load_config(path, &overrides).and_then(|selected| {
        let all = crate::ops::load::load_config_stages(path, &Overrides::default())?;
        // Without `stages:`, the one stage is the selected one (`--stage` names any).
        let all = if all.len() > 1 {
            all.into_iter().map(|l| l.config).collect()
        } else {
            vec![selected.config.clone()]
        };
        Ok((selected.config, all))
    });
    loaded.inspect_err(|_| {
        ctx.out.note(format_args!(
            "{} exists and does not load; fix it (`claw validate`), then run `claw init` again to add the other files",
            path.display()
        ));
    })
}

/// A new agent.yaml from the flags, asking on a terminal for what they lack.
fn new_config(ctx: &Context, args: &Args) -> anyhow::Result<(String, Config)> {
    let mut answers = Answers {
        app: args.app.clone().unwrap_or_default(),
        stage: ctx.global.stage.clone().unwrap_or_else(|| "dev".into()),
        region: ctx.global.region.clone().unwrap_or_default(),
        account: args.account.clone().unwrap_or_default(),
    };
    let mut ask: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| f.get(&answers).is_empty())
        .collect();
    let terminal = std::io::stdin().is_terminal();
    if !ask.is_empty() && !terminal {
        let flags: Vec<String> = ask.iter().map(|f| format!("--{}", f.key())).collect();
        anyhow::bail!(
            "{} {} required when stdin is not a terminal",
            join_and(&flags),
            if flags.len() == 1 { "is" } else { "are" }
        );
    }
    // Each answer is checked as `claw validate` checks agent.yaml; on a terminal a
    // wrong answer is asked again, a wrong flag is an error.
    for _ in 0..3 {
        for f in &ask {
            let value = prompt(*f, &args.dir)?;
            set(&mut answers, *f, value);
        }
        match files::check(&answers) {
            Ok(loaded) => return Ok((files::agent_yaml(&answers), loaded.config)),
            Err(files::Rejected { fields, others }) => {
                if let Some(p) = others.first() {
                    anyhow::bail!(
                        "the agent.yaml claw init writes does not load: {}",
                        p.headline()
                    );
                }
                let flagged: Vec<&(Field, String)> =
                    fields.iter().filter(|(f, _)| !ask.contains(f)).collect();
                if let Some((f, message)) = flagged.first() {
                    anyhow::bail!("--{}: {message}", f.key());
                }
                for (_, message) in &fields {
                    eprintln!("{message}");
                }
                ask = Field::ALL
                    .into_iter()
                    .filter(|f| fields.iter().any(|(g, _)| g == f))
                    .collect();
            }
        }
    }
    anyhow::bail!("no valid answer after three tries; pass --app, --region and --account")
}

fn set(a: &mut Answers, f: Field, value: String) {
    match f {
        Field::App => a.app = value,
        Field::Stage => a.stage = value,
        Field::Region => a.region = value,
        Field::Account => a.account = value,
    }
}

/// Asks for one answer on the terminal (the question on stderr); an empty line
/// takes the default shown in brackets.
fn prompt(f: Field, dir: &Path) -> anyhow::Result<String> {
    let (question, default) = match f {
        Field::App => (
            "App name (lowercase letters, digits, hyphens)",
            std::path::absolute(dir)
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_lowercase())),
        ),
        Field::Stage => ("Stage (lowercase letters and digits)", Some("dev".into())),
        Field::Region => (
            "AWS region (such as ap-southeast-2)",
            std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok(),
        ),
        Field::Account => ("AWS account id (12 digits)", None),
    };
    let mut err = std::io::stderr().lock();
    match &default {
        Some(d) if !d.is_empty() => write!(err, "{question} [{d}]: "),
        _ => write!(err, "{question}: "),
    }
    .and_then(|()| err.flush())
    .context("cannot write to the terminal")?;
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer from the terminal")?;
    if n == 0 {
        anyhow::bail!("no answer for --{} (end of input)", f.key());
    }
    let answer = line.trim().to_string();
    Ok(if answer.is_empty() {
        default.unwrap_or_default()
    } else {
        answer
    })
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Writes `text` to `path` unless something is already there (checked by the
/// create itself, so a file appearing meanwhile is not overwritten either).
/// Returns whether it wrote.
fn write_new(path: &Path, text: &str) -> anyhow::Result<bool> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// Why an existing file was left alone, and what it may lack.
fn skip_reason(rel: &Path, path: &Path) -> String {
    if rel == Path::new(".gitignore") {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        return if files::gitignore_covers(&text) {
            "exists and already ignores build output".into()
        } else {
            format!(
                "exists and does not ignore build output: add the line `{}`",
                files::GITIGNORE_LINE
            )
        };
    }
    if rel == Path::new("agent.yaml") {
        return "exists; kept, and the other files follow it".into();
    }
    if rel.starts_with("tests/agents") && !path.exists() {
        return "not written: the example is a conversation with the agent of the agent.yaml \
                claw init writes; record your own with `claw invoke --local --record`"
            .into();
    }
    if rel.starts_with(files::POLICIES_DIR) {
        return "exists; `claw policy write` brings the lockfile up to date".into();
    }
    "exists; left as it is".into()
}

/// What to do next, as commands to type.
fn next_steps(dir: &Path, config: &Config, example: bool) -> Vec<String> {
    let mut steps = Vec::new();
    if dir != Path::new(".") {
        steps.push(format!("cd {}", dir.display()));
    }
    for s in config.secret_names() {
        steps.push(format!(
            "claw secrets set {s}    # the value from stdin or a hidden prompt"
        ));
    }
    if let Some(topic) = &config.alarms.notify
        && let Some(name) = topic.rsplit(':').next()
    {
        steps.push(format!(
            "aws sns create-topic --name {name} --region {}    # the topic alarms notify, if it does not exist yet; then subscribe to it",
            config.region
        ));
    }
    steps.push("claw validate".into());
    if example {
        steps.push(format!(
            "claw test    # replays {}; record your own with `claw invoke --local --record tests/agents/NAME.json -m TEXT`",
            files::EXAMPLE_RECORDING_PATH
        ));
    } else {
        steps.push("claw invoke --local --record tests/agents/NAME.json -m TEXT, then claw test    # a conversation replayed in CI".into());
    }
    steps.push("claw deploy    # with credentials for the account in agent.yaml".into());
    steps.push(format!(
        "CI ({}): an administrator runs `claw bootstrap --github-repo ORG/REPO` per account and stage; then set the variables the workflow's header lists",
        files::WORKFLOW_PATH
    ));
    steps
}
