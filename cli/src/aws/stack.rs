//! The whole stack of one app and stage: read everything, plan, apply, destroy.
//!
//! Reads run in parallel (they are independent). Applying follows the dependency
//! order: boundary → role → function → (concurrency, alarms, API, queue mapping in
//! parallel) → invoke permissions (they need the API id); log groups, tables and
//! queues go in parallel with the IAM work at the start. Deletions of what the
//! config no longer wants come last.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use claw_spec::model::ApiMode;
use claw_spec::policy_diff::Change;
use claw_spec::{Config, Names};
use sha2::Digest as _;

use super::plan::{Action, Kind, Plan, ResourceChange, SecurityChange, Sign};
use super::progress::{Progress, step};
use super::{
    Aws, AwsResultExt, alarms, api, boundary, function, is_ours, log_group, permissions, queues,
    role, secrets, tables,
};

/// The function package: a zip with a `bootstrap` entry.
#[derive(Debug, Clone)]
pub struct Code {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Base64 of the SHA-256 of the zip, as Lambda reports CodeSha256.
    pub sha256: String,
}

/// Largest zip Lambda accepts in a direct upload.
const MAX_DIRECT_UPLOAD: usize = 50 * 1024 * 1024;

impl Code {
    /// Reads a package and checks it is a zip with an executable `bootstrap`.
    pub fn from_zip(path: &Path) -> anyhow::Result<Code> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the package {}", path.display()))?;
        if bytes.len() > MAX_DIRECT_UPLOAD {
            anyhow::bail!(
                "the package {} is {} bytes; Lambda accepts at most {MAX_DIRECT_UPLOAD} in a direct upload",
                path.display(),
                bytes.len()
            );
        }
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes))
            .with_context(|| format!("{} is not a zip file", path.display()))?;
        let entry = archive.by_name("bootstrap").map_err(|_| {
            anyhow::anyhow!(
                "{} has no `bootstrap` entry; Lambda's provided runtimes run ./bootstrap",
                path.display()
            )
        })?;
        // Zips made on Unix carry the mode; a bootstrap without an execute bit
        // fails at the first invocation with a permission error.
        if let Some(mode) = entry.unix_mode()
            && mode & 0o111 == 0
        {
            anyhow::bail!(
                "`bootstrap` in {} is not executable (mode {:o}); package it with mode 0755",
                path.display(),
                mode & 0o777
            );
        }
        drop(entry);
        let sha256 = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
        Ok(Code {
            path: path.to_path_buf(),
            bytes,
            sha256,
        })
    }
}

/// What claw wants: the config, the names derived from it, the tags, the package.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: Config,
    pub names: Names,
    pub tags: BTreeMap<String, String>,
    pub code: Option<Code>,
}

impl Target {
    pub fn new(config: Config, code: Option<Code>) -> Target {
        Target {
            names: Names::new(&config),
            tags: super::tags(&config),
            config,
            code,
        }
    }
}

/// The live state of every resource of the stack.
#[derive(Debug, Clone)]
pub struct Live {
    /// What the read could not see, and why that is fine.
    pub notes: Vec<String>,
    pub account: String,
    pub caller_arn: String,
    pub secrets: Vec<(String, Option<secrets::Live>)>,
    pub boundary: Option<boundary::Live>,
    pub role: Option<role::Live>,
    pub log_groups: Vec<(log_group::Desired, Option<log_group::Live>)>,
    pub function: Option<function::Live>,
    pub api: api::Found,
    pub permissions: permissions::Live,
    pub alarms: BTreeMap<String, alarms::Live>,
    pub queues: queues::Live,
    pub jobs_table: Option<tables::Live>,
    pub sessions_table: Option<tables::Live>,
}

/// Reads the whole stack, every independent read in parallel.
pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Live> {
    let secret_names = t.config.secret_names();
    let groups = log_group::desired(t);
    let sessions = tables::sessions(t);
    let (
        ident,
        secrets,
        boundary,
        role,
        log_lives,
        function,
        api,
        permissions,
        alarms,
        queues,
        jobs_table,
        sessions_table,
    ) = futures::try_join!(
        async {
            aws.sts
                .get_caller_identity()
                .send()
                .await
                .ctx("GetCallerIdentity", "the current credentials")
                .map_err(anyhow::Error::from)
        },
        secrets::read(aws, &secret_names),
        boundary::read(aws, t),
        role::read(aws, t),
        futures::future::try_join_all(groups.iter().map(|g| log_group::read(aws, t, &g.name))),
        function::read(aws, t),
        api::read(aws, t),
        permissions::read(aws, t),
        alarms::read(aws, t),
        async { leftover(t, "async-mode queues", queues::read(aws, t).await,) },
        async {
            leftover(
                t,
                "the async-mode jobs table",
                tables::read(aws, &t.names.jobs_table).await,
            )
        },
        async {
            match &sessions {
                Some(s) => tables::read(aws, &s.name).await,
                None => Ok(None),
            }
        },
    )?;
    let (queues, queue_note) = queues;
    let (jobs_table, jobs_note) = jobs_table;
    Ok(Live {
        notes: queue_note.into_iter().chain(jobs_note).collect(),
        account: ident.account.unwrap_or_default(),
        caller_arn: ident.arn.unwrap_or_default(),
        secrets,
        boundary,
        role,
        log_groups: groups.into_iter().zip(log_lives).collect(),
        function,
        api,
        permissions,
        alarms,
        queues,
        jobs_table,
        sessions_table,
    })
}

/// In sync mode claw still looks for async-mode resources, to delete what a
/// switch back from async left behind. A deployer role made for sync mode may not
/// read them; that is no reason to fail: claw could not delete them either.
fn leftover<T: Default>(
    t: &Target,
    what: &str,
    read: anyhow::Result<T>,
) -> anyhow::Result<(T, Option<String>)> {
    match read {
        Ok(v) => Ok((v, None)),
        Err(e) if t.config.api.mode == ApiMode::Sync && super::is_access_denied(&e) => Ok((
            T::default(),
            Some(format!(
                "could not look for {what} left from async mode (access denied: {e}); skipped"
            )),
        )),
        Err(e) => Err(e),
    }
}

/// Refuses credentials for another account than agent.yaml's `account:`.
pub fn check_account(t: &Target, live: &Live) -> anyhow::Result<()> {
    if live.account != t.config.account {
        anyhow::bail!(
            "agent.yaml says account {} but the credentials are for account {} ({}); switch credentials (AWS_PROFILE) or fix `account:`",
            t.config.account,
            live.account,
            live.caller_arn
        );
    }
    Ok(())
}

/// Security-table rows for a policy change on `resource`.
pub fn security_rows(resource: &str, change: &Change, drift: bool) -> Vec<SecurityChange> {
    let mut out = Vec::new();
    for p in &change.added {
        out.push(SecurityChange {
            sign: Sign::Add,
            resource: resource.to_string(),
            what: p.to_string(),
            broadens: true,
            drift: false,
        });
    }
    for p in &change.removed {
        out.push(SecurityChange {
            sign: Sign::Remove,
            resource: resource.to_string(),
            what: p.to_string(),
            broadens: false,
            drift,
        });
    }
    out
}

/// The pure plan: desired state against live state.
pub fn plan(t: &Target, live: &Live) -> Plan {
    let mut p = Plan {
        app: t.config.app.clone(),
        stage: t.config.stage.clone(),
        region: t.config.region.clone(),
        account: t.config.account.clone(),
        ..Plan::default()
    };
    p.blockers
        .extend(secrets::problems(&live.secrets, &t.config.region));
    p.notes.extend(live.notes.iter().cloned());
    boundary::plan(t, live.boundary.as_ref(), &mut p);
    role::plan(t, live.role.as_ref(), &mut p);
    for (d, l) in &live.log_groups {
        log_group::plan(t, d, l.as_ref(), &mut p);
    }
    function::plan(t, live.function.as_ref(), &mut p);
    if let Some(s) = tables::sessions(t) {
        tables::plan(t, &s, true, live.sessions_table.as_ref(), &mut p);
    }
    tables::plan(
        t,
        &tables::jobs(t),
        tables::jobs_wanted(t),
        live.jobs_table.as_ref(),
        &mut p,
    );
    queues::plan(t, &live.queues, &mut p);
    api::plan(t, &live.api, &mut p);
    let api_id = live.api.ours.as_ref().map(|a| a.id.as_str());
    permissions::plan(t, &live.permissions, api_id, &mut p);
    alarms::plan(t, &live.alarms, &mut p);
    collapse_boundary_rows(t, &mut p);
    p
}

/// The boundary holds the same document as the role policy: when both change the
/// same way, list the permissions once.
fn collapse_boundary_rows(t: &Target, p: &mut Plan) {
    let b = format!("boundary {}", t.names.boundary);
    let r = format!("role {} policy {}", t.names.role, t.names.role_policy);
    let rows = |res: &str| {
        let mut v: Vec<(Sign, String)> = p
            .security
            .iter()
            .filter(|s| s.resource == res)
            .map(|s| (s.sign, s.what.clone()))
            .collect();
        v.sort_by(|a, b| (a.0 == Sign::Add, &a.1).cmp(&(b.0 == Sign::Add, &b.1)));
        v
    };
    let brows = rows(&b);
    if !brows.is_empty() && brows == rows(&r) {
        p.security.retain(|s| s.resource != b);
        if let Some(s) = p.security.iter_mut().find(|s| s.resource == r) {
            // Keep one hint that the boundary follows.
            s.resource = format!("{r} (and boundary)");
            let first = s.resource.clone();
            for s in p.security.iter_mut().filter(|s| s.resource == r) {
                s.resource = first.clone();
            }
        }
    }
}

/// What a finished deploy reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub endpoint: String,
    pub api_id: String,
    pub function_arn: String,
    pub code_sha256: String,
}

/// Runs independent steps to completion (none is cancelled half-way when another
/// fails) and reports every failure.
async fn all(results: Vec<anyhow::Result<()>>) -> anyhow::Result<()> {
    let errors: Vec<anyhow::Error> = results.into_iter().filter_map(Result::err).collect();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors
            .into_iter()
            .next()
            .unwrap_or_else(|| anyhow::anyhow!("unknown error"))),
        n => {
            let list: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            Err(anyhow::anyhow!(
                "{n} steps failed:\n  {}",
                list.join("\n  ")
            ))
        }
    }
}

/// Applies a plan in dependency order.
pub async fn apply(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<Outcome> {
    let sessions = tables::sessions(t);
    let jobs = tables::jobs(t);
    // Phase 1: IAM (boundary, then role) beside log groups, tables and queues.
    let (iam, groups, tabs, qs) = futures::join!(
        async {
            boundary::apply(aws, t, live.boundary.as_ref(), plan, progress).await?;
            role::apply(aws, t, live.role.as_ref(), plan, progress).await
        },
        async {
            all(futures::future::join_all(
                live.log_groups
                    .iter()
                    .map(|(d, l)| log_group::apply(aws, t, d, l.as_ref(), plan, progress)),
            )
            .await)
            .await
        },
        async {
            let mut r = Vec::new();
            if let Some(s) = &sessions {
                r.push(
                    tables::apply(aws, t, s, live.sessions_table.as_ref(), plan, progress).await,
                );
            }
            if plan.action(Kind::Table, &jobs.name) != Action::Delete {
                r.push(
                    tables::apply(aws, t, &jobs, live.jobs_table.as_ref(), plan, progress).await,
                );
            }
            all(r).await
        },
        queues::apply_queues(aws, t, &live.queues, plan, progress),
    );
    all(vec![iam, groups, tabs, qs]).await?;

    // Phase 2: the function (needs the role).
    function::apply(aws, t, live.function.as_ref(), plan, progress).await?;

    // Phase 3: everything that hangs off the function, in parallel.
    let (conc, alarm, api_out, mapping) = futures::join!(
        function::apply_concurrency(aws, t, plan, progress),
        alarms::apply(aws, t, &live.alarms, plan, progress),
        api::apply(aws, t, &live.api, plan, progress),
        queues::apply_mapping(aws, t, &live.queues, plan, progress),
    );
    let api_out = match api_out {
        Ok(o) => Some(o),
        Err(e) => {
            all(vec![conc, alarm, mapping]).await.ok();
            return Err(e);
        }
    };
    all(vec![conc, alarm, mapping]).await?;
    let api_out = api_out.context("the HTTP API was not applied")?;

    // Phase 4: invoke permissions, scoped to the API's id.
    permissions::apply(aws, t, &live.permissions, &api_out.id, plan, progress).await?;

    // Phase 5: what the config no longer wants.
    queues::apply_deletes(aws, t, &live.queues, plan, progress).await?;
    if plan.action(Kind::Table, &jobs.name) == Action::Delete {
        tables::apply(aws, t, &jobs, live.jobs_table.as_ref(), plan, progress).await?;
    }

    Ok(Outcome {
        endpoint: api_out.endpoint,
        api_id: api_out.id,
        function_arn: live
            .function
            .as_ref()
            .map(|f| f.arn.clone())
            .unwrap_or_else(|| t.names.function_arn()),
        code_sha256: t
            .code
            .as_ref()
            .map(|c| c.sha256.clone())
            .or_else(|| live.function.as_ref().map(|f| f.code_sha256.clone()))
            .unwrap_or_default(),
    })
}

/// What `claw destroy` may delete besides the stack itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct DestroyOptions {
    pub include_secrets: bool,
    pub include_data: bool,
}

/// The destroy plan: a Delete for every resource tagged for this app and stage;
/// notes for what is kept and why.
pub fn destroy_plan(t: &Target, live: &Live, opts: DestroyOptions) -> Plan {
    let mut p = Plan {
        app: t.config.app.clone(),
        stage: t.config.stage.clone(),
        region: t.config.region.clone(),
        account: t.config.account.clone(),
        ..Plan::default()
    };
    let untagged = |p: &mut Plan, what: &str| {
        p.notes.push(format!(
            "{what} has claw's name but is not tagged claw:app={} claw:stage={}: kept",
            t.config.app, t.config.stage
        ));
    };
    if let Some(m) = &live.queues.mapping {
        let _ = m;
        p.push(ResourceChange::new(
            Kind::EventSourceMapping,
            format!("{} → {}", t.names.queue, t.names.function),
            Action::Delete,
        ));
    }
    if let Some(a) = &live.api.ours {
        p.push(
            ResourceChange::new(Kind::Api, &t.names.api, Action::Delete)
                .with_note(format!("id {}", a.id)),
        );
    }
    for id in &live.api.foreign {
        untagged(&mut p, &format!("HTTP API {id}"));
    }
    for (name, a) in &live.alarms {
        if is_ours(&a.tags, &t.config) {
            p.push(ResourceChange::new(Kind::Alarm, name, Action::Delete));
        } else {
            untagged(&mut p, &format!("alarm {name}"));
        }
    }
    match &live.function {
        Some(f) if is_ours(&f.tags, &t.config) => {
            p.push(ResourceChange::new(
                Kind::Function,
                &t.names.function,
                Action::Delete,
            ));
        }
        Some(_) => untagged(&mut p, &format!("Lambda function {}", t.names.function)),
        None => {}
    }
    for (d, l) in &live.log_groups {
        match l {
            Some(l) if is_ours(&l.tags, &t.config) => {
                p.push(ResourceChange::new(Kind::LogGroup, &d.name, Action::Delete));
            }
            Some(_) => untagged(&mut p, &format!("log group {}", d.name)),
            None => {}
        }
    }
    match &live.role {
        Some(r) if is_ours(&r.tags, &t.config) => p.push(ResourceChange::new(
            Kind::Role,
            &t.names.role,
            Action::Delete,
        )),
        Some(_) => untagged(&mut p, &format!("IAM role {}", t.names.role)),
        None => {}
    }
    match &live.boundary {
        Some(b) if is_ours(&b.tags, &t.config) => p.push(ResourceChange::new(
            Kind::Boundary,
            &t.names.boundary,
            Action::Delete,
        )),
        Some(_) => untagged(&mut p, &format!("IAM policy {}", t.names.boundary)),
        None => {}
    }
    for (name, q) in [
        (&t.names.queue, &live.queues.queue),
        (&t.names.dlq, &live.queues.dlq),
    ] {
        match q {
            Some(q) if is_ours(&q.tags, &t.config) => {
                p.push(ResourceChange::new(Kind::Queue, name, Action::Delete))
            }
            Some(_) => untagged(&mut p, &format!("SQS queue {name}")),
            None => {}
        }
    }
    match &live.jobs_table {
        Some(tb) if is_ours(&tb.tags, &t.config) => p.push(ResourceChange::new(
            Kind::Table,
            &t.names.jobs_table,
            Action::Delete,
        )),
        Some(_) => untagged(&mut p, &format!("DynamoDB table {}", t.names.jobs_table)),
        None => {}
    }
    if let (Some(s), Some(tb)) = (tables::sessions(t), &live.sessions_table) {
        if !is_ours(&tb.tags, &t.config) {
            untagged(&mut p, &format!("DynamoDB table {}", s.name));
        } else if opts.include_data {
            p.push(
                ResourceChange::new(Kind::Table, &s.name, Action::Delete)
                    .with_note("sessions data"),
            );
        } else {
            p.notes.push(format!(
                "DynamoDB table {} holds session data: kept (--include-data deletes it)",
                s.name
            ));
        }
    }
    let mut kept_secrets = Vec::new();
    for (name, s) in &live.secrets {
        let Some(s) = s else { continue };
        if s.deleted {
            continue;
        }
        if opts.include_secrets && is_ours(&s.tags, &t.config) {
            p.changes.push(
                ResourceChange::new(Kind::Secret, name, Action::Delete)
                    .with_note("recoverable for 7 days"),
            );
        } else if opts.include_secrets {
            untagged(&mut p, &format!("secret {name}"));
        } else {
            kept_secrets.push(name.clone());
        }
    }
    if !kept_secrets.is_empty() {
        p.notes.push(format!(
            "secrets kept: {} (--include-secrets deletes the ones tagged for this app and stage)",
            kept_secrets.join(", ")
        ));
    }
    p
}

/// Deletes what a destroy plan lists, in reverse dependency order.
pub async fn destroy(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let del = |kind: Kind, name: &str| plan.action(kind, name) == Action::Delete;
    let label = |kind: Kind, name: &str| format!("{} {name}", kind.label());
    if let Some(m) = &live.queues.mapping {
        let name = format!("{} → {}", t.names.queue, t.names.function);
        if del(Kind::EventSourceMapping, &name) {
            step(
                progress,
                "deleting",
                "deleted",
                &label(Kind::EventSourceMapping, &name),
                queues::delete_mapping(aws, &m.uuid),
            )
            .await?;
        }
    }
    // The API, the alarms and the function are independent of each other.
    let alarm_names: Vec<String> = plan.of_kind(Kind::Alarm).map(|c| c.name.clone()).collect();
    let (a, b, c) = futures::join!(
        async {
            match &live.api.ours {
                Some(x) if del(Kind::Api, &t.names.api) => {
                    step(
                        progress,
                        "deleting",
                        "deleted",
                        &label(Kind::Api, &t.names.api),
                        api::delete(aws, &x.id),
                    )
                    .await
                }
                _ => Ok(()),
            }
        },
        async {
            if alarm_names.is_empty() {
                return Ok(());
            }
            step(
                progress,
                "deleting",
                "deleted",
                &format!("alarms {}", alarm_names.join(", ")),
                alarms::delete(aws, &alarm_names),
            )
            .await
        },
        async {
            if del(Kind::Function, &t.names.function) {
                step(
                    progress,
                    "deleting",
                    "deleted",
                    &label(Kind::Function, &t.names.function),
                    function::delete(aws, &t.names.function),
                )
                .await
            } else {
                Ok(())
            }
        },
    );
    all(vec![a, b, c]).await?;
    let mut rest = Vec::new();
    for (d, _) in &live.log_groups {
        if del(Kind::LogGroup, &d.name) {
            rest.push(
                step(
                    progress,
                    "deleting",
                    "deleted",
                    &label(Kind::LogGroup, &d.name),
                    log_group::delete(aws, &d.name),
                )
                .await,
            );
        }
    }
    all(rest).await?;
    if let Some(r) = &live.role
        && del(Kind::Role, &t.names.role)
    {
        step(
            progress,
            "deleting",
            "deleted",
            &label(Kind::Role, &t.names.role),
            role::delete(aws, &t.names.role, r),
        )
        .await?;
    }
    if let Some(b) = &live.boundary
        && del(Kind::Boundary, &t.names.boundary)
    {
        step(
            progress,
            "deleting",
            "deleted",
            &label(Kind::Boundary, &t.names.boundary),
            boundary::delete(aws, b),
        )
        .await?;
    }
    for (name, q) in [
        (&t.names.queue, &live.queues.queue),
        (&t.names.dlq, &live.queues.dlq),
    ] {
        if let Some(q) = q
            && del(Kind::Queue, name)
        {
            step(
                progress,
                "deleting",
                "deleted",
                &label(Kind::Queue, name),
                queues::delete_queue(aws, name, &q.url),
            )
            .await?;
        }
    }
    for name in plan
        .of_kind(Kind::Table)
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.name.clone())
        .collect::<Vec<_>>()
    {
        step(
            progress,
            "deleting",
            "deleted",
            &label(Kind::Table, &name),
            tables::delete(aws, &name),
        )
        .await?;
    }
    for name in plan
        .of_kind(Kind::Secret)
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.name.clone())
        .collect::<Vec<_>>()
    {
        step(
            progress,
            "deleting",
            "scheduled for deletion",
            &label(Kind::Secret, &name),
            async {
                aws.secrets
                    .delete_secret()
                    .secret_id(&name)
                    .recovery_window_in_days(7)
                    .send()
                    .await
                    .ctx("DeleteSecret", &name)?;
                Ok(())
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn zip_with(name: &str, mode: u32) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut z = zip::ZipWriter::new(f.reopen().unwrap());
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        z.start_file(name, opts).unwrap();
        z.write_all(b"#!/bin/sh\n").unwrap();
        z.finish().unwrap();
        f
    }

    #[test]
    fn packages_must_be_zips_with_an_executable_bootstrap() {
        let ok = zip_with("bootstrap", 0o755);
        let code = Code::from_zip(ok.path()).unwrap();
        assert_eq!(code.sha256.len(), 44, "base64 of 32 bytes");
        let err = Code::from_zip(zip_with("main", 0o755).path()).unwrap_err();
        assert!(err.to_string().contains("no `bootstrap` entry"), "{err}");
        let err = Code::from_zip(zip_with("bootstrap", 0o644).path()).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");
        let junk = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(junk.path(), b"not a zip").unwrap();
        let err = Code::from_zip(junk.path()).unwrap_err();
        assert!(format!("{err:#}").contains("is not a zip file"), "{err:#}");
    }

    fn target() -> Target {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent.yaml"),
        )
        .unwrap();
        let loaded = claw_spec::load("agent.yaml", &text, &Default::default(), &|_| None).unwrap();
        Target::new(loaded.config, None)
    }

    fn empty_live(t: &Target) -> Live {
        Live {
            notes: Vec::new(),
            account: t.config.account.clone(),
            caller_arn: String::new(),
            secrets: t
                .config
                .secret_names()
                .into_iter()
                .map(|n| {
                    let l = secrets::Live {
                        name: n.clone(),
                        arn: String::new(),
                        deleted: false,
                        tags: BTreeMap::new(),
                    };
                    (n, Some(l))
                })
                .collect(),
            boundary: None,
            role: None,
            log_groups: log_group::desired(t)
                .into_iter()
                .map(|d| (d, None))
                .collect(),
            function: None,
            api: api::Found::default(),
            permissions: permissions::Live::default(),
            alarms: BTreeMap::new(),
            queues: queues::Live::default(),
            jobs_table: None,
            sessions_table: None,
        }
    }

    #[test]
    fn an_empty_account_plans_every_resource_as_a_create() {
        let t = target();
        let p = plan(&t, &empty_live(&t));
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
        assert!(
            p.changes.iter().all(|c| c.action == Action::Create),
            "{:#?}",
            p.changes
        );
        let kinds: std::collections::BTreeSet<Kind> = p.changes.iter().map(|c| c.kind).collect();
        for k in [
            Kind::Boundary,
            Kind::Role,
            Kind::LogGroup,
            Kind::Function,
            Kind::Concurrency,
            Kind::Table,
            Kind::Api,
            Kind::Integration,
            Kind::Route,
            Kind::Stage,
            Kind::Permission,
            Kind::Alarm,
        ] {
            assert!(kinds.contains(&k), "no {k:?} in the plan");
        }
        // Sync mode: nothing of async mode's.
        assert!(!kinds.contains(&Kind::Queue));
        assert!(p.needs_approval(), "a first deploy grants permissions");
    }

    #[test]
    fn missing_secrets_and_a_wrong_account_are_refused() {
        let t = target();
        let mut live = empty_live(&t);
        live.secrets[0].1 = None;
        let p = plan(&t, &live);
        assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
        assert!(p.blockers[0].contains("claw secrets set"));
        live.account = "999999999999".into();
        let err = check_account(&t, &live).unwrap_err().to_string();
        assert!(
            err.contains("999999999999") && err.contains(&t.config.account),
            "{err}"
        );
    }

    #[test]
    fn sync_mode_tolerates_a_denied_look_for_async_leftovers() {
        let t = target();
        let denied = || -> anyhow::Result<Option<u8>> {
            Err(crate::aws::AwsError {
                operation: "GetQueueUrl",
                resource: "q".into(),
                code: Some("AccessDenied".into()),
                message: "not allowed".into(),
            }
            .into())
        };
        let (v, note) = leftover(&t, "queues", denied()).unwrap();
        assert_eq!(v, None);
        assert!(note.unwrap().contains("access denied"));
        let mut async_t = t.clone();
        async_t.config.api.mode = ApiMode::Async;
        assert!(leftover(&async_t, "queues", denied()).is_err());
        let other = || -> anyhow::Result<Option<u8>> { Err(anyhow::anyhow!("boom")) };
        assert!(leftover(&t, "queues", other()).is_err());
    }
}
