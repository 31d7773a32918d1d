use super::*;
use crate::aws::resources::testing;

fn with_rollout(yaml: &str) -> Target {
    let mut t = testing::target();
    t.config.rollout = Some(serde_json::from_str(yaml).unwrap());
    Target::new(t.config, None)
}

fn version(t: &Target, n: u64) -> Version {
    Version {
        number: n,
        code_sha256: format!("sha{n}"),
        settings: settings::desired(t),
    }
}

fn alias(on: u64, shifting: Option<(u64, f64)>, description: &str) -> Alias {
    Alias {
        version: on.to_string(),
        weights: shifting
            .map(|(v, w)| (v.to_string(), w))
            .into_iter()
            .collect(),
        description: description.into(),
        revision_id: "r1".into(),
    }
}

fn planned(t: &Target, found: &Found, function: Action) -> Plan {
    let mut p = testing::plan(t);
    p.push(ResourceChange::new(
        ResourceKind::Function,
        &t.names.function,
        function,
    ));
    plan(t, found, &mut p);
    p
}

#[test]
fn the_shift_is_kept_in_the_alias_description_and_read_back() {
    let s = Shift {
        from: 3,
        to: 4,
        step: 1,
        since: 1_764_700_000,
    };
    assert_eq!(Shift::parse(&s.describe()), Some(s));
    assert_eq!(Shift::parse("made by hand"), None);
    assert_eq!(previous_of(&idle_description(Some(7))), Some(7));
    assert_eq!(previous_of(&idle_description(None)), None);
}

#[test]
fn an_alias_on_the_wanted_version_is_left_alone_and_a_change_publishes_a_new_one() {
    let t = with_rollout(r#"{"strategy": "canary", "canary": {"percent": 10, "minutes": 5}}"#);
    let found = Found {
        alias: Some(alias(2, None, "claw live previous=1")),
        versions: vec![version(&t, 1), version(&t, 2)],
        note: None,
    };
    let p = planned(&t, &found, Action::NoChange);
    assert_eq!(
        p.action(ResourceKind::Alias, &change_name(&t)),
        Action::NoChange
    );

    // `$LATEST` changing only its tags (or put back after a hand edit) needs no
    // new version: the alias's is still what agent.yaml says.
    let p = planned(
        &t,
        &found,
        Action::update(vec![FieldChange::new("tags", "a", "b")]),
    );
    assert_eq!(
        p.action(ResourceKind::Alias, &change_name(&t)),
        Action::NoChange
    );

    // The alias's version is not what agent.yaml says (another timeout).
    let mut found = found;
    found.versions[1].settings.timeout_s += 1;
    let p = planned(
        &t,
        &found,
        Action::update(vec![FieldChange::new("timeout_s", "a", "b")]),
    );
    let row = p.get(ResourceKind::Alias, &change_name(&t)).unwrap();
    assert_eq!(
        row.fields()[0].to.as_str(),
        "a new version (canary 10% for 5 min)"
    );
}

#[test]
fn a_shift_under_way_to_the_wanted_version_is_resumed_and_to_another_is_aborted_first() {
    let t =
        with_rollout(r#"{"strategy": "linear", "linear": {"percent": 25, "every_minutes": 2}}"#);
    let mut found = Found {
        alias: Some(alias(
            1,
            Some((2, 0.25)),
            "claw rollout from=1 to=2 step=0 since=0",
        )),
        versions: vec![version(&t, 1), version(&t, 2)],
        note: None,
    };
    let p = planned(&t, &found, Action::NoChange);
    let row = p.get(ResourceKind::Alias, &change_name(&t)).unwrap();
    assert_eq!(row.fields()[0].field, "rollout");
    assert_eq!(row.fields()[0].from, "version 2 at 25%");

    // Version 2 is no longer what agent.yaml says (another memory size).
    found.versions[1].settings.memory_mb += 1;
    let p = planned(&t, &found, Action::NoChange);
    let row = p.get(ResourceKind::Alias, &change_name(&t)).unwrap();
    assert_eq!(row.fields()[0].field, "version");
    assert!(row.note.as_deref().unwrap().contains("aborted first"));
}

#[test]
fn moving_to_rollout_and_back_creates_and_deletes_the_alias() {
    let t = with_rollout("{}");
    let p = planned(&t, &Found::default(), Action::NoChange);
    let row = p.get(ResourceKind::Alias, &change_name(&t)).unwrap();
    assert_eq!(row.action, Action::Create);
    assert!(
        row.note
            .as_deref()
            .unwrap()
            .contains("on the code live now")
    );

    let mut plain = t.clone();
    plain.config.rollout = None;
    let found = Found {
        alias: Some(alias(1, None, "claw live")),
        ..Found::default()
    };
    let p = planned(&plain, &found, Action::NoChange);
    assert_eq!(
        p.action(ResourceKind::Alias, &change_name(&plain)),
        Action::Delete
    );
}

#[test]
fn old_versions_beyond_keep_are_deleted_but_never_the_alias_s() {
    let t = with_rollout(r#"{"keep_versions": 2}"#);
    let found = Found {
        alias: Some(alias(1, Some((5, 0.1)), "")),
        versions: (1..=5).map(|n| version(&t, n)).collect(),
        note: None,
    };
    assert_eq!(found.deletable(2), [2, 3]);
    assert_eq!(found.deletable(0), [2, 3, 4]);
}
