use super::*;
use crate::aws::resources::testing;

fn live_of(t: &Target) -> Found {
    desired(t)
        .into_iter()
        .map(|d| {
            (
                d.name.clone(),
                Live {
                    arn: format!("arn:alarm:{}", d.name),
                    spec: d,
                    tags: t.tags.clone(),
                    state: "OK".into(),
                },
            )
        })
        .collect()
}

#[test]
fn a_threshold_change_updates_only_that_alarm() {
    let t = testing::target();
    let mut live = live_of(&t);
    let name = format!("{}errors", t.names.alarm_prefix);
    live.get_mut(&name).unwrap().spec.threshold = 99.0;
    let mut p = testing::plan(&t);
    plan(&t, &live, &mut p);
    let c = p.get(ResourceKind::Alarm, &name).unwrap();
    let want = desired(&t).into_iter().find(|d| d.name == name).unwrap();
    assert_eq!(
        c.fields()[0].to_string(),
        format!("threshold 99 → {}", num(want.threshold))
    );
    assert_eq!(
        changes(&t, &live[&name], &want)
            .iter()
            .map(|c| c.field)
            .collect::<Vec<_>>(),
        [Field::Threshold]
    );
    assert_eq!(
        p.of_kind(ResourceKind::Alarm)
            .filter(|c| c.action != Action::NoChange)
            .count(),
        1
    );
}

#[test]
fn an_edited_description_alone_shows_as_a_hand_edit() {
    let t = testing::target();
    let want = desired(&t).remove(0);
    let mut l = want.clone();
    l.description = "by hand".into();
    let c = spec_changes(&l, &want);
    assert_eq!(c[0].row().to_string(), "description (edited) → (claw's)");
}

#[test]
fn a_foreign_alarm_is_refused_and_kept_on_destroy() {
    let t = testing::target();
    let mut live = live_of(&t);
    for l in live.values_mut() {
        l.tags.clear();
    }
    let mut p = testing::plan(&t);
    plan(&t, &live, &mut p);
    assert_eq!(p.blockers.len(), live.len());
    let mut p = testing::plan(&t);
    plan_destroy(&t, &live, DestroyOptions::default(), &mut p);
    assert!(p.changes.is_empty());
    assert_eq!(p.notes.len(), live.len());
}

/// The function answers model and tool failures with a 500 and never fails the
/// invocation, so Lambda's Errors misses them; `agent-errors` sums the
/// function's own EMF Errors over every agent (and `none`) at the same threshold.
#[test]
fn agent_errors_alarm_sums_the_functions_emf_errors_over_agents() {
    let t = testing::target();
    let want = desired(&t);
    let errors = want
        .iter()
        .find(|d| d.name == t.names.alarm_name("agent-errors"))
        .expect("an agent-errors alarm");
    assert_eq!(
        (errors.namespace.as_str(), errors.metric.as_str()),
        ("claw", "Errors")
    );
    assert_eq!(
        errors.per_agent,
        ["company-researcher", "lead-qualifier", "none"]
    );
    assert_eq!(errors.dimensions["app"], t.config.app);
    assert_eq!(errors.threshold, t.config.alarms.errors as f64);
    assert_eq!(errors.statistic, "Sum");
    assert_eq!(errors.period, 300);
    // Every alarm claw creates has a name the deployer policy covers.
    for d in &want {
        assert!(
            claw_spec::names::ALARM_SUFFIXES
                .iter()
                .any(|s| t.names.alarm_name(s) == d.name),
            "{}",
            d.name
        );
    }
}
