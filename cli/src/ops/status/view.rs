//! What `claw status` shows: its JSON document, and what the text screen reads.

use serde::Serialize;

use super::metrics::{Figures, Window};
use crate::aws::plan::{FieldChange, ResourceKind};

/// One resource of the stack and whether it is as agent.yaml says.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceState {
    pub kind: ResourceKind,
    pub label: &'static str,
    pub name: String,
    /// `in_sync`, `drifted` (differs: a deploy would update it), `missing` (a
    /// deploy would create it) or `extra` (a deploy would delete it).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

/// One alarm and its state.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
}

/// With `rollout:`, the alias `live` and its traffic split.
#[derive(Debug, Clone, Serialize)]
pub struct AliasState {
    /// The version taking the rest of the traffic.
    pub version: String,
    /// The version a rollout moves traffic to, and its share in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shifting_to: Option<(u64, f64)>,
}

/// What `claw status` shows, as its JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub app: String,
    pub stage: String,
    pub region: String,
    pub window: Window,
    /// Every resource claw keeps is as agent.yaml says, and nothing blocks a deploy.
    pub in_sync: bool,
    /// Whether the function's code was compared (a package was at hand).
    pub code_compared: bool,
    pub resources: Vec<ResourceState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_url: Option<String>,
    /// The stack's dashboard in the CloudWatch console, when deploy made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasState>,
    pub alarms: Vec<AlarmState>,
    /// Alarms in ALARM.
    pub alarming: Vec<String>,
    #[serde(flatten)]
    pub figures: Figures,
    /// What the plan noted or refused (a resource claw did not create, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}
