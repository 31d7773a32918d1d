//! The second evaluator: `@cloud-copilot/iam-simulate` (npm; `scripts/setup`
//! installs it into `testkit/authz/node_modules`), run by `testkit/authz/simulate.mjs`
//! under node. It carries its own copy of the Service Authorization Reference, so it
//! also checks that each action exists, that the resource ARN fits one of the
//! action's resource types, and which of our condition keys apply to the action.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::json;

use super::Authorization;
use claw_spec::iam::PolicyDocument;

/// The principal the simulated requests come from (any role in the account).
const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/ci-deployer";

/// One verdict of the simulator.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub allowed: bool,
    /// `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or `error`.
    pub result: String,
    /// Context keys the simulator dropped because the action does not support them.
    pub ignored: Vec<String>,
    pub error: Option<String>,
    /// Set when the verdict skipped the simulator's Service Authorization Reference
    /// check, and why: its data has no API Gateway V2 resource types, so HTTP API
    /// requests are evaluated against the policy alone.
    pub unchecked: Option<String>,
}

fn dir() -> std::path::PathBuf {
    crate::repo_root().join("testkit/authz")
}

/// Why the simulator cannot run here, if it cannot (node or the package missing).
pub fn unavailable() -> Option<String> {
    let pkg = dir().join("node_modules/@cloud-copilot/iam-simulate/package.json");
    if !pkg.exists() {
        return Some(format!(
            "{} is missing: run `bash scripts/setup` (it runs npm ci in testkit/authz)",
            pkg.display()
        ));
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("node is not on PATH".into()),
    }
}

/// Evaluates every authorization against `policy`, in order.
pub fn evaluate(policy: &PolicyDocument, auths: &[Authorization]) -> Vec<Verdict> {
    let requests: Vec<serde_json::Value> = auths
        .iter()
        .map(|a| {
            let context: serde_json::Map<String, serde_json::Value> = a
                .context
                .iter()
                .map(|(k, v)| {
                    let value = if a.multivalued.contains(k) {
                        json!(v)
                    } else {
                        json!(v.first().cloned().unwrap_or_default())
                    };
                    (k.clone(), value)
                })
                .collect();
            let account = a.resource.split(':').nth(4).unwrap_or("").to_string();
            json!({
                "action": a.action,
                "resource": a.resource,
                "account": if account.is_empty() { "123456789012".to_string() } else { account },
                "context": context,
            })
        })
        .collect();
    let input = json!({"policy": policy, "principal": PRINCIPAL, "requests": requests});
    let mut child = Command::new("node")
        .arg(dir().join("simulate.mjs"))
        .current_dir(dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run node");
    child
        .stdin
        .take()
        .expect("node's stdin")
        .write_all(input.to_string().as_bytes())
        .expect("writing to node");
    let out = child.wait_with_output().expect("waiting for node");
    assert!(
        out.status.success(),
        "simulate.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("simulate.mjs prints a JSON array");
    assert_eq!(verdicts.len(), auths.len(), "one verdict per request");
    verdicts
        .into_iter()
        .map(|v| Verdict {
            allowed: v["allowed"].as_bool().unwrap_or(false),
            result: v["result"].as_str().unwrap_or_default().to_string(),
            ignored: v["ignored"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            error: v["error"].as_str().map(str::to_string),
            unchecked: v["unchecked"].as_str().map(str::to_string),
        })
        .collect()
}
