//! The alarm types and constants every part of this kind shares (below them all).

use std::collections::BTreeMap;

/// The EMF namespace the function writes its own metrics to, with the
/// dimensions `app`, `stage` and `agent` (agent-fn's `audit::emf_line`): the
/// figures' own.
pub use crate::aws::figures::CLAW_NAMESPACE as TOKENS_NAMESPACE;
pub const TOKENS_METRIC: &str = "OutputTokens";
/// The function's model cost per invocation, in millionths of a US dollar.
pub const COST_METRIC: &str = "CostMicroUSD";
/// The function's count of runs that failed (model, tool or internal errors),
/// which it answers with a status code instead of failing the invocation.
pub const ERRORS_METRIC: &str = "Errors";

/// CloudWatch's limit on metrics in one alarm, the expression included.
pub const MAX_ALARM_METRICS: usize = 10;

/// Every alarm suffix claw may create, wanted or not.
pub const SUFFIXES: &[&str] = claw_spec::names::ALARM_SUFFIXES;

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    /// When not empty: a metric-math alarm summing one series per value of the
    /// `agent` dimension (sorted).
    pub per_agent: Vec<String>,
    /// `Sum`, or an extended statistic such as `p99`.
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing: String,
    pub actions: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub spec: Desired,
    pub tags: BTreeMap<String, String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA` (read for `claw status`; never planned).
    pub state: String,
}

/// Tags in CloudWatch's shape.
pub fn cloudwatch_tags<'a>(
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<aws_sdk_cloudwatch::types::Tag> {
    tags.into_iter()
        .map(|(k, v)| {
            aws_sdk_cloudwatch::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// Every alarm with one of claw's names, by name.
pub type Found = BTreeMap<String, Live>;
