//! `claw policy show|write|lint|diff`: the IAM documents claw generates.

mod diff;
mod live;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;
use claw_spec::policy::{self, PolicyKind};
use claw_spec::policy_diff;
use claw_spec::{Config, lint};

use crate::args::GithubArgs;
use crate::context::Context;
use crate::exit::Exit;
use crate::ops::lockfile::{generated, to_file_text};
use crate::report::Report;
use diff::{Diffs, KindDiff};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Print the generated documents (all kinds, or one with --kind).
    ///
    /// Kinds: role (execution-role policy), trust (who may assume the role),
    /// invoke (API Gateway's permission to invoke the function, one statement per
    /// route; `${ApiId}` is filled in at deploy), deployer (what a CI role needs to
    /// run deploy/destroy for this app and stage), boundary (the permissions boundary
    /// every execution role claw creates must carry), plan (the read-only CI role of
    /// pull requests: the deployer's reads), ci-trust (who may assume the deployer
    /// role: GitHub Actions' OIDC tokens of --github-repo; shown only with it).
    /// With `stages:` in agent.yaml, the selected stage's (`stage:` or `--stage`).
    Show(ShowArgs),
    /// Write one JSON file per kind under DIR/<app>-<stage>/ (the policy lockfile).
    ///
    /// With `stages:` in agent.yaml, one directory per stage (only `--stage` when
    /// given). Commit the files: reviewers see every permission change in the pull request,
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
    /// With --against and `stages:` in agent.yaml, every stage is compared with its
    /// own DIR/<app>-<stage>/ (only `--stage` when given), and any difference gives
    /// exit 2; the JSON document then holds each stage's comparison under `stages`.
    /// The deployed stack is always the selected stage's.
    ///
    /// The comparison is semantic: statement order, Sids, action case and
    /// string-versus-list spellings do not count. Differences print as `+` (the
    /// generated side grants it, the other side does not) and `-` lines per kind.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Only this kind.
    #[arg(long, value_parser = kind_names())]
    pub kind: Option<String>,
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// The lockfile directory; files go to DIR/<app>-<stage>/.
    #[arg(long, default_value = "policies")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Policy JSON files to check (default: the generated documents, with the CI
    /// trust when --github-repo is given).
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// A lockfile directory (DIR or DIR/<app>-<stage>) to compare against. Without
    /// it, claw compares against the deployed role, trust and function policies.
    #[arg(long)]
    pub against: Option<PathBuf>,
}

/// The policy kinds `--kind` accepts, from spec's list (never repeated here).
fn kind_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(PolicyKind::EVERY.map(|k| k.name()))
}

pub async fn run(ctx: &Context, cmd: &PolicyCommand) -> anyhow::Result<Report> {
    match cmd {
        PolicyCommand::Show(a) => show(ctx, a),
        PolicyCommand::Write(a) => write(ctx, a),
        PolicyCommand::Lint(a) => lint_cmd(ctx, a),
        PolicyCommand::Diff(a) => match &a.against {
            Some(dir) => {
                let all = ctx.load_stages()?;
                // One stage may compare with DIR itself; several need their own.
                let flat = all.len() == 1;
                let diffs = all
                    .iter()
                    .map(|l| diff_against_dir(&l.config, dir, flat))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(report_diffs(ctx, &diffs))
            }
            None => {
                let loaded = ctx.load()?;
                let diffs = live::diff(loaded.config).await?;
                Ok(report_diffs(ctx, &[diffs]))
            }
        },
    }
}

fn show(ctx: &Context, a: &ShowArgs) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let github = a.github.trust(&loaded.config)?;
    let docs = generated(&loaded.config, github.as_ref());
    let kinds: Vec<PolicyKind> = match &a.kind {
        Some(k) => {
            let kind = PolicyKind::from_name(k).context("unknown kind")?;
            policy::generate(kind, &loaded.config, github.as_ref())?;
            vec![kind]
        }
        None => docs.keys().copied().collect(),
    };
    if let Some(note) = crate::aws::bedrock::table_note(&loaded.config) {
        ctx.out.note(note);
    }
    for (i, k) in kinds.iter().enumerate() {
        if kinds.len() > 1 {
            if i > 0 {
                ctx.out.line("");
            }
            ctx.out.line(format_args!("# {}", k.name()));
        }
        ctx.out.text(to_file_text(&docs[k]));
    }
    // JSON: the documents by kind (text mode prints a single kind as the bare
    // document, ready to save).
    let documents: BTreeMap<&str, &PolicyDocument> =
        kinds.iter().map(|k| (k.name(), &docs[k])).collect();
    Ok(Report::new(serde_json::json!({ "documents": documents })))
}

fn write(ctx: &Context, a: &WriteArgs) -> anyhow::Result<Report> {
    let all = ctx.load_stages()?;
    let mut written = Vec::new();
    for loaded in &all {
        for (rel, text) in crate::ops::lockfile::files(&loaded.config) {
            let path = a.dir.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // Write through a temporary file so a crash never leaves half a lockfile.
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, &text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot replace {}", path.display()))?;
            written.push(path.display().to_string());
        }
    }
    for w in &written {
        ctx.out.line(format_args!("wrote {w}"));
    }
    // Stages share their models: one note for all.
    let notes: std::collections::BTreeSet<String> = all
        .iter()
        .filter_map(|l| crate::aws::bedrock::table_note(&l.config))
        .collect();
    for n in notes {
        ctx.out.note(n);
    }
    Ok(Report::new(serde_json::json!({ "written": written })))
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

fn lint_cmd(ctx: &Context, a: &LintArgs) -> anyhow::Result<Report> {
    let docs: Vec<(String, PolicyDocument)> = if a.files.is_empty() {
        let loaded = ctx.load()?;
        let github = a.github.trust(&loaded.config)?;
        generated(&loaded.config, github.as_ref())
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
    for (doc, f) in &all {
        ctx.out.line(format_args!(
            "{doc}: {} [{}]: {}",
            f.statement, f.rule, f.message
        ));
    }
    ctx.out.line(format_args!(
        "{} document{} checked, {} finding{}",
        docs.len(),
        if docs.len() == 1 { "" } else { "s" },
        all.len(),
        if all.len() == 1 { "" } else { "s" }
    ));
    let findings: Vec<serde_json::Value> = all
        .iter()
        .map(|(doc, f)| serde_json::json!({"document": doc, "rule": f.rule, "statement": f.statement, "message": f.message}))
        .collect();
    let report = Report::new(serde_json::json!({"documents": docs.len(), "findings": findings}));
    Ok(if all.is_empty() {
        report
    } else {
        let n = all.len();
        report.failed(format!(
            "{n} finding{} in the policy documents",
            if n == 1 { "" } else { "s" }
        ))
    })
}

/// Prints each comparison's per-kind semantic diff; exit 2 when anything differs.
/// One comparison is the whole document; several (one per stage) go under
/// `stages`, by stack name.
fn report_diffs(ctx: &Context, all: &[Diffs]) -> Report {
    let several = all.len() > 1;
    let mut documents = serde_json::Map::new();
    let mut any_different = false;
    for diffs in all {
        if several {
            ctx.out.line(format_args!("# {}", diffs.stack));
        }
        let (doc, different) = report_diff(ctx, diffs);
        any_different |= different;
        documents.insert(diffs.stack.clone(), doc);
    }
    let doc = if several {
        serde_json::json!({"same": !any_different, "stages": documents})
    } else {
        documents
            .into_iter()
            .next()
            .map_or(serde_json::Value::Null, |(_, d)| d)
    };
    Report::new(doc).with_exit(if any_different {
        Exit::Different
    } else {
        Exit::Ok
    })
}

/// Prints one comparison; returns its JSON document and whether it differs.
fn report_diff(ctx: &Context, diffs: &Diffs) -> (serde_json::Value, bool) {
    let other = &diffs.other;
    let different = diffs
        .kinds
        .iter()
        .any(|d| !d.notes.is_empty() || d.change.as_ref().is_none_or(|c| !c.is_empty()));
    let out = ctx.out;
    for d in &diffs.kinds {
        let kind = &d.kind;
        match &d.change {
            None => out.line(format_args!("{kind}: missing from {other}")),
            Some(c) if c.is_empty() && d.notes.is_empty() => out.line(format_args!("{kind}: same")),
            Some(c) => {
                out.line(format_args!("{kind}:"));
                for p in &c.added {
                    out.line(format_args!("  + {p}"));
                }
                for p in &c.removed {
                    out.line(format_args!("  - {p}"));
                }
            }
        }
        for n in &d.notes {
            out.line(format_args!("  ! {n}"));
        }
    }
    if different {
        out.line(format_args!(
            "generated policies differ from {other} (+ generated only, - {other} only)"
        ));
    } else {
        out.line(format_args!("generated policies match {other}"));
    }
    let kinds: serde_json::Map<String, serde_json::Value> = diffs
        .kinds
        .iter()
        .map(|d| {
            (
                d.kind.clone(),
                match &d.change {
                    Some(c) => serde_json::json!({
                        "added": c.added.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                        "removed": c.removed.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                        "notes": d.notes,
                    }),
                    None => serde_json::json!({"missing": true, "notes": d.notes}),
                },
            )
        })
        .collect();
    (
        serde_json::json!({"against": other, "same": !different, "kinds": kinds}),
        different,
    )
}

/// Compares with the lockfile DIR/<app>-<stage>, or with DIR itself when `flat`
/// (only one stage is compared) and it has no such subdirectory.
fn diff_against_dir(config: &Config, dir: &Path, flat: bool) -> anyhow::Result<Diffs> {
    let names = claw_spec::Names::new(config);
    let nested = dir.join(&names.function);
    let dir = if nested.is_dir() || (!flat && dir.is_dir()) {
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
    let mut kinds = Vec::new();
    for (kind, generated) in generated(config, None) {
        let path = dir.join(kind.file_name());
        let change = if path.exists() {
            Some(policy_diff::diff(&read_doc(&path)?, &generated))
        } else {
            None
        };
        kinds.push(KindDiff {
            kind: kind.name().to_string(),
            change,
            notes: Vec::new(),
        });
    }
    Ok(Diffs {
        stack: names.function.clone(),
        other: dir.display().to_string(),
        kinds,
    })
}
