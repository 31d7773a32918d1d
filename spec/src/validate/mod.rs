//! Rules that AWS or Anthropic would enforce later (or that keep a deployment safe),
//! checked before any network call. Each problem carries its key path; the loader
//! turns paths into `file:line:column`.
//!
//! One file per section of agent.yaml: [`function`] (function, vpc), [`model`]
//! (model, limits, sessions, secrets), [`agents`] (agents and tools; each tool
//! kind's own rules are in `crate::tools`), [`api`], [`alarms`] (alarms, tags) and
//! [`rollout`].
//! [`check`] holds what they share; this module runs them all and checks the
//! identity keys.

mod agents;
mod alarms;
mod api;
mod check;
mod function;
mod model;
mod rollout;
pub mod sizes;

use crate::model::RawConfig;
use crate::names::Names;

pub use api::route_problem;
pub use check::{Finding, Severity};

use check::{Check, p};
pub use function::{LOG_RETENTION_DAYS, looks_like_secret};

/// Runs every rule on a deserialized config.
pub fn check(config: &RawConfig) -> Vec<Finding> {
    let mut c = Check {
        out: Vec::new(),
        config,
    };
    identity(&mut c);
    function::function(&mut c);
    function::vpc(&mut c);
    model::model(&mut c);
    model::secrets(&mut c);
    agents::agents(&mut c);
    agents::tools(&mut c);
    api::api(&mut c);
    alarms::alarms(&mut c);
    rollout::rollout(&mut c);
    alarms::tags(&mut c);
    c.out
}

fn identity(c: &mut Check) {
    let cfg = c.config;
    if !is_slug(&cfg.app) {
        c.error(
            p(&["app"]),
            format!(
                "`{}` is not a valid app name: use lowercase letters, digits and single hyphens, starting with a letter",
                cfg.app
            ),
        );
    }
    // No hyphen in a stage: names are `{app}-{stage}-…`, and `crm` + `leads-dev`
    // would name the same resources (and get the same policies) as `crm-leads` +
    // `dev`.
    if !is_slug(&cfg.stage) || cfg.stage.contains('-') {
        c.error(
            p(&["stage"]),
            format!(
                "`{}` is not a valid stage name: use lowercase letters and digits, starting with a letter, and no `-` (app `x` with stage `y-z` would name its resources like app `x-y` with stage `z`)",
                cfg.stage
            ),
        );
    }
    if !is_region(&cfg.region) {
        c.error(
            p(&["region"]),
            format!(
                "`{}` is not an AWS region name (such as `ap-southeast-2`)",
                cfg.region
            ),
        );
    }
    if cfg.account.len() != 12 || !cfg.account.bytes().all(|b| b.is_ascii_digit()) {
        c.error(
            p(&["account"]),
            format!(
                "`{}` is not an AWS account id: write the 12 digits, quoted (\"012345678901\")",
                cfg.account
            ),
        );
    }
    let names = Names::new(cfg);
    for (what, name, limit) in names.checked() {
        if name.len() > limit {
            c.error(
                p(&["app"]),
                format!(
                    "the {what} `{name}` is {} characters; AWS allows {limit}. Shorten `app` or `stage`",
                    name.len()
                ),
            );
        }
    }
}

fn is_slug(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}
