//! `tools.NAME.approval: required`: where validation allows it, and the routes
//! and invoke grants it adds to async mode.

use claw_spec::Diagnostic;
use claw_spec::policy::{PolicyKind, generate};

mod support;

const BASE: &str = "app: demo
stage: dev
region: us-east-1
account: \"123456789012\"
model:
  id: claude-sonnet-5
  api_key_secret: demo/key
agents:
  a:
    system: hi
    tools: [refund]
tools:
  refund:
    kind: http
    description: Refund an order
    method: POST
    url: https://payments.example.com/refunds/{order_id}
";

fn load(extra: &str) -> Result<claw_spec::Config, Vec<Diagnostic>> {
    support::load(&format!("{BASE}{extra}"))
}

fn errors(extra: &str) -> Vec<String> {
    support::errors(&format!("{BASE}{extra}"))
        .into_iter()
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect()
}

#[test]
fn an_approved_tool_in_async_mode_adds_the_approve_and_reject_routes() {
    let c = load("    approval: required\napi:\n  mode: async\n").unwrap();
    assert!(c.needs_approval());
    assert_eq!(
        c.all_routes(),
        [
            "POST /agents/{agent}",
            "POST /jobs",
            "GET /jobs/{id}",
            "POST /jobs/{id}/approve",
            "POST /jobs/{id}/reject",
        ]
    );
    let v = serde_json::to_value(generate(PolicyKind::Invoke, &c, None).unwrap()).unwrap();
    let sids: Vec<&str> = v["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert!(
        sids.contains(&"claw-apigw-POST-jobs-id-approve"),
        "{sids:?}"
    );
    assert!(sids.contains(&"claw-apigw-POST-jobs-id-reject"), "{sids:?}");

    // Without approval, async mode keeps its two routes.
    let plain = load("api:\n  mode: async\n").unwrap();
    assert!(!plain.needs_approval());
    assert_eq!(plain.all_routes().len(), 3);
}

#[test]
fn approval_needs_async_mode_and_a_tool_claw_runs() {
    assert_eq!(
        errors("    approval: required\n"),
        [
            "tools.refund.approval: `approval: required` needs `api.mode: async`: only a job can wait for a person"
        ]
    );
    let mcp = "  crm:\n    kind: mcp\n    url: https://mcp.example.com/mcp\n    approval: required\napi:\n  mode: async\n";
    let e = errors(mcp);
    assert!(
        e.iter().any(|e| e
            == "tools.crm.approval: an mcp tool cannot wait for approval: the Messages API calls the server itself"),
        "{e:?}"
    );
    assert!(
        errors("    approval: maybe\napi:\n  mode: async\n")
            .iter()
            .any(|e| e.starts_with("tools.refund.approval")),
        "an unknown value names its key"
    );
    // The routes are reserved in sync mode, like the job routes.
    let e = errors("api:\n  routes: [\"POST /jobs/{id}/approve\"]\n");
    assert!(
        e.iter()
            .any(|e| e.ends_with("is reserved for `api.mode: async`")),
        "{e:?}"
    );
}
