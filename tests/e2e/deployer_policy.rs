//! Deploy as the least-privilege deployer: every AWS call claw makes in a deploy
//! from scratch, a no-op redeploy, an update, JWT, async mode, destroy and
//! bootstrap (the administrator's: only its mapping and its refusals count) is
//! recorded, turned into the IAM authorizations AWS evaluates for it
//! (`testkit/authz/operations.json`: action, resource ARN, condition keys, implied
//! actions such as `iam:PassRole`), and checked against the generated deployer
//! policy of the config deployed. moto does not enforce IAM, so without this a
//! missing action would only show as AccessDenied on a real account.
//!
//! Two evaluators judge each authorization: `claw_spec::eval` and, independently,
//! `@cloud-copilot/iam-simulate` (with its own copy of the Service Authorization
//! Reference); they must agree.

use std::collections::BTreeSet;

use claw_spec::Names;
use claw_spec::iam::PolicyDocument;
use claw_spec::policy::{self, PolicyKind};
use claw_testkit::authz::{Authorization, Authorizer, Facts, Principal, Recorded, simulate};
use claw_testkit::fixtures::{edit, root_config};
use claw_testkit::snapshot::stack_tags;

use crate::support::{Env, async_config};

/// One step of the scenario: the calls claw made, and the config deployed (whose
/// deployer policy the CI role would carry).
struct Phase {
    name: &'static str,
    config: claw_spec::Config,
    /// The policy of the role that runs it: the deployer's, or the plan role's.
    kind: PolicyKind,
    calls: Vec<Recorded>,
}

/// Runs `f` with moto's recorder on and returns every call it made.
fn recorded(env: &Env, f: impl FnOnce()) -> Vec<Recorded> {
    env.moto.record();
    f();
    env.moto.stop_recording();
    env.moto.calls().iter().map(Recorded::from).collect()
}

fn jwt_config() -> String {
    edit(
        &root_config(),
        "  auth: iam\n",
        "  auth: jwt\n  jwt:\n    issuer: https://issuer.example.com/\n    audience: [crm-api]\n",
    )
}

/// The updated config with a function URL for an account and a role: the URL,
/// its grants (and, in the next phase, their removal).
fn stream_config() -> String {
    edit(
        &updated_config(),
        "  throttle: { rate: 10, burst: 20 }\n",
        "  throttle: { rate: 10, burst: 20 }\n  stream:\n    allow: [\"210987654321\", \"arn:aws:iam::123456789012:role/chat-frontend\"]\n",
    )
}

/// The root config with more memory and another prompt. (Not changed tags: moto
/// answers TagResource on an HTTP API stage's ARN with 404, so a retag cannot be
/// recorded; the tagging calls are covered by `testkit/src/authz/tests.rs`.)
fn updated_config() -> String {
    let text = edit(&root_config(), "memory_mb: 256", "memory_mb: 512");
    edit(
        &text,
        "from our records only.",
        "from our records only, in one paragraph.",
    )
}

/// Whether a denial is one claw accepts by design: in sync mode it looks for what
/// async mode left behind, and a deployer role made for sync mode may not read
/// those (`resources::leftover` skips them with a note).
fn tolerated_in_sync_mode(config: &claw_spec::Config, n: &Names, a: &Authorization) -> bool {
    let leftovers = [
        n.queue_arn(&n.queue),
        n.queue_arn(&n.dlq),
        n.table_arn(&n.jobs_table),
    ];
    let read = ["Get", "List", "Describe"]
        .iter()
        .any(|p| a.action.split(':').nth(1).unwrap_or("").starts_with(p));
    config.api.mode == claw_spec::model::ApiMode::Sync
        && read
        && (leftovers.contains(&a.resource) || a.action == "lambda:ListEventSourceMappings")
}

/// The phase run with administrator credentials.
const BOOTSTRAP: &str = "bootstrap";

/// Every authorization of a phase, with the deployer policy's verdict.
struct Judged {
    auth: Authorization,
    allowed: bool,
}

fn judge(
    phase: &Phase,
    map: &Authorizer,
    failures: &mut Vec<String>,
) -> (PolicyDocument, Vec<Judged>) {
    let n = Names::new(&phase.config);
    let facts = Facts::new(&n, stack_tags(&phase.config));
    let doc = policy::generate(phase.kind, &phase.config, None).unwrap();
    let mut judged = Vec::new();
    for call in &phase.calls {
        let auths = match map.authorizations(call, &facts) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("[{}] {e}", phase.name));
                continue;
            }
        };
        for auth in auths {
            let allowed = claw_spec::eval::allows(&doc, &auth.eval_request());
            match (auth.by, allowed) {
                // `claw bootstrap` runs as an administrator: it reads and writes
                // the CI roles, which the deployer may not, and must still be
                // refused what the map marks the administrator's.
                (Principal::Deployer, false)
                    if phase.name != BOOTSTRAP
                        && !tolerated_in_sync_mode(&phase.config, &n, &auth) =>
                {
                    failures.push(format!("[{}] deployer policy denies {auth}", phase.name));
                }
                (Principal::Administrator, true) => failures.push(format!(
                    "[{}] deployer policy allows an administrator-only call: {auth}",
                    phase.name
                )),
                _ => {}
            }
            judged.push(Judged { auth, allowed });
        }
    }
    (doc, judged)
}

/// The second evaluator must reach the same verdict on every authorization, and
/// must not drop a condition key the map fills as not applying to the action.
fn cross_check(phase: &Phase, doc: &PolicyDocument, judged: &[Judged], failures: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    let unique: Vec<&Judged> = judged
        .iter()
        .filter(|j| seen.insert(j.auth.to_string()))
        .collect();
    let auths: Vec<Authorization> = unique.iter().map(|j| j.auth.clone()).collect();
    let verdicts = simulate::evaluate(doc, &auths);
    for (j, v) in unique.iter().zip(verdicts) {
        if let Some(e) = &v.error {
            failures.push(format!(
                "[{}] iam-simulate refused {}: {e}",
                phase.name, j.auth
            ));
        } else if v.allowed != j.allowed {
            failures.push(format!(
                "[{}] evaluators disagree on {}: claw_spec::eval {}, iam-simulate {}",
                phase.name,
                j.auth,
                if j.allowed { "allows" } else { "denies" },
                v.result
            ));
        }
        if !v.ignored.is_empty() {
            failures.push(format!(
                "[{}] iam-simulate says {:?} do not apply to {} (fix the map)",
                phase.name, v.ignored, j.auth
            ));
        }
    }
}

#[test]
fn every_call_claw_makes_is_allowed_by_the_deployer_policy() {
    let env = Env::with_secrets();
    let mut phases = Vec::new();
    let mut phase = |kind, name, text: String, f: &dyn Fn()| {
        env.set_config(&text);
        let calls = recorded(&env, f);
        phases.push(Phase {
            name,
            config: env.config(),
            kind,
            calls,
        });
    };
    let deploy = || {
        env.deploy().ok();
    };
    phase(
        PolicyKind::Deployer,
        "deploy from scratch",
        root_config(),
        &deploy,
    );
    // `claw plan`, `claw policy diff` and `claw status` as the plan role (pull
    // requests, dashboards of CI): every read they make must be in the plan policy.
    phase(
        PolicyKind::Plan,
        "plan as the plan role",
        root_config(),
        &|| {
            env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
            env.claw(&["policy", "diff"]).ok();
            env.claw(&["status", "--zip", &env.zip_arg()]).ok();
        },
    );
    phase(
        PolicyKind::Deployer,
        "no-op redeploy",
        root_config(),
        &deploy,
    );
    phase(PolicyKind::Deployer, "update", updated_config(), &deploy);
    phase(
        PolicyKind::Deployer,
        "function url",
        stream_config(),
        &deploy,
    );
    phase(PolicyKind::Deployer, "jwt", jwt_config(), &deploy);
    phase(PolicyKind::Deployer, "async mode", async_config(), &deploy);
    phase(PolicyKind::Deployer, "destroy", async_config(), &|| {
        env.claw(&["destroy", "--yes"]).ok();
    });
    // After destroy, so that bootstrap makes the boundary and the role again.
    phase(PolicyKind::Deployer, BOOTSTRAP, async_config(), &|| {
        env.claw(&[
            "bootstrap",
            "--github-repo",
            "acme/agents",
            "--plan-role",
            "--yes",
        ])
        .ok();
    });

    // The calls the realism layer answers itself (moto lacks them) are checked
    // as well: the account's concurrency and the API's authorizers.
    // The function URL made and removed, under the deployer's conditions.
    for (phase, method) in [("function url", "POST"), ("jwt", "DELETE")] {
        assert!(
            phases.iter().any(|p| p.name == phase
                && p.calls
                    .iter()
                    .any(|c| c.method == method && c.path.ends_with("/url"))),
            "no {method} …/url in [{phase}]"
        );
    }
    for needle in ["/account-settings", "/authorizers"] {
        assert!(
            phases.iter().any(|p| p
                .calls
                .iter()
                .any(|c| c.method == "GET" && c.path.contains(needle))),
            "no GET …{needle} recorded"
        );
    }
    let map = Authorizer::load();
    let second = simulate::unavailable();
    let mut failures = Vec::new();
    let mut total = 0;
    for p in &phases {
        assert!(!p.calls.is_empty(), "[{}] recorded no call", p.name);
        let (doc, judged) = judge(p, &map, &mut failures);
        let admin = judged
            .iter()
            .filter(|j| j.auth.by == Principal::Administrator)
            .count();
        eprintln!(
            "{}: {} calls, {} authorizations ({admin} the administrator's)",
            p.name,
            p.calls.len(),
            judged.len()
        );
        // The boundary is created in the first deploy and deleted by destroy: both
        // are the administrator's, and the policy must refuse them to the deployer.
        if matches!(p.name, "deploy from scratch" | "destroy" | BOOTSTRAP) && admin == 0 {
            failures.push(format!("[{}] no boundary call recorded", p.name));
        }
        total += judged.len();
        if second.is_none() {
            cross_check(p, &doc, &judged, &mut failures);
        }
    }
    if let Some(why) = &second {
        failures.push(format!("the second evaluator cannot run: {why}"));
    }
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} problem(s) in {total} authorizations:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// One request a stolen credential might try, and whether the policy must allow it.
fn request(
    action: &str,
    resource: &str,
    context: &[(&str, &[&str])],
    multivalued: bool,
) -> Authorization {
    Authorization {
        operation: "attack".into(),
        action: action.into(),
        resource: resource.into(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
        multivalued: if multivalued {
            context.iter().map(|(k, _)| k.to_lowercase()).collect()
        } else {
            Vec::new()
        },
        by: Principal::Deployer,
    }
}

/// What a stolen CI credential (the deployer policy) or a compromised function
/// (the execution role's policy) could try, judged by both evaluators, which must
/// agree with what claw's design says: who may assume the execution role cannot
/// change, the function cannot be made invokable by another account, another
/// app's alarms are out of reach, and the `eventbridge_put` tool's statement
/// allows its own source only (`events:source` is multivalued: `ForAllValues`
/// with `Null … false`).
#[test]
fn what_a_stolen_credential_tries_is_refused_by_both_evaluators() {
    if let Some(why) = simulate::unavailable() {
        panic!("the second evaluator cannot run: {why}");
    }
    let root = claw_testkit::snapshot::load_config(&claw_testkit::repo_root().join("agent.yaml"));
    let n = Names::new(&root);
    let (role, boundary, function) = (n.role_arn(), n.boundary_arn(), n.function_arn());
    let foreign_alarm = format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{}-{}-x-errors",
        n.region, n.account, n.app, n.stage
    );
    let bound: &[(&str, &[&str])] = &[("iam:PermissionsBoundary", &[boundary.as_str()])];
    let deployer_cases = [
        (request("iam:CreateRole", &role, bound, false), false),
        (
            request("iam:UpdateAssumeRolePolicy", &role, bound, false),
            false,
        ),
        (request("iam:DeleteRole", &role, bound, false), false),
        (
            request("iam:PutRolePermissionsBoundary", &role, bound, false),
            false,
        ),
        (request("iam:PutRolePolicy", &role, &[], false), false),
        (request("iam:PutRolePolicy", &role, bound, false), true),
        (
            request(
                "lambda:AddPermission",
                &function,
                &[("lambda:Principal", &["210987654321"])],
                false,
            ),
            false,
        ),
        (
            request(
                "lambda:AddPermission",
                &function,
                &[("lambda:Principal", &["apigateway.amazonaws.com"])],
                false,
            ),
            true,
        ),
        (
            request(
                "iam:PassRole",
                &role,
                &[("iam:PassedToService", &["ec2.amazonaws.com"])],
                false,
            ),
            false,
        ),
        (
            request("cloudwatch:PutMetricAlarm", &foreign_alarm, &[], false),
            false,
        ),
        (
            request("cloudwatch:PutMetricAlarm", &n.alarm_arns()[0], &[], false),
            true,
        ),
    ];
    let deployer = policy::generate(PolicyKind::Deployer, &root, None).unwrap();
    let mut failures = Vec::new();
    let mut check = |doc: &PolicyDocument, cases: &[(Authorization, bool)]| {
        let auths: Vec<Authorization> = cases.iter().map(|(a, _)| a.clone()).collect();
        for ((auth, want), v) in cases.iter().zip(simulate::evaluate(doc, &auths)) {
            let ours = claw_spec::eval::allows(doc, &auth.eval_request());
            if ours != *want || v.allowed != *want || v.error.is_some() {
                failures.push(format!(
                    "{auth}: want {}, claw_spec::eval {ours}, iam-simulate {} {:?}",
                    if *want { "allowed" } else { "refused" },
                    v.result,
                    v.error
                ));
            }
        }
    };
    check(&deployer, &deployer_cases);

    let tools = claw_testkit::snapshot::load_config(
        &claw_testkit::repo_root().join("tests/fixtures/variants/all-tools.yaml"),
    );
    let tn = Names::new(&tools);
    let bus = format!("arn:aws:events:{}:{}:event-bus/ops", tn.region, tn.account);
    let role_policy = policy::generate(PolicyKind::Role, &tools, None).unwrap();
    check(
        &role_policy,
        &[
            (
                request(
                    "events:PutEvents",
                    &bus,
                    &[("events:source", &["acme.ops-agent"])],
                    true,
                ),
                true,
            ),
            (
                request(
                    "events:PutEvents",
                    &bus,
                    &[("events:source", &["acme.ops-agent", "aws.iam"])],
                    true,
                ),
                false,
            ),
            (request("events:PutEvents", &bus, &[], true), false),
        ],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
