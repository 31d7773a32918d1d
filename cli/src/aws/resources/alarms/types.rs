//! The alarm types and constants every part of this kind shares (below them all).

use std::collections::BTreeMap;

/// The EMF namespace and metric the function writes its token counts to.
pub const TOKENS_NAMESPACE: &str = "claw";
pub const TOKENS_METRIC: &str = "OutputTokens";

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
