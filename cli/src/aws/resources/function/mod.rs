//! The Lambda function (its reserved concurrency is the `concurrency` module).
//!
//! Code is uploaded only when the package's CodeSha256 differs from the live one;
//! configuration is updated only when one of its fields differs. Every change waits
//! until the function is `Active` with `LastUpdateStatus: Successful` before the
//! next, as Lambda refuses concurrent updates.

mod destroy;
mod ready;
mod replace;
mod settings;
pub mod versions;

pub use settings::{Desired, Field, desired, settings_changes};

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture as LArch, Environment, LastUpdateStatus, Runtime, State, TracingConfig,
    TracingMode, VpcConfig,
};

use super::{Ctx, DestroyOptions, Tagged, destroy_owned};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::ownership::{foreign_blocker, is_ours};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, TagDiff, update_of};
use crate::aws::progress::step;
use crate::aws::propagation::while_iam_propagates;
use crate::aws::target::Target;
use ready::{wait_applied, wait_until_changeable};

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub settings: Desired,
    pub code_sha256: String,
    pub state: Option<State>,
    pub state_reason: String,
    pub last_update: Option<LastUpdateStatus>,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<i32>,
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let name = &t.names.function;
    let Some(out) = aws
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .ctx("GetFunction", name)
        .optional()?
    else {
        return Ok(None);
    };
    let c = out
        .configuration
        .context("GetFunction returned no configuration")?;
    Ok(Some(Live {
        arn: c
            .function_arn
            .clone()
            .unwrap_or_else(|| t.names.function_arn()),
        settings: settings::of(&c),
        code_sha256: c.code_sha256.clone().unwrap_or_default(),
        state: c.state.clone(),
        state_reason: c.state_reason.clone().unwrap_or_default(),
        last_update: c.last_update_status.clone(),
        tags: out.tags.unwrap_or_default().into_iter().collect(),
        reserved_concurrency: out
            .concurrency
            .and_then(|c| c.reserved_concurrent_executions),
    }))
}

/// The calls an update needs. Every field names its call here, so a new field
/// does not compile until it has one.
#[derive(Debug, Default, PartialEq)]
pub struct Steps {
    /// UpdateFunctionCode (the package, and the architecture it is built for).
    pub code: bool,
    /// UpdateFunctionConfiguration.
    pub config: bool,
    pub tags: bool,
}

impl Steps {
    pub fn of(changes: &[Changed<Field>]) -> Steps {
        let mut s = Steps::default();
        for c in changes {
            match c.field {
                Field::Code | Field::Architecture => s.code = true,
                Field::Memory
                | Field::Timeout
                | Field::Environment
                | Field::Vpc
                | Field::Tracing
                | Field::Role
                | Field::Runtime
                | Field::Handler => s.config = true,
                Field::Tags => s.tags = true,
            }
        }
        s
    }
}

/// What an update of a live function changes. Without a package the code is not
/// compared.
pub fn changes(t: &Target, live: &Live) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if let Some(code) = &t.code
        && code.sha256 != live.code_sha256
    {
        out.push(Changed::new(
            Field::Code,
            short(&live.code_sha256),
            short(&code.sha256),
        ));
    }
    out.extend(settings_changes(&live.settings, &desired(t)));
    out.extend(Changed::tags(Field::Tags, &live.tags, &t.tags));
    out
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

pub fn plan(t: &Target, live: &Option<Live>, plan: &mut Plan) {
    let name = &t.names.function;
    let Some(live) = live else {
        plan.push(ResourceChange::new(
            ResourceKind::Function,
            name,
            Action::Create,
        ));
        return;
    };
    if !is_ours(&live.tags, &t.config) {
        plan.blockers.push(foreign_blocker(
            &format!("Lambda function {} exists", live.arn),
            &t.config,
        ));
        return;
    }
    if let Some(why) = replace::failed(live.state.as_ref(), &live.state_reason) {
        plan.push(ResourceChange::new(ResourceKind::Function, name, Action::Create).with_note(why));
        return;
    }
    if t.code.is_none() {
        plan.notes.push(format!(
            "the function's code was not compared (no package: run `claw build` or pass --zip); live CodeSha256 {}",
            live.code_sha256
        ));
    }
    plan.push(ResourceChange::new(
        ResourceKind::Function,
        name,
        update_of(&changes(t, live)),
    ));
}

fn vpc_config(s: &Desired) -> VpcConfig {
    VpcConfig::builder()
        .set_subnet_ids(Some(s.subnets.iter().cloned().collect()))
        .set_security_group_ids(Some(s.security_groups.iter().cloned().collect()))
        .build()
}

fn environment(s: &Desired) -> Environment {
    Environment::builder()
        .set_variables(Some(s.environment.clone().into_iter().collect()))
        .build()
}

fn tracing(s: &Desired) -> TracingConfig {
    TracingConfig::builder()
        .mode(TracingMode::from(s.tracing.as_str()))
        .build()
}

/// Creates or updates the function.
pub async fn apply(cx: &Ctx<'_>, live: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.function;
    let what = format!("{} {name}", ResourceKind::Function.label());
    let want = desired(t);
    match plan.action(ResourceKind::Function, name) {
        Action::Create => {
            let code = t.code.as_ref().context(
                "creating the function needs its package: run `claw build` or pass --zip",
            )?;
            step(progress, "creating", "created", &what, async {
                if live.as_ref().is_some_and(is_replaced) {
                    replace::delete_failed(aws, name).await?;
                }
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
                wait_applied(aws, name).await
            })
            .await?;
        }
        Action::Update { .. } => {
            let live = live
                .as_ref()
                .context("function update without live state")?;
            let steps = Steps::of(&changes(t, live));
            step(progress, "updating", "updated", &what, async {
                if ready::before_change(live.state.as_ref(), live.last_update.as_ref())
                    != ready::Readiness::Ready
                {
                    wait_until_changeable(aws, name).await?;
                }
                if steps.code {
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
                    wait_applied(aws, name).await?;
                }
                if steps.config {
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
                    wait_applied(aws, name).await?;
                }
                let tags = TagDiff::between(&live.tags, &t.tags);
                if steps.tags && !tags.set.is_empty() {
                    aws.lambda
                        .tag_resource()
                        .resource(&live.arn)
                        .set_tags(Some(tags.set.clone().into_iter().collect()))
                        .send()
                        .await
                        .ctx("TagResource", name)?;
                }
                if steps.tags && !tags.remove.is_empty() {
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

/// Whether the function is attached to a VPC.
fn in_vpc(live: &Live) -> bool {
    !live.settings.subnets.is_empty() || !live.settings.security_groups.is_empty()
}

pub fn plan_destroy(t: &Target, live: &Option<Live>, _: DestroyOptions, plan: &mut Plan) {
    let name = &t.names.function;
    let what = format!("Lambda function {name}");
    destroy_owned(t, live.as_ref(), ResourceKind::Function, name, &what, plan);
    if let Some(l) = live
        && in_vpc(l)
        && let Some(c) = plan.changes.iter_mut().find(|c| {
            c.kind == ResourceKind::Function && c.name == *name && c.action == Action::Delete
        })
    {
        c.note = Some(destroy::DETACH_NOTE.into());
    }
}

/// Deletes the function (its permissions, concurrency and mappings go with it),
/// detached from its VPC first (see `destroy`).
pub async fn delete(cx: &Ctx<'_>, live: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let name = &cx.target.names.function;
    let detach = live.as_ref().is_some_and(in_vpc);
    cx.delete_step(plan, ResourceKind::Function, name, async {
        destroy::delete_function(cx.aws, name, detach).await
    })
    .await
}

/// Whether the live function is replaced rather than updated (`State: Failed`);
/// what goes with it (its permissions, its reservation) is then planned anew.
pub fn is_replaced(live: &Live) -> bool {
    replace::failed(live.state.as_ref(), &live.state_reason).is_some()
}

impl Tagged for Live {
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

#[cfg(test)]
mod tests;
