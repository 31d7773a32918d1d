//! Bedrock inference profiles: the execution role allows a profile's model in
//! the Regions of claw's geography table (or `inference_regions`), and `claw
//! plan` reads the profile's real destinations with GetInferenceProfile (served
//! by the realism layer: moto has no Bedrock control plane) and refuses a role
//! that would miss one.

use claw_spec::Names;
use claw_spec::policy::{self, PolicyKind};
use claw_testkit::authz::{Authorizer, Facts, Recorded, simulate};
use claw_testkit::fixtures::{edit, root_config};
use claw_testkit::snapshot::stack_tags;

use crate::support::Env;

const HAIKU_US: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const SONNET_APAC: &str = "apac.anthropic.claude-sonnet-4-5-20250929-v1:0";
const SERVED: &str = "bedrock: GetInferenceProfile served";
/// Where the realism layer's APAC profile routes: two Regions past claw's table.
const APAC_DESTINATIONS: &str = "ap-northeast-1, ap-northeast-2, ap-northeast-3, ap-south-1, ap-south-2, ap-southeast-1, ap-southeast-2, ap-southeast-3, ap-southeast-4, ap-southeast-5, ap-southeast-7";

/// The root config in `region`, its company researcher on Bedrock with `model`
/// (the id and any other keys of `agents.company-researcher.model`).
fn bedrock_config(region: &str, model: &str) -> String {
    // The Region and the alarm topic's, which must be the function's.
    let text = edit(&root_config(), "ap-southeast-2", region).replace("ap-southeast-2", region);
    edit(
        &text,
        "model: { id: claude-haiku-4-5, max_tokens: 1024 }",
        &format!("model: {{ provider: bedrock, {model}, max_tokens: 1024 }}"),
    )
}

fn use_config(env: &Env, text: &str) {
    env.set_config(text);
    env.set_secrets();
}

/// `claw plan` in text mode.
fn plan_text(env: &Env) -> claw_testkit::Output {
    env.claw(&["plan", "--zip", &env.zip_arg()])
}

/// The GetInferenceProfile calls recorded while `f` ran, each checked against
/// the plan role's and the deployer's policy of the config.
fn profile_reads(env: &Env, f: impl FnOnce()) -> usize {
    env.moto.record();
    f();
    env.moto.stop_recording();
    let config = env.config();
    let facts = Facts::new(&Names::new(&config), stack_tags(&config));
    let map = Authorizer::load();
    let mut n = 0;
    for call in env.moto.calls().iter().filter(|c| c.service == "bedrock") {
        n += 1;
        let auths = map
            .authorizations(&Recorded::from(call), &facts)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auths.len(), 1, "{auths:?}");
        assert_eq!(auths[0].action, "bedrock:GetInferenceProfile");
        // Both evaluators: claw's and iam-simulate, with its own copy of the
        // Service Authorization Reference.
        for kind in [PolicyKind::Plan, PolicyKind::Deployer] {
            let doc = policy::generate(kind, &config, None).unwrap();
            assert!(
                claw_spec::eval::allows(&doc, &auths[0].eval_request()),
                "the {} policy denies {}",
                kind.name(),
                auths[0]
            );
            let v = &simulate::evaluate(&doc, &auths)[0];
            assert!(
                v.allowed && v.error.is_none() && v.ignored.is_empty(),
                "iam-simulate on the {} policy: {v:?}",
                kind.name()
            );
        }
    }
    n
}

/// A profile whose destinations the role names plans clean, says where it
/// routes (text and JSON), costs one GetInferenceProfile that the plan and
/// deployer policies allow, and a config without a profile makes no such call.
#[test]
fn a_profile_the_role_covers_plans_clean_and_its_destinations_are_reported() {
    let env = Env::with_secrets();
    let reads = profile_reads(&env, || {
        env.plan_json();
    });
    assert_eq!(reads, 0, "the example config uses no inference profile");
    assert_eq!(env.realism().count(SERVED), 0);

    use_config(
        &env,
        &bedrock_config("us-east-1", &format!("id: {HAIKU_US}")),
    );
    let mut json = serde_json::Value::Null;
    let reads = profile_reads(&env, || json = env.plan_json());
    assert_eq!(reads, 1, "one GetInferenceProfile per profile");
    assert_eq!(env.realism().count(SERVED), 1);
    let plan = &json["plan"];
    assert_eq!(plan["blockers"], serde_json::json!([]), "{json:#}");
    assert_eq!(
        plan["inference_profiles"],
        serde_json::json!([{
            "profile": HAIKU_US,
            "global": false,
            "destinations": ["us-east-1", "us-east-2", "us-west-2"],
            "allowed": ["us-east-1", "us-east-2", "us-west-1", "us-west-2"],
            "missing": [],
        }]),
        "{json:#}"
    );
    let text = plan_text(&env).ok();
    assert!(
        text.stdout
            .contains(&format!("  {HAIKU_US}  us-east-1, us-east-2, us-west-2\n")),
        "{}",
        text.stdout
    );

    // No network for the policy: a note says where the Regions come from, on
    // stderr, and the document on stdout is the document.
    let shown = env.claw(&["policy", "show", "--kind", "role"]).ok();
    assert!(
        shown.stderr.contains("claw's table") && shown.stderr.contains(HAIKU_US),
        "{}",
        shown.stderr
    );
    assert!(
        shown.stdout.contains(&format!(
            "arn:aws:bedrock:us-west-1::foundation-model/{}",
            HAIKU_US.trim_start_matches("us.")
        )),
        "{}",
        shown.stdout
    );
    let doc = env
        .claw(&["policy", "show", "--kind", "role", "--output", "json"])
        .ok();
    assert!(doc.json()["documents"]["role"].is_object());
    assert!(doc.stderr.is_empty(), "{}", doc.stderr);
}

/// A profile routing to Regions claw's table lacks fails the plan (and the
/// deploy, before any change) with the Regions and the `inference_regions` fix;
/// with that fix the plan passes and the role names the new Regions.
#[test]
fn a_destination_outside_claws_table_fails_the_plan_until_inference_regions_lists_it() {
    let env = Env::new();
    use_config(
        &env,
        &bedrock_config("ap-southeast-2", &format!("id: {SONNET_APAC}")),
    );
    let fix = format!("inference_regions: [{APAC_DESTINATIONS}]");
    let failed = plan_text(&env).code(1);
    for part in [
        format!(
            "inference profile `{SONNET_APAC}` routes requests to ap-southeast-5, ap-southeast-7"
        ),
        "claw's table for `apac.` profiles".to_string(),
        format!("set `{fix}` under `agents.company-researcher.model`"),
    ] {
        assert!(
            failed.all().contains(&part),
            "{part} missing from:\n{}",
            failed.all()
        );
    }
    assert!(
        failed
            .stdout
            .contains("(not allowed by the role: ap-southeast-5, ap-southeast-7)"),
        "{}",
        failed.stdout
    );
    let json = env
        .claw(&["plan", "--output", "json", "--zip", &env.zip_arg()])
        .code(1)
        .json();
    assert_eq!(
        json["plan"]["inference_profiles"][0]["missing"],
        serde_json::json!(["ap-southeast-5", "ap-southeast-7"]),
        "{json:#}"
    );
    let mutations = env.mutations_during(|| {
        env.deploy().code(1);
    });
    assert!(
        mutations.is_empty(),
        "a refused deploy changed {mutations:?}"
    );

    use_config(
        &env,
        &bedrock_config(
            "ap-southeast-2",
            &format!("id: {SONNET_APAC}, inference_regions: [{APAC_DESTINATIONS}]"),
        ),
    );
    let json = env.plan_json();
    assert_eq!(json["plan"]["blockers"], serde_json::json!([]), "{json:#}");
    assert_eq!(
        json["plan"]["inference_profiles"][0]["missing"],
        serde_json::json!([])
    );
    let shown = env.claw(&["policy", "show", "--kind", "role"]).ok();
    assert!(
        shown.stdout.contains(&format!(
            "arn:aws:bedrock:ap-southeast-7::foundation-model/{}",
            SONNET_APAC.trim_start_matches("apac.")
        )),
        "{}",
        shown.stdout
    );
    assert!(
        !shown.stderr.contains("claw's table"),
        "the Regions are given: {}",
        shown.stderr
    );
}

/// A profile AWS does not know in the function's Region is an error naming the
/// profile and the Region, not a plan that passes unchecked.
#[test]
fn an_unknown_profile_is_a_clear_error_naming_it() {
    let env = Env::new();
    // Known to AWS in the US, not from Sydney.
    use_config(
        &env,
        &bedrock_config("ap-southeast-2", &format!("id: {HAIKU_US}")),
    );
    let failed = plan_text(&env).code(1);
    for part in [
        format!(
            "inference profile `{HAIKU_US}` does not exist in ap-southeast-2 or the account has no access to it"
        ),
        "ResourceNotFoundException".to_string(),
        "aws bedrock list-inference-profiles --region ap-southeast-2".to_string(),
    ] {
        assert!(
            failed.all().contains(&part),
            "{part} missing from:\n{}",
            failed.all()
        );
    }
    // A test can teach the layer the profile: then it plans.
    env.realism()
        .set_inference_profile(HAIKU_US, &["ap-southeast-2"], &["ap-southeast-2"]);
    let json = env.plan_json();
    assert_eq!(
        json["plan"]["inference_profiles"][0]["destinations"],
        serde_json::json!(["ap-southeast-2"]),
        "{json:#}"
    );
}
