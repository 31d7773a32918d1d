//! Size limits AWS enforces on what claw generates from agent.yaml, checked on the
//! validated config (they need the generated documents):
//! - IAM: a managed policy may hold 6,144 characters, a role's inline policies
//!   10,240 together, whitespace not counted
//!   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
//!   The execution role's policy is also its permissions boundary, a managed
//!   policy; the deployer policy is attached by an administrator.
//! - Lambda: the function's environment variables, 4 KB in all
//!   (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).

use super::check::{Finding, Severity};
use crate::model::Config;
use crate::names::Names;
use crate::policy;
use crate::yaml::PathSeg;

/// IAM's limit on a managed policy, whitespace not counted.
pub const MANAGED_POLICY_CHARS: usize = 6_144;
/// IAM's limit on a role's inline policies together, whitespace not counted.
pub const INLINE_POLICY_CHARS: usize = 10_240;
/// Lambda's limit on the environment variables of a function.
pub const ENVIRONMENT_BYTES: usize = 4_096;

/// The characters IAM counts in a document: its JSON without whitespace.
pub fn policy_chars(doc: &crate::iam::PolicyDocument) -> usize {
    serde_json::to_string(doc)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

fn finding(severity: Severity, path: &[&str], message: String) -> Finding {
    Finding {
        severity,
        path: path.iter().map(|k| PathSeg::Key(k.to_string())).collect(),
        message,
        at_key: true,
    }
}

/// The size problems of a validated config.
pub fn check(config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let role = policy_chars(&policy::role(config, &Names::new(config)));
    if role > MANAGED_POLICY_CHARS {
        out.push(finding(
            Severity::Error,
            &["tools"],
            format!(
                "the execution role's policy would be {role} characters; its permissions boundary is a managed policy, which IAM caps at {MANAGED_POLICY_CHARS}: use fewer tools, secrets or subnets"
            ),
        ));
    }
    let deployer = policy_chars(&policy::deployer(config, &Names::new(config)));
    if deployer > INLINE_POLICY_CHARS {
        out.push(finding(
            Severity::Warning,
            &[],
            format!(
                "the deployer policy (`claw policy show --kind deployer`) is {deployer} characters: over IAM's {INLINE_POLICY_CHARS} for a role's inline policies; split it into two managed policies"
            ),
        ));
    }
    // Between the two limits is fine: `claw bootstrap` attaches the deployer
    // policy to its role inline, where IAM allows INLINE_POLICY_CHARS.
    let env = serde_json::to_string(&config.function.environment)
        .unwrap_or_default()
        .len();
    if env > ENVIRONMENT_BYTES {
        out.push(finding(
            Severity::Error,
            &["function", "environment"],
            format!(
                "the environment variables are {env} bytes together; Lambda allows {ENVIRONMENT_BYTES}"
            ),
        ));
    }
    out
}
