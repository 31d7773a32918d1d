use super::*;
use crate::{Diagnostic, Loaded, Overrides, Severity, load, load_stages};

/// A valid file with two stages; line numbers below refer to it.
const BASE: &str = r#"app: shop
stage: dev
region: ap-southeast-2
account: "123456789012"
function:
  memory_mb: 256
  timeout_s: 20
model:
  id: claude-sonnet-5
  api_key_secret: shop/anthropic
agents:
  helper:
    system: Help.
tags:
  team: growth
  cost: shared
stages:
  dev: {}
  prod:
    account: "210987654321"
    function:
      memory_mb: 1024
    tags:
      cost: prod
"#;

fn stage(name: &str) -> Overrides {
    Overrides {
        stage: Some(name.into()),
        region: None,
    }
}

fn load_as(text: &str, overrides: &Overrides) -> Result<Loaded, Vec<Diagnostic>> {
    load("agent.yaml", text, overrides, &|_| None)
}

fn errors(text: &str, overrides: &Overrides) -> Vec<String> {
    match load_as(text, overrides) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.iter().map(Diagnostic::headline).collect(),
    }
}

fn all_errors(text: &str) -> Vec<String> {
    match load_stages("agent.yaml", text, &Overrides::default(), &|_| None) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.iter().map(Diagnostic::headline).collect(),
    }
}

#[test]
fn a_stage_merges_mappings_key_by_key_and_replaces_values() {
    let prod = load_as(BASE, &stage("prod")).unwrap().config;
    assert_eq!(prod.stage, "prod");
    assert_eq!(prod.account, "210987654321");
    assert_eq!(prod.function.memory_mb, 1024);
    assert_eq!(prod.function.timeout_s, 20, "other function keys are kept");
    assert_eq!(prod.tags["team"], "growth");
    assert_eq!(prod.tags["cost"], "prod");
    let dev = load_as(BASE, &Overrides::default()).unwrap().config;
    assert_eq!(dev.stage, "dev");
    assert_eq!(dev.account, "123456789012");
    assert_eq!(dev.function.memory_mb, 256);
    assert_eq!(dev.tags["cost"], "shared");
}

#[test]
fn lists_and_scalars_replace_and_mappings_merge_in_the_tree() {
    let root = crate::yaml::load(
        "function: {x: 1, y: [1, 2]}\nalarms: 2\nstages:\n  s:\n    function: {y: [3]}\n    alarms: {z: 1}\n    agents: {}\n",
    )
    .unwrap();
    let (merged, attribution) = merge(&root, Some("s"));
    // `agents` may not be overridden: `read` reports it, and it is not merged.
    let expected = crate::yaml::load("function: {x: 1, y: [3]}\nalarms: {z: 1}\n").unwrap();
    let strip = |n: &Node| format!("{:?}", n.value).replace(|c: char| c.is_ascii_digit(), "");
    // Compare shapes and values, not positions: the overrides keep theirs.
    assert_eq!(strip(&merged), strip(&expected));
    assert_eq!(merged.get("stages"), None);
    let y = merged.get("function").unwrap().get("y").unwrap();
    assert_eq!(
        y.mark,
        Mark {
            line: 5,
            column: 19
        },
        "{y:?}"
    );
    let a = attribution.unwrap();
    assert!(a.source(&key(&["function", "y"])).is_some());
    assert!(a.source(&key(&["function", "x"])).is_none());
    assert!(a.source(&key(&["alarms", "z"])).is_some());
}

#[test]
fn a_bad_override_is_reported_at_the_override() {
    let text = BASE.replace("memory_mb: 1024", "memory_mb: 99999");
    let e = errors(&text, &stage("prod"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("agent.yaml:22:18: error: stages.prod.function.memory_mb: "),
        "{e:?}"
    );
    // The default stage does not have the override, so it loads.
    assert!(load_as(&text, &Overrides::default()).is_ok());
}

#[test]
fn an_unknown_key_in_an_override_is_located_with_a_suggestion() {
    let text = BASE.replace("memory_mb: 1024", "memroy_mb: 1024");
    let e = errors(&text, &stage("prod"));
    assert_eq!(
        e,
        [
            "agent.yaml:22:7: error: stages.prod.function.memroy_mb: unknown key `memroy_mb` in `function`; did you mean `memory_mb`?"
        ]
    );
}

#[test]
fn the_selected_stage_must_be_one_of_the_stages() {
    let e = errors(BASE, &stage("prdo"));
    assert_eq!(
        e,
        [
            "agent.yaml:17:1: error: stages: --stage `prdo` is not one of the stages in `stages`: `dev`, `prod`; did you mean `prod`?"
        ]
    );
    let text = BASE.replace("stage: dev", "stage: deb");
    let e = errors(&text, &Overrides::default());
    assert_eq!(
        e,
        [
            "agent.yaml:2:8: error: stage: the default stage `deb` is not one of the stages in `stages`: `dev`, `prod`; did you mean `dev`?"
        ]
    );
    // `claw validate` reports it too, once.
    assert_eq!(all_errors(&text), e);
}

#[test]
fn without_stages_any_stage_name_is_accepted() {
    let text = &BASE[..BASE.find("stages:").unwrap()];
    let qa = load_as(text, &stage("qa")).unwrap().config;
    assert_eq!(qa.stage, "qa");
    let all = load_stages("agent.yaml", text, &Overrides::default(), &|_| None).unwrap();
    assert_eq!(all.len(), 1);
}

#[test]
fn keys_a_stage_may_not_override_are_named() {
    let text = BASE.replace(
        "    account: \"210987654321\"",
        "    acount: \"210987654321\"\n    agents: {}\n    api:\n      routes: []",
    );
    let e = errors(&text, &stage("prod"));
    let allowed = "a stage may override `account`, `region`, `function`, `model`, `alarms`, `rollout`, `tags`, and `api.throttle`";
    assert_eq!(
        e,
        [
            format!(
                "agent.yaml:20:5: error: stages.prod.acount: `acount` cannot differ between stages; {allowed}; did you mean `account`?"
            ),
            format!(
                "agent.yaml:21:5: error: stages.prod.agents: `agents` cannot differ between stages; {allowed}"
            ),
            "agent.yaml:23:7: error: stages.prod.api.routes: `api.routes` cannot differ between stages; within `api` a stage may override only `throttle`".to_string(),
        ]
    );
    // Reported whichever stage is selected, since the file is wrong either way.
    assert_eq!(errors(&text, &Overrides::default()), e);
}

#[test]
fn every_stage_is_validated_and_each_problem_reported_once() {
    // prod's override is wrong; a base problem is shared by both stages.
    let text = BASE
        .replace("memory_mb: 1024", "memory_mb: 99999")
        .replace("timeout_s: 20", "timeout_s: 0");
    let e = all_errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("agent.yaml:7:14: error: function.timeout_s: "),
        "{e:?}"
    );
    assert!(!e[0].contains("with stage"), "{e:?}");
    assert!(
        e[1].starts_with("agent.yaml:22:18: error: stages.prod.function.memory_mb: "),
        "{e:?}"
    );
    // A valid file loads every stage, the default first.
    let all = load_stages("agent.yaml", BASE, &Overrides::default(), &|_| None).unwrap();
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|l| (l.config.stage.as_str(), l.config.account.as_str()))
        .collect();
    assert_eq!(names, [("dev", "123456789012"), ("prod", "210987654321")]);
    // With --stage, only that stage.
    let prod_only = BASE.replace("memory_mb: 1024", "memory_mb: 99999");
    let one = load_stages("agent.yaml", &prod_only, &stage("dev"), &|_| None).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].config.stage, "dev");
}

#[test]
fn a_problem_only_one_stage_has_at_a_base_value_names_the_stage() {
    // prod moves the stack to a region its alarm topic is not in, so the base
    // `alarms.notify` is wrong for prod only.
    let text = BASE
        .replace(
            "tags:\n  team",
            "alarms:\n  notify: arn:aws:sns:ap-southeast-2:123456789012:ops\ntags:\n  team",
        )
        .replace("    tags:\n      cost: prod\n", "    region: eu-west-1\n");
    let e = all_errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("agent.yaml:15:11: error: alarms.notify: "),
        "{e:?}"
    );
    assert!(e[0].ends_with(" (with stage `prod`)"), "{e:?}");
}

#[test]
fn stage_names_follow_the_stage_name_rule() {
    let text = BASE.replace("  prod:\n", "  Prod-1:\n");
    let e = all_errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "agent.yaml:19:3: error: stages.Prod-1: `Prod-1` is not a valid stage name"
        ),
        "{e:?}"
    );
}

#[test]
fn secrets_named_in_a_stage_cannot_come_from_the_environment() {
    let text = BASE.replace(
        "      cost: prod\n",
        "      cost: prod\n    model:\n      api_key_secret: ${env:KEY}\n",
    );
    let e = errors(&text, &stage("prod"));
    assert!(
        e.iter().any(|e| e.starts_with(
            "agent.yaml:26:23: error: stages.prod.model.api_key_secret: `${env:…}` is not allowed"
        )),
        "{e:?}"
    );
    // Another stage's `${env:…}` is not read for this one.
    let other = BASE.replace("      cost: prod\n", "      cost: ${env:UNSET}\n");
    assert!(load_as(&other, &Overrides::default()).is_ok());
    assert!(load_as(&other, &stage("prod")).is_err());
}

#[test]
fn stages_must_be_a_mapping_of_mappings() {
    let e = errors(
        &BASE.replace("  dev: {}", "  dev: [1]"),
        &Overrides::default(),
    );
    assert_eq!(
        e,
        [
            "agent.yaml:18:8: error: stages.dev: expected a mapping of the keys stage `dev` overrides, found a list"
        ]
    );
    let text = format!("{}stages: {{}}\n", &BASE[..BASE.find("stages:").unwrap()]);
    let e = errors(&text, &Overrides::default());
    assert!(e[0].contains("`stages` names no stage"), "{e:?}");
}

#[test]
fn warnings_shared_by_stages_are_reported_once() {
    let text = BASE.replace("agents:\n", "api:\n  auth: none\nagents:\n");
    let all = load_stages("agent.yaml", &text, &Overrides::default(), &|_| None).unwrap();
    let warnings: Vec<&Diagnostic> = all.iter().flat_map(|l| &l.warnings).collect();
    let open: Vec<_> = warnings
        .iter()
        .filter(|w| w.path == "api.auth" && w.severity == Severity::Warning)
        .collect();
    assert_eq!(open.len(), 1, "{warnings:?}");
}

#[test]
fn the_schema_documents_stages() {
    let schema = crate::json_schema();
    let stages = &schema["properties"]["stages"];
    assert!(stages["description"].as_str().unwrap().contains("--stage"));
    let text = stages.to_string();
    assert!(text.contains("StageOverride"), "{text}");
    let defs = &schema["$defs"]["StageOverride"];
    let props: Vec<&String> = defs["properties"].as_object().unwrap().keys().collect();
    assert_eq!(props, OVERRIDABLE.iter().collect::<Vec<_>>());
    assert_eq!(defs["additionalProperties"], false);
    assert!(schema["$defs"]["ModelOverride"]["required"].is_null());
    // A stage may override every key of `model:`, and only those.
    let keys = |def: &str| -> Vec<String> {
        let mut k: Vec<String> = schema["$defs"][def]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys("ModelOverride"), keys("Model"));
}

#[test]
fn a_default_stage_missing_from_stages_does_not_repeat_base_problems() {
    let text = BASE
        .replace("stage: dev", "stage: deb")
        .replace("timeout_s: 20", "timeout_s: 0");
    let e = all_errors(&text);
    let timeouts: Vec<&String> = e.iter().filter(|e| e.contains("timeout_s")).collect();
    assert_eq!(timeouts.len(), 1, "{e:?}");
    assert!(!timeouts[0].contains("with stage"), "{e:?}");
}
