//! The Lambda function and its reserved concurrency.
//!
//! Code is uploaded only when the package's CodeSha256 differs from the live one;
//! configuration is updated only when one of its fields differs. Every change waits
//! until the function is `Active` with `LastUpdateStatus: Successful` before the
//! next, as Lambda refuses concurrent updates.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture as LArch, Environment, LastUpdateStatus, Runtime, State, TracingConfig,
    TracingMode, VpcConfig,
};
use claw_spec::model::Tracing;

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, TagDiff};
use super::progress::{Progress, step};
use super::stack::Target;
use super::{Aws, AwsResultExt, aws_error, is_ours};

pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";

/// How long claw waits for Lambda to finish one change.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub role: String,
    pub runtime: String,
    pub handler: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_s: i32,
    pub environment: BTreeMap<String, String>,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub tracing: String,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub settings: Settings,
    pub code_sha256: String,
    pub state: Option<State>,
    pub last_update: Option<LastUpdateStatus>,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<i32>,
}

fn tracing_name(t: Tracing) -> &'static str {
    match t {
        Tracing::Active => "Active",
        Tracing::PassThrough => "PassThrough",
    }
}

pub fn desired(t: &Target) -> Settings {
    let f = &t.config.function;
    Settings {
        role: t.names.role_arn(),
        runtime: RUNTIME.into(),
        handler: HANDLER.into(),
        architecture: f.architecture.lambda_name().into(),
        memory_mb: f.memory_mb as i32,
        timeout_s: f.timeout_s as i32,
        environment: f.environment.clone(),
        subnets: t
            .config
            .vpc
            .iter()
            .flat_map(|v| v.subnet_ids.iter().cloned())
            .collect(),
        security_groups: t
            .config
            .vpc
            .iter()
            .flat_map(|v| v.security_group_ids.iter().cloned())
            .collect(),
        tracing: tracing_name(f.tracing).into(),
    }
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let name = &t.names.function;
    let out = match aws.lambda.get_function().function_name(name).send().await {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error("GetFunction", name, e).into()),
    };
    let c = out
        .configuration
        .context("GetFunction returned no configuration")?;
    let vpc = c.vpc_config();
    Ok(Some(Live {
        arn: c
            .function_arn
            .clone()
            .unwrap_or_else(|| t.names.function_arn()),
        settings: Settings {
            role: c.role.clone().unwrap_or_default(),
            runtime: c
                .runtime
                .as_ref()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            handler: c.handler.clone().unwrap_or_default(),
            architecture: c
                .architectures()
                .first()
                .map(|a| a.as_str().to_string())
                .unwrap_or_else(|| "x86_64".into()),
            memory_mb: c.memory_size.unwrap_or_default(),
            timeout_s: c.timeout.unwrap_or_default(),
            environment: c
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            subnets: vpc
                .map(|v| v.subnet_ids().iter().cloned().collect())
                .unwrap_or_default(),
            security_groups: vpc
                .map(|v| v.security_group_ids().iter().cloned().collect())
                .unwrap_or_default(),
            tracing: c
                .tracing_config()
                .and_then(|t| t.mode())
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "PassThrough".into()),
        },
        code_sha256: c.code_sha256.clone().unwrap_or_default(),
        state: c.state.clone(),
        last_update: c.last_update_status.clone(),
        tags: out.tags.unwrap_or_default().into_iter().collect(),
        reserved_concurrency: out
            .concurrency
            .and_then(|c| c.reserved_concurrent_executions),
    }))
}

/// The fields that differ, in a stable order. Environment values are not shown,
/// only which variables change: the live side may hold values set by hand.
pub fn settings_diff(live: &Settings, want: &Settings) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let set = |s: &BTreeSet<String>| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.iter().cloned().collect::<Vec<_>>().join(",")
        }
    };
    if live.architecture != want.architecture {
        out.push(FieldChange::new(
            "architecture",
            &live.architecture,
            &want.architecture,
        ));
    }
    if live.memory_mb != want.memory_mb {
        out.push(FieldChange::new(
            "memory_mb",
            live.memory_mb,
            want.memory_mb,
        ));
    }
    if live.timeout_s != want.timeout_s {
        out.push(FieldChange::new(
            "timeout_s",
            live.timeout_s,
            want.timeout_s,
        ));
    }
    if live.environment != want.environment {
        let mut keys = Vec::new();
        for k in want.environment.keys() {
            match live.environment.get(k) {
                None => keys.push(format!("+{k}")),
                Some(v) if Some(v) != want.environment.get(k) => keys.push(format!("~{k}")),
                _ => {}
            }
        }
        for k in live
            .environment
            .keys()
            .filter(|k| !want.environment.contains_key(*k))
        {
            keys.push(format!("-{k}"));
        }
        out.push(FieldChange::new(
            "environment",
            format!("{} variables", live.environment.len()),
            format!("{} variables ({})", want.environment.len(), keys.join(" ")),
        ));
    }
    if live.subnets != want.subnets || live.security_groups != want.security_groups {
        let show = |s: &Settings| {
            if s.subnets.is_empty() && s.security_groups.is_empty() {
                "(none)".to_string()
            } else {
                format!(
                    "subnets {} sgs {}",
                    set(&s.subnets),
                    set(&s.security_groups)
                )
            }
        };
        out.push(FieldChange::new("vpc", show(live), show(want)));
    }
    if live.tracing != want.tracing {
        out.push(FieldChange::new("tracing", &live.tracing, &want.tracing));
    }
    if live.role != want.role {
        out.push(FieldChange::new("role", &live.role, &want.role));
    }
    if live.runtime != want.runtime {
        out.push(FieldChange::new("runtime", &live.runtime, &want.runtime));
    }
    if live.handler != want.handler {
        out.push(FieldChange::new("handler", &live.handler, &want.handler));
    }
    out
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

pub fn plan(t: &Target, live: Option<&Live>, plan: &mut Plan) {
    let name = &t.names.function;
    let want = desired(t);
    let Some(live) = live else {
        plan.push(ResourceChange::new(Kind::Function, name, Action::Create));
        if t.config.function.reserved_concurrency.is_some() {
            plan.push(ResourceChange::new(Kind::Concurrency, name, Action::Create));
        }
        return;
    };
    if !is_ours(&live.tags, &t.config) {
        plan.blockers.push(format!(
            "Lambda function {} exists but is not tagged claw:app={} claw:stage={}; claw does not touch resources it did not create (delete or rename it)",
            live.arn, t.config.app, t.config.stage
        ));
        return;
    }
    let mut fields = Vec::new();
    match &t.code {
        Some(code) if code.sha256 != live.code_sha256 => {
            fields.push(FieldChange::new("code", short(&live.code_sha256), short(&code.sha256)));
        }
        Some(_) => {}
        None => plan.notes.push(format!(
            "the function's code was not compared (no package: run `claw build` or pass --zip); live CodeSha256 {}",
            live.code_sha256
        )),
    }
    fields.extend(settings_diff(&live.settings, &want));
    fields.extend(TagDiff::field(&live.tags, &t.tags));
    plan.push(ResourceChange::new(
        Kind::Function,
        name,
        Action::update(fields),
    ));
    let want_c = t.config.function.reserved_concurrency.map(|c| c as i32);
    let action = match (live.reserved_concurrency, want_c) {
        (None, None) => None,
        (None, Some(_)) => Some(Action::Create),
        (Some(_), None) => Some(Action::Delete),
        (Some(a), Some(b)) if a == b => Some(Action::NoChange),
        (Some(a), Some(b)) => Some(Action::Update {
            fields: vec![FieldChange::new("reserved", a, b)],
        }),
    };
    if let Some(action) = action {
        plan.push(ResourceChange::new(Kind::Concurrency, name, action));
    }
}

fn vpc_config(s: &Settings) -> VpcConfig {
    VpcConfig::builder()
        .set_subnet_ids(Some(s.subnets.iter().cloned().collect()))
        .set_security_group_ids(Some(s.security_groups.iter().cloned().collect()))
        .build()
}

fn environment(s: &Settings) -> Environment {
    Environment::builder()
        .set_variables(Some(s.environment.clone().into_iter().collect()))
        .build()
}

fn tracing(s: &Settings) -> TracingConfig {
    TracingConfig::builder()
        .mode(TracingMode::from(s.tracing.as_str()))
        .build()
}

/// How long claw keeps retrying while a new or changed role reaches Lambda.
const IAM_PROPAGATION: Duration = Duration::from_secs(90);

/// Whether Lambda's answer means "the role (or its new policy) has not reached
/// Lambda yet": IAM is eventually consistent, and a role created a second ago can
/// be refused as not assumable, or as lacking the ENI or SQS permissions its
/// inline policy already grants.
fn iam_not_ready(msg: Option<&str>) -> bool {
    msg.is_some_and(|m| {
        m.contains("cannot be assumed")
            || m.contains("role defined for the function")
            || m.contains("execution role does not have permissions")
    })
}

/// Runs a Lambda call, retrying for up to 90 s while IAM changes propagate.
pub async fn while_iam_propagates<T, E, F, Fut>(
    operation: &'static str,
    resource: &str,
    mut call: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<
                T,
                aws_sdk_lambda::error::SdkError<
                    E,
                    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
                >,
            >,
        >,
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let started = Instant::now();
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.code() == Some("InvalidParameterValueException") && iam_not_ready(s.message())
                }) && started.elapsed() < IAM_PROPAGATION =>
            {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(aws_error(operation, resource, e).into()),
        }
    }
}

/// Creates or updates the function; returns (ARN, CodeSha256).
pub async fn apply(
    aws: &Aws,
    t: &Target,
    live: Option<&Live>,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = &t.names.function;
    let what = format!("{} {name}", Kind::Function.label());
    let want = desired(t);
    match plan.action(Kind::Function, name) {
        Action::Create => {
            let code = t.code.as_ref().context(
                "creating the function needs its package: run `claw build` or pass --zip",
            )?;
            step(progress, "creating", "created", &what, async {
                while_iam_propagates("CreateFunction", name, || {
                    aws.lambda
                        .create_function()
                        .function_name(name)
                        .runtime(Runtime::from(want.runtime.as_str()))
                        .handler(&want.handler)
                        .role(&want.role)
                        .architectures(LArch::from(want.architecture.as_str()))
                        .memory_size(want.memory_mb)
                        .timeout(want.timeout_s)
                        .environment(environment(&want))
                        .vpc_config(vpc_config(&want))
                        .tracing_config(tracing(&want))
                        .description(format!("claw agent {}-{}", t.config.app, t.config.stage))
                        .code(
                            aws_sdk_lambda::types::FunctionCode::builder()
                                .zip_file(Blob::new(code.bytes.clone()))
                                .build(),
                        )
                        .set_tags(Some(t.tags.clone().into_iter().collect()))
                        .send()
                })
                .await?;
                wait_ready(aws, name).await
            })
            .await?;
        }
        Action::Update { fields } => {
            let live = live.context("function update without live state")?;
            step(progress, "updating", "updated", &what, async {
                if live.state != Some(State::Active) || live.last_update != Some(LastUpdateStatus::Successful) {
                    wait_ready(aws, name).await?;
                }
                let has = |f: &str| fields.iter().any(|c| c.field == f);
                if has("code") || has("architecture") {
                    let code = t
                        .code
                        .as_ref()
                        .context("updating the function's code needs its package: run `claw build` or pass --zip")?;
                    aws.lambda
                        .update_function_code()
                        .function_name(name)
                        .zip_file(Blob::new(code.bytes.clone()))
                        .architectures(LArch::from(want.architecture.as_str()))
                        .send()
                        .await
                        .ctx("UpdateFunctionCode", name)?;
                    wait_ready(aws, name).await?;
                }
                const CONFIG: &[&str] = &[
                    "memory_mb", "timeout_s", "environment", "vpc", "tracing", "role", "runtime", "handler",
                ];
                if CONFIG.iter().any(|f| has(f)) {
                    while_iam_propagates("UpdateFunctionConfiguration", name, || {
                        aws.lambda
                            .update_function_configuration()
                            .function_name(name)
                            .runtime(Runtime::from(want.runtime.as_str()))
                            .handler(&want.handler)
                            .role(&want.role)
                            .memory_size(want.memory_mb)
                            .timeout(want.timeout_s)
                            .environment(environment(&want))
                            .vpc_config(vpc_config(&want))
                            .tracing_config(tracing(&want))
                            .send()
                    })
                    .await?;
                    wait_ready(aws, name).await?;
                }
                let tags = TagDiff::between(&live.tags, &t.tags);
                if !tags.set.is_empty() {
                    aws.lambda
                        .tag_resource()
                        .resource(&live.arn)
                        .set_tags(Some(tags.set.clone().into_iter().collect()))
                        .send()
                        .await
                        .ctx("TagResource", name)?;
                }
                if !tags.remove.is_empty() {
                    aws.lambda
                        .untag_resource()
                        .resource(&live.arn)
                        .set_tag_keys(Some(tags.remove.clone()))
                        .send()
                        .await
                        .ctx("UntagResource", name)?;
                }
                Ok(())
            })
            .await?;
        }
        Action::Delete | Action::NoChange => {}
    }
    Ok(())
}

/// Reserved concurrency: put, or delete when removed from the config.
pub async fn apply_concurrency(
    aws: &Aws,
    t: &Target,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = &t.names.function;
    let what = format!("{} {name}", Kind::Concurrency.label());
    match plan.action(Kind::Concurrency, name) {
        Action::Create | Action::Update { .. } => {
            let n = t
                .config
                .function
                .reserved_concurrency
                .context("reserved concurrency planned without a value")?
                as i32;
            step(
                progress,
                "setting",
                "set",
                &format!("{what} to {n}"),
                async {
                    aws.lambda
                        .put_function_concurrency()
                        .function_name(name)
                        .reserved_concurrent_executions(n)
                        .send()
                        .await
                        .ctx("PutFunctionConcurrency", name)?;
                    Ok(())
                },
            )
            .await
        }
        Action::Delete => {
            step(progress, "removing", "removed", &what, async {
                aws.lambda
                    .delete_function_concurrency()
                    .function_name(name)
                    .send()
                    .await
                    .ctx("DeleteFunctionConcurrency", name)?;
                Ok(())
            })
            .await
        }
        Action::NoChange => Ok(()),
    }
}

/// Polls GetFunctionConfiguration until the function is Active and its last update
/// Successful; a Failed state is an error carrying Lambda's reason.
pub async fn wait_ready(aws: &Aws, name: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let c = aws
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .ctx("GetFunctionConfiguration", name)?;
        let state = c.state.clone();
        let update = c.last_update_status.clone();
        if state == Some(State::Failed) {
            anyhow::bail!(
                "Lambda function {name} is in state Failed: {}",
                c.state_reason.unwrap_or_default()
            );
        }
        if update == Some(LastUpdateStatus::Failed) {
            anyhow::bail!(
                "the last update of Lambda function {name} failed: {}",
                c.last_update_status_reason.unwrap_or_default()
            );
        }
        let active = state.is_none() || state == Some(State::Active);
        let updated = update.is_none() || update == Some(LastUpdateStatus::Successful);
        if active && updated {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            anyhow::bail!(
                "Lambda function {name} is still {:?}/{:?} after {} s",
                state,
                update,
                READY_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    }
}

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    match aws
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteFunction", name, e).into()),
    }
}
