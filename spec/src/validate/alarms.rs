//! The `alarms` and `tags` sections.

use super::check::{Check, p};

pub(super) fn alarms(c: &mut Check) {
    let cfg = c.config;
    let a = &cfg.alarms;
    if let Some(topic) = &a.notify {
        let parts: Vec<&str> = topic.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && parts[5]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !parts[5].is_empty();
        if !ok {
            c.error(
                p(&["alarms", "notify"]),
                format!("`{topic}` is not an SNS topic ARN"),
            );
        } else if !cfg.region.is_empty() && parts[3] != cfg.region {
            // (An empty region stands in for a missing one, already reported.)
            c.error(
                p(&["alarms", "notify"]),
                format!(
                    "the topic is in {}, but alarms can only notify topics in {}",
                    parts[3], cfg.region
                ),
            );
        }
    }
    if a.notify.is_none() {
        c.warn(
            p(&["alarms"]),
            "alarms have no `notify` topic: they change state in CloudWatch but tell no one; set `alarms.notify` to an SNS topic ARN",
        );
    }
    c.range(p(&["alarms", "errors"]), a.errors.into(), 1, 1_000_000, "");
    c.range(
        p(&["alarms", "throttles"]),
        a.throttles.into(),
        1,
        1_000_000,
        "",
    );
    if !(a.duration_p99_ratio > 0.0 && a.duration_p99_ratio <= 1.0) {
        c.error(
            p(&["alarms", "duration_p99_ratio"]),
            format!(
                "must be above 0 and at most 1 (a fraction of the timeout), found {}",
                a.duration_p99_ratio
            ),
        );
    }
    if a.invocations_per_5min == Some(0) {
        c.error(p(&["alarms", "invocations_per_5min"]), "must be at least 1");
    }
    if a.output_tokens_per_hour == Some(0) {
        c.error(
            p(&["alarms", "output_tokens_per_hour"]),
            "must be at least 1",
        );
    }
    if let Some(usd) = a.cost_usd_per_day {
        let path = p(&["alarms", "cost_usd_per_day"]);
        if !(usd.is_finite() && usd > 0.0 && usd <= 1_000_000.0) {
            c.error(
                path,
                format!("must be US dollars, more than 0 and at most 1000000, found {usd}"),
            );
        } else if let Some(agent) = c
            .config
            .agents
            .keys()
            .find(|name| c.config.model_for(name).prices.is_none())
        {
            let id = c.config.model_for(agent).id;
            c.error(
                path,
                format!(
                    "agent `{agent}` runs on `{id}`, which has no price claw knows, so its \
                     cost would be missing from the alarm: set `prices` for it"
                ),
            );
        }
    }
}

/// A character every tagged service accepts in a tag key or value.
fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " _.:/=+-".contains(c)
}

pub(super) fn tags(c: &mut Check) {
    let cfg = c.config;
    if cfg.tags.len() > 48 {
        c.error(
            p(&["tags"]),
            format!("{} tags; AWS allows 50 and claw adds 2", cfg.tags.len()),
        );
    }
    for (k, v) in &cfg.tags {
        let path = p(&["tags", k]);
        if k.is_empty() || k.len() > 128 {
            c.key_error(path.clone(), "tag keys are 1 to 128 characters");
        } else if k.to_ascii_lowercase().starts_with("aws:") || k.starts_with("claw:") {
            c.key_error(
                path.clone(),
                format!("`{k}`: the `aws:` and `claw:` prefixes are reserved"),
            );
        }
        if v.len() > 256 {
            c.error(path.clone(), "tag values are at most 256 characters");
        }
        // The characters every service claw tags accepts: IAM and Lambda take `@`,
        // DynamoDB does not; API Gateway documents `[a-zA-Z+-=._:/]`
        // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Tagging.html,
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html).
        for (what, text, key_pos) in [("key", k, true), ("value", v, false)] {
            if let Some(bad) = text.chars().find(|ch| !tag_char(*ch)) {
                let message = format!(
                    "tag {what} `{text}` has `{bad}`; tags go to IAM, Lambda, API Gateway, DynamoDB, SQS, CloudWatch and Logs, which together accept only letters, digits, spaces and `_ . : / = + -`"
                );
                if key_pos {
                    c.key_error(path.clone(), message);
                } else {
                    c.error(path.clone(), message);
                }
            }
        }
    }
}
