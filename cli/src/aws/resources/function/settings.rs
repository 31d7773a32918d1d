//! The function's settings: what agent.yaml wants, what a function (or a
//! published version) has, and how they differ.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_lambda::types::FunctionConfiguration;
use claw_spec::model::Tracing;

use crate::aws::plan::Changed;
use crate::aws::target::Target;

pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
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

fn tracing_name(t: Tracing) -> &'static str {
    match t {
        Tracing::Active => "Active",
        Tracing::PassThrough => "PassThrough",
    }
}

pub fn desired(t: &Target) -> Desired {
    let f = &t.config.function;
    Desired {
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

/// The function's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Code,
    Architecture,
    Memory,
    Timeout,
    Environment,
    Vpc,
    Tracing,
    Role,
    Runtime,
    Handler,
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Code => "code",
            Field::Architecture => "architecture",
            Field::Memory => "memory_mb",
            Field::Timeout => "timeout_s",
            Field::Environment => "environment",
            Field::Vpc => "vpc",
            Field::Tracing => "tracing",
            Field::Role => "role",
            Field::Runtime => "runtime",
            Field::Handler => "handler",
            Field::Tags => "tags",
        }
        .into()
    }
}

/// The fields that differ, in a stable order. Environment values are not shown,
/// only which variables change: the live side may hold values set by hand.
pub fn settings_changes(live: &Desired, want: &Desired) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    let set = |s: &BTreeSet<String>| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.iter().cloned().collect::<Vec<_>>().join(",")
        }
    };
    if live.architecture != want.architecture {
        out.push(Changed::new(
            Field::Architecture,
            &live.architecture,
            &want.architecture,
        ));
    }
    if live.memory_mb != want.memory_mb {
        out.push(Changed::new(Field::Memory, live.memory_mb, want.memory_mb));
    }
    if live.timeout_s != want.timeout_s {
        out.push(Changed::new(Field::Timeout, live.timeout_s, want.timeout_s));
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
        out.push(Changed::new(
            Field::Environment,
            format!("{} variables", live.environment.len()),
            format!("{} variables ({})", want.environment.len(), keys.join(" ")),
        ));
    }
    if live.subnets != want.subnets || live.security_groups != want.security_groups {
        let show = |s: &Desired| {
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
        out.push(Changed::new(Field::Vpc, show(live), show(want)));
    }
    if live.tracing != want.tracing {
        out.push(Changed::new(Field::Tracing, &live.tracing, &want.tracing));
    }
    if live.role != want.role {
        out.push(Changed::new(Field::Role, &live.role, &want.role));
    }
    if live.runtime != want.runtime {
        out.push(Changed::new(Field::Runtime, &live.runtime, &want.runtime));
    }
    if live.handler != want.handler {
        out.push(Changed::new(Field::Handler, &live.handler, &want.handler));
    }
    out
}

/// The settings a function or version has (GetFunction's configuration, or a
/// version from ListVersionsByFunction).
pub fn of(c: &FunctionConfiguration) -> Desired {
    let vpc = c.vpc_config();
    Desired {
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
    }
}
