use super::*;
use crate::aws::resources::testing;

/// A role exactly as claw would leave it.
fn clean(t: &Target) -> Live {
    Live {
        arn: t.names.role_arn(),
        path: IAM_PATH.into(),
        trust: desired_trust(t),
        boundary: Some(t.names.boundary_arn()),
        tags: t.tags.clone(),
        inline: [(t.names.role_policy.clone(), desired_policy(t))].into(),
        attached: Vec::new(),
    }
}

#[test]
fn a_clean_role_has_no_change() {
    let t = testing::target();
    let mut p = testing::plan(&t);
    plan(&t, &Some(clean(&t)), &mut p);
    assert_eq!(p.changes[0].action, Action::NoChange);
    assert!(p.security.is_empty(), "{:?}", p.security);
}

#[test]
fn extra_inline_and_attached_policies_are_drift_to_remove() {
    let t = testing::target();
    let mut live = clean(&t);
    live.inline.insert("by-hand".into(), desired_policy(&t));
    live.attached.push((
        "Admin".into(),
        "arn:aws:iam::aws:policy/AdministratorAccess".into(),
    ));
    let mut p = testing::plan(&t);
    plan(&t, &Some(live.clone()), &mut p);
    let rows: Vec<String> = p.changes[0]
        .fields()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        rows,
        [
            "inline policy by-hand present → (deleted)",
            "managed policy Admin attached → (detached)"
        ]
    );
    assert!(!p.security.is_empty());
    assert!(
        p.security
            .iter()
            .all(|s| s.sign == Sign::Remove && s.drift && !s.broadens),
        "{:#?}",
        p.security
    );
    assert!(p.needs_approval(), "drift removal needs approval");
    let fields: Vec<Field> = changes(&t, &live).into_iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        [
            Field::InlinePolicy("by-hand".into()),
            Field::ManagedPolicy {
                name: "Admin".into(),
                arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
            }
        ]
    );
}

#[test]
fn a_role_under_another_path_or_not_ours_is_refused() {
    let t = testing::target();
    let mut live = clean(&t);
    live.path = "/".into();
    let mut p = testing::plan(&t);
    plan(&t, &Some(live.clone()), &mut p);
    assert!(p.changes.is_empty());
    assert!(
        p.blockers[0].contains("a role's path cannot change"),
        "{:?}",
        p.blockers
    );
    live.tags.clear();
    let mut p = testing::plan(&t);
    plan(&t, &Some(live), &mut p);
    assert!(
        p.blockers[0].contains("claw does not touch resources it did not create"),
        "{:?}",
        p.blockers
    );
}

#[test]
fn a_changed_policy_and_boundary_are_typed_changes() {
    let t = testing::target();
    let mut live = clean(&t);
    live.boundary = None;
    live.inline.clear();
    let fields: Vec<Field> = changes(&t, &live).into_iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        [Field::Boundary, Field::Policy(t.names.role_policy.clone())]
    );
    let mut p = testing::plan(&t);
    plan(&t, &Some(live), &mut p);
    assert!(p.changes[0].fields()[1].field.starts_with("policy "));
    assert!(p.security.iter().all(|s| s.sign == Sign::Add && s.broadens));
}
