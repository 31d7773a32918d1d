use super::*;
use crate::aws::resources::testing;

fn table(t: &Target, d: &Desired) -> Live {
    Live {
        arn: format!("arn:table/{}", d.name),
        hash_key: d.key.into(),
        billing: "PAY_PER_REQUEST".into(),
        status: "ACTIVE".into(),
        ttl: Some(TTL_ATTRIBUTE.into()),
        tags: t.tags.clone(),
    }
}

#[test]
fn ttl_off_is_a_typed_change() {
    let t = testing::target();
    let s = sessions(&t).expect("the example has a sessions table");
    let mut l = table(&t, &s);
    assert!(changes(&t, &l).is_empty());
    l.ttl = None;
    let c = changes(&t, &l);
    assert_eq!(c.iter().map(|c| c.field).collect::<Vec<_>>(), [Field::Ttl]);
    assert_eq!(c[0].row().to_string(), "ttl (off) → ttl");
}

#[test]
fn a_wrong_key_blocks_and_a_foreign_sessions_table_is_used_as_it_is() {
    let t = testing::target();
    let s = sessions(&t).unwrap();
    let mut l = table(&t, &s);
    l.hash_key = "id".into();
    let mut p = testing::plan(&t);
    plan(
        &t,
        &Found {
            sessions: Some(l.clone()),
            ..Found::default()
        },
        &mut p,
    );
    assert!(
        p.blockers[0].contains("partition key `id`"),
        "{:?}",
        p.blockers
    );
    l.hash_key = s.key.into();
    l.tags.clear();
    let mut p = testing::plan(&t);
    plan(
        &t,
        &Found {
            sessions: Some(l),
            ..Found::default()
        },
        &mut p,
    );
    assert!(p.blockers.is_empty());
    assert_eq!(
        p.changes[0].note.as_deref(),
        Some("not created by claw; used as it is")
    );
}

#[test]
fn sync_mode_deletes_a_leftover_jobs_table_but_destroy_keeps_session_data() {
    let t = testing::target();
    let found = Found {
        jobs: Some(table(&t, &jobs(&t))),
        sessions: Some(table(&t, &sessions(&t).unwrap())),
        note: None,
    };
    let mut p = testing::plan(&t);
    plan(&t, &found, &mut p);
    assert_eq!(
        p.action(ResourceKind::Table, &t.names.jobs_table),
        Action::Delete
    );
    let mut p = testing::plan(&t);
    plan_destroy(&t, &found, DestroyOptions::default(), &mut p);
    assert_eq!(p.changes.len(), 1);
    assert!(
        p.notes[0].contains("holds session data: kept"),
        "{:?}",
        p.notes
    );
}
