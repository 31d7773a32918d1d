use super::*;
use crate::aws::resources::testing;
use std::collections::BTreeSet;

fn live(t: &Target) -> Live {
    Live {
        arn: t.names.function_arn(),
        settings: desired(t),
        code_sha256: "abc".into(),
        state: Some(State::Active),
        state_reason: String::new(),
        last_update: Some(LastUpdateStatus::Successful),
        tags: t.tags.clone(),
        reserved_concurrency: None,
    }
}

/// Every settings field, changed on its own, gives exactly its typed change,
/// and that change drives an apply call. Before, apply looked for the plan's
/// labels in a list of strings, which nothing kept in step with the diff.
#[test]
fn each_settings_field_is_its_own_typed_change_and_is_applied() {
    let t = testing::target();
    let want = desired(&t);
    type Edit = Box<dyn Fn(&mut Desired)>;
    let edits: Vec<(Field, Edit)> = vec![
        (
            Field::Architecture,
            Box::new(|s| s.architecture = "other".into()),
        ),
        (Field::Memory, Box::new(|s| s.memory_mb += 1)),
        (Field::Timeout, Box::new(|s| s.timeout_s += 1)),
        (
            Field::Environment,
            Box::new(|s| {
                s.environment.insert("X".into(), "1".into());
            }),
        ),
        (
            Field::Vpc,
            Box::new(|s| {
                s.subnets.insert("subnet-x".into());
            }),
        ),
        (Field::Tracing, Box::new(|s| s.tracing = "Other".into())),
        (Field::Role, Box::new(|s| s.role = "arn:other".into())),
        (Field::Runtime, Box::new(|s| s.runtime = "other".into())),
        (Field::Handler, Box::new(|s| s.handler = "other".into())),
    ];
    for (field, edit) in edits {
        let mut l = want.clone();
        edit(&mut l);
        let c = settings_changes(&l, &want);
        assert_eq!(c.len(), 1, "{field:?}: {c:?}");
        assert_eq!(c[0].field, field);
        assert_ne!(Steps::of(&c), Steps::default(), "{field:?} applies nothing");
    }
    assert!(settings_changes(&want, &want).is_empty());
}

#[test]
fn memory_change_is_a_config_update_with_its_row() {
    let t = testing::target();
    let mut l = live(&t);
    l.settings.memory_mb = 128;
    let mut p = testing::plan(&t);
    plan(&t, &Some(l.clone()), &mut p);
    assert_eq!(
        p.changes[0].fields()[0].to_string(),
        format!("memory_mb 128 → {}", t.config.function.memory_mb)
    );
    let steps = Steps::of(&changes(&t, &l));
    assert_eq!(
        steps,
        Steps {
            code: false,
            config: true,
            tags: false
        }
    );
    assert!(
        p.notes.iter().any(|n| n.contains("code was not compared")),
        "{:?}",
        p.notes
    );
}

#[test]
fn environment_rows_name_keys_not_values() {
    let t = testing::target();
    let want = desired(&t);
    let mut l = want.clone();
    l.environment.insert("SECRETISH".into(), "value".into());
    let c = settings_changes(&l, &want);
    let row = c[0].row().to_string();
    assert!(
        row.contains("-SECRETISH") && !row.contains("value"),
        "{row}"
    );
}

/// Lambda: "When function creation fails, Lambda sets the function state to
/// failed, and you must delete and recreate the function" (functions-states).
#[test]
fn a_failed_function_is_planned_as_a_create_that_replaces_it() {
    let t = testing::target();
    let mut failed = live(&t);
    failed.state = Some(State::Failed);
    failed.state_reason = "Subnet subnet-1 has no available IP addresses".into();
    let mut p = testing::plan(&t);
    plan(&t, &Some(failed.clone()), &mut p);
    assert_eq!(p.changes[0].action, Action::Create);
    let note = p.changes[0].note.as_deref().unwrap_or_default();
    assert!(
        note.contains("state Failed") && note.contains("no available IP"),
        "{note}"
    );
    assert!(is_replaced(&failed));
    // An update that failed is not a failed function: it takes the fix.
    let mut update_failed = live(&t);
    update_failed.last_update = Some(LastUpdateStatus::Failed);
    assert!(!is_replaced(&update_failed));
}

/// A VPC function's delete is a detach, then the delete; the destroy plan says so.
#[test]
fn a_vpc_function_is_detached_before_it_is_deleted_and_the_plan_says_so() {
    use super::super::DestroyOptions;
    let t = testing::target();
    let mut l = live(&t);
    assert!(in_vpc(&l), "the example config has a VPC");
    let mut p = testing::plan(&t);
    plan_destroy(&t, &Some(l.clone()), DestroyOptions::default(), &mut p);
    let c = p.get(ResourceKind::Function, &t.names.function).unwrap();
    assert_eq!(c.action, Action::Delete);
    assert_eq!(c.note.as_deref(), Some(destroy::DETACH_NOTE));
    assert!(p.render().contains("detached from its VPC first"));

    l.settings.subnets = BTreeSet::new();
    l.settings.security_groups = BTreeSet::new();
    let mut p = testing::plan(&t);
    plan_destroy(&t, &Some(l), DestroyOptions::default(), &mut p);
    let c = p.get(ResourceKind::Function, &t.names.function).unwrap();
    assert_eq!(c.note, None);
}
