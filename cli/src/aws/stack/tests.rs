use std::collections::BTreeMap;

use claw_spec::model::ApiMode;

use super::*;
use crate::aws::error::{AwsError, AwsErrorKind};
use crate::aws::plan::{Action, ResourceKind};
use crate::aws::resources::{leftover, testing::target};

fn empty_live(t: &Target) -> Live {
    Live {
        notes: Vec::new(),
        account: t.config.account.clone(),
        caller_arn: String::new(),
        secrets: t
            .config
            .secret_names()
            .into_iter()
            .map(|n| {
                let l = secrets::Live {
                    deleted: false,
                    tags: BTreeMap::new(),
                };
                (n, secrets::Seen::Found(l))
            })
            .collect(),
        boundary: None,
        versions: Default::default(),
        role: None,
        log_groups: log_group::Found {
            groups: log_group::desired(t)
                .into_iter()
                .map(|d| (d, None))
                .collect(),
            retired: Vec::new(),
        },
        function: None,
        concurrency: concurrency::Found::default(),
        function_url: None,
        tables: tables::Found::default(),
        queues: queues::Found::default(),
        mapping: mapping::Found::default(),
        api: api::Found::default(),
        permissions: permissions::Live::default(),
        alarms: BTreeMap::new(),
        dashboard: None,
        network: reachability::Found::NoVpc,
        profiles: crate::aws::bedrock::Found::default(),
    }
}

#[test]
fn an_empty_account_plans_every_resource_as_a_create() {
    let t = target();
    let p = plan(&t, &empty_live(&t));
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    assert!(
        p.changes.iter().all(|c| c.action == Action::Create),
        "{:#?}",
        p.changes
    );
    let kinds: std::collections::BTreeSet<ResourceKind> =
        p.changes.iter().map(|c| c.kind).collect();
    for k in [
        ResourceKind::Boundary,
        ResourceKind::Role,
        ResourceKind::LogGroup,
        ResourceKind::Function,
        ResourceKind::Concurrency,
        ResourceKind::Table,
        ResourceKind::Api,
        ResourceKind::Integration,
        ResourceKind::Route,
        ResourceKind::Stage,
        ResourceKind::Permission,
        ResourceKind::Alarm,
    ] {
        assert!(kinds.contains(&k), "no {k:?} in the plan");
    }
    // Sync mode: nothing of async mode's.
    assert!(!kinds.contains(&ResourceKind::Queue));
    assert!(p.needs_approval(), "a first deploy grants permissions");
}

#[test]
fn missing_secrets_and_a_wrong_account_are_refused() {
    let t = target();
    let mut live = empty_live(&t);
    live.secrets[0].1 = secrets::Seen::Missing;
    let p = plan(&t, &live);
    assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
    assert!(p.blockers[0].contains("claw secrets set"));
    live.account = "999999999999".into();
    let err = check_account(&t, &live).unwrap_err().to_string();
    assert!(
        err.contains("999999999999") && err.contains(&t.config.account),
        "{err}"
    );
}

#[test]
fn sync_mode_tolerates_a_denied_look_for_async_leftovers() {
    let t = target();
    let denied = || -> anyhow::Result<Option<u8>> {
        Err(AwsError {
            operation: "GetQueueUrl",
            resource: "q".into(),
            code: Some("AccessDenied".into()),
            kind: AwsErrorKind::AccessDenied,
            message: "not allowed".into(),
        }
        .into())
    };
    let (v, note) = leftover(&t, "queues", denied()).unwrap();
    assert_eq!(v, None);
    assert!(note.unwrap().contains("access denied"));
    let mut async_t = t.clone();
    async_t.config.api.mode = ApiMode::Async;
    assert!(leftover(&async_t, "queues", denied()).is_err());
    let other = || -> anyhow::Result<Option<u8>> { Err(anyhow::anyhow!("boom")) };
    assert!(leftover(&t, "queues", other()).is_err());
}

#[test]
fn destroy_deletes_what_is_ours_and_keeps_the_rest() {
    let t = target();
    let mut live = empty_live(&t);
    live.role = Some(role::Live {
        arn: t.names.role_arn(),
        path: "/claw/".into(),
        trust: role::desired_trust(&t),
        boundary: None,
        tags: t.tags.clone(),
        inline: BTreeMap::new(),
        attached: Vec::new(),
    });
    live.log_groups.groups[0].1 = Some(log_group::Live {
        retention: None,
        tags: BTreeMap::new(),
    });
    let p = destroy_plan(&t, &live, DestroyOptions::default());
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].kind, ResourceKind::Role);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("has claw's name but is not tagged")),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes.iter().any(|n| n.starts_with("secrets kept")),
        "{:?}",
        p.notes
    );
}

#[test]
fn the_dashboards_alarm_widget_shows_exactly_the_alarms_deploy_makes() {
    let mut t = target();
    for with_optional in [false, true] {
        if with_optional {
            t.config.alarms.invocations_per_5min = Some(1000);
            t.config.alarms.output_tokens_per_hour = Some(100_000);
            t.config.alarms.cost_usd_per_day = Some(5.0);
        }
        let mut made: Vec<String> = alarms::desired(&t)
            .iter()
            .map(|d| {
                t.names
                    .alarm_arn(d.name.trim_start_matches(&t.names.alarm_prefix))
            })
            .collect();
        let mut shown: Vec<String> = dashboard::body(&t)["widgets"][1]["properties"]["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        made.sort();
        shown.sort();
        assert_eq!(shown, made);
    }
}
