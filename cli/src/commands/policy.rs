//! `claw policy show|write|lint|diff`: the IAM documents claw generates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;
use claw_spec::policy::{self, PolicyKind};
use claw_spec::policy_diff::{self, Change};
use claw_spec::{Config, lint};

use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Print the generated documents (all kinds, or one with --kind).
    ///
    /// Kinds: role (execution-role policy), trust (who may assume the role),
    /// invoke (API Gateway's permission to invoke the function, one statement per
    /// route; `${ApiId}` is filled in at deploy), deployer (what a CI role needs to
    /// run deploy/destroy for this app and stage), boundary (the permissions boundary
    /// every execution role claw creates must carry).
    Show(ShowArgs),
    /// Write one JSON file per kind under DIR/<app>-<stage>/ (the policy lockfile).
    ///
    /// Commit the files: reviewers see every permission change in the pull request,
    /// and `claw policy diff --against policies` fails CI when they are stale.
    Write(WriteArgs),
    /// Check policy documents against claw's rules; exit 1 on any finding.
    ///
    /// With no FILE, checks the generated documents. Rules: no wildcard actions; no
    /// NotAction/NotResource/NotPrincipal; Resource `*` only for actions on the
    /// explained allowlist; no wildcard region or account in ARNs; PassRole only with
    /// iam:PassedToService; roles only under the permissions boundary; service
    /// principals pinned with aws:SourceArn or aws:SourceAccount; no Principal `*`;
    /// no repeated Sid.
    Lint(LintArgs),
    /// Compare generated documents with committed ones (--against DIR) or with the
    /// deployed stack; exit 0 same, 2 different, 1 error.
    ///
    /// The comparison is semantic: statement order, Sids, action case and
    /// string-versus-list spellings do not count. Differences print as `+` (the
    /// generated side grants it, the other side does not) and `-` lines per kind.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Only this kind.
    #[arg(long, value_parser = ["role", "trust", "invoke", "deployer", "boundary"])]
    pub kind: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// The lockfile directory; files go to DIR/<app>-<stage>/.
    #[arg(long, default_value = "policies")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Policy JSON files to check (default: the generated documents).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// A lockfile directory (DIR or DIR/<app>-<stage>) to compare against. Without
    /// it, claw compares against the deployed role, trust and function policies.
    #[arg(long)]
    pub against: Option<PathBuf>,
}

pub async fn run(ctx: &Context, cmd: &PolicyCommand) -> anyhow::Result<Exit> {
    match cmd {
        PolicyCommand::Show(a) => show(ctx, a),
        PolicyCommand::Write(a) => write(ctx, a),
        PolicyCommand::Lint(a) => lint_cmd(ctx, a),
        PolicyCommand::Diff(a) => match &a.against {
            Some(dir) => diff_against_dir(ctx, dir),
            None => crate::commands::policy_live::run(ctx).await,
        },
    }
}

/// All generated documents, by kind.
pub fn generated(config: &Config) -> BTreeMap<PolicyKind, PolicyDocument> {
    PolicyKind::ALL
        .into_iter()
        .map(|k| (k, policy::generate(k, config)))
        .collect()
}

/// Pretty JSON with a trailing newline: the lockfile format.
pub fn to_file_text(doc: &PolicyDocument) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
    s.push('\n');
    s
}

fn show(ctx: &Context, a: &ShowArgs) -> anyhow::Result<Exit> {
    let loaded = ctx.load()?;
    let docs = generated(&loaded.config);
    let kinds: Vec<PolicyKind> = match &a.kind {
        Some(k) => vec![PolicyKind::from_name(k).context("unknown kind")?],
        None => PolicyKind::ALL.to_vec(),
    };
    if ctx.json() {
        if kinds.len() == 1 {
            println!("{}", serde_json::to_string_pretty(&docs[&kinds[0]])?);
        } else {
            let obj: serde_json::Map<String, serde_json::Value> = kinds
                .iter()
                .map(|k| Ok((k.name().to_string(), serde_json::to_value(&docs[k])?)))
                .collect::<anyhow::Result<_>>()?;
            println!("{}", serde_json::to_string_pretty(&obj)?);
        }
    } else {
        for (i, k) in kinds.iter().enumerate() {
            if kinds.len() > 1 {
                if i > 0 {
                    println!();
                }
                println!("# {}", k.name());
            }
            print!("{}", to_file_text(&docs[k]));
        }
    }
    Ok(Exit::Ok)
}

fn write(ctx: &Context, a: &WriteArgs) -> anyhow::Result<Exit> {
    let loaded = ctx.load()?;
    let names = claw_spec::Names::new(&loaded.config);
    let dir = a.dir.join(&names.function);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (kind, doc) in generated(&loaded.config) {
        let path = dir.join(kind.file_name());
        let text = to_file_text(&doc);
        // Write through a temporary file so a crash never leaves half a lockfile.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        written.push(path.display().to_string());
    }
    if ctx.json() {
        println!("{}", serde_json::json!({"written": written}));
    } else {
        for w in &written {
            println!("wrote {w}");
        }
    }
    Ok(Exit::Ok)
}

fn read_doc(path: &Path) -> anyhow::Result<PolicyDocument> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an IAM policy document (expected {{\"Version\", \"Statement\": [...]}})",
            path.display()
        )
    })
}

fn is_resource_policy(doc: &PolicyDocument) -> bool {
    doc.statement.iter().any(|s| s.principal.is_some())
}

fn lint_cmd(ctx: &Context, a: &LintArgs) -> anyhow::Result<Exit> {
    let docs: Vec<(String, PolicyDocument)> = if a.files.is_empty() {
        let loaded = ctx.load()?;
        generated(&loaded.config)
            .into_iter()
            .map(|(k, d)| (format!("generated {}", k.name()), d))
            .collect()
    } else {
        a.files
            .iter()
            .map(|f| Ok((f.display().to_string(), read_doc(f)?)))
            .collect::<anyhow::Result<_>>()?
    };
    let mut all = Vec::new();
    for (name, doc) in &docs {
        for f in lint::lint(doc, is_resource_policy(doc)) {
            all.push((name.clone(), f));
        }
    }
    if ctx.json() {
        let findings: Vec<serde_json::Value> = all
            .iter()
            .map(|(doc, f)| serde_json::json!({"document": doc, "rule": f.rule, "statement": f.statement, "message": f.message}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"documents": docs.len(), "findings": findings})
            )?
        );
    } else {
        for (doc, f) in &all {
            println!("{doc}: {} [{}]: {}", f.statement, f.rule, f.message);
        }
        println!(
            "{} document{} checked, {} finding{}",
            docs.len(),
            if docs.len() == 1 { "" } else { "s" },
            all.len(),
            if all.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if all.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

/// Prints a per-kind semantic diff and returns the exit code. `other` names the
/// side generated documents are compared with ("policies/…", "deployed").
pub fn report_diff(
    ctx: &Context,
    other: &str,
    changes: &[(String, Option<Change>, Vec<String>)],
) -> anyhow::Result<Exit> {
    let different = changes
        .iter()
        .any(|(_, c, notes)| !notes.is_empty() || c.as_ref().is_none_or(|c| !c.is_empty()));
    if ctx.json() {
        let kinds: serde_json::Map<String, serde_json::Value> = changes
            .iter()
            .map(|(k, c, notes)| {
                (
                    k.clone(),
                    match c {
                        Some(c) => serde_json::json!({
                            "added": c.added.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                            "removed": c.removed.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                            "notes": notes,
                        }),
                        None => serde_json::json!({"missing": true, "notes": notes}),
                    },
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"against": other, "same": !different, "kinds": kinds})
            )?
        );
    } else {
        for (kind, change, notes) in changes {
            match change {
                None => println!("{kind}: missing from {other}"),
                Some(c) if c.is_empty() && notes.is_empty() => println!("{kind}: same"),
                Some(c) => {
                    println!("{kind}:");
                    for p in &c.added {
                        println!("  + {p}");
                    }
                    for p in &c.removed {
                        println!("  - {p}");
                    }
                }
            }
            for n in notes {
                println!("  ! {n}");
            }
        }
        if different {
            println!("generated policies differ from {other} (+ generated only, - {other} only)");
        } else {
            println!("generated policies match {other}");
        }
    }
    Ok(if different { Exit::Different } else { Exit::Ok })
}

fn diff_against_dir(ctx: &Context, dir: &Path) -> anyhow::Result<Exit> {
    let loaded = ctx.load()?;
    let names = claw_spec::Names::new(&loaded.config);
    let nested = dir.join(&names.function);
    let dir = if nested.is_dir() {
        nested
    } else if dir.is_dir() {
        dir.to_path_buf()
    } else {
        anyhow::bail!(
            "{} is not a directory; write the lockfile first with `claw policy write --dir {}`",
            dir.display(),
            dir.display()
        );
    };
    let mut changes = Vec::new();
    for (kind, generated) in generated(&loaded.config) {
        let path = dir.join(kind.file_name());
        if !path.exists() {
            changes.push((kind.name().to_string(), None, Vec::new()));
            continue;
        }
        let committed = read_doc(&path)?;
        changes.push((
            kind.name().to_string(),
            Some(policy_diff::diff(&committed, &generated)),
            Vec::new(),
        ));
    }
    report_diff(ctx, &dir.display().to_string(), &changes)
}
