use std::collections::BTreeMap;

use claw_spec::ci::{GithubTrust, STS_AUDIENCE, Subject};

use super::*;
use crate::aws::plan::{Action, ResourceKind};
use crate::aws::resources::testing;

fn ci(plan_role: bool) -> CiTarget {
    CiTarget {
        github: GithubTrust::new("acme/agents", Subject::Environment("dev".into())).unwrap(),
        plan_role,
    }
}

fn nothing(ci: &CiTarget, t: &Target) -> Found {
    Found {
        boundary: None,
        role: None,
        provider: oidc::Live::default(),
        ci_roles: ci.roles(t).iter().map(|_| None).collect(),
    }
}

fn live_as_wanted(t: &Target, want: &ci_role::Desired) -> ci_role::Live {
    ci_role::Live {
        arn: want.arn.clone(),
        path: "/claw/".into(),
        trust: want.trust.clone(),
        tags: t.tags.clone(),
        policy: Some(want.policy.clone()),
        others: Vec::new(),
    }
}

#[test]
fn an_empty_account_gets_everything_in_dependency_order() {
    let t = testing::target();
    let ci = ci(true);
    let p = plan(&t, &ci, &nothing(&ci, &t));
    let kinds: Vec<(ResourceKind, &str)> = p
        .changes
        .iter()
        .map(|c| (c.kind, c.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ResourceKind::Boundary, t.names.boundary.as_str()),
            (ResourceKind::Role, t.names.role.as_str()),
            (
                ResourceKind::OidcProvider,
                "token.actions.githubusercontent.com"
            ),
            (ResourceKind::CiRole, t.names.deployer_role.as_str()),
            (ResourceKind::CiRole, t.names.plan_role.as_str()),
        ]
    );
    assert!(p.changes.iter().all(|c| c.action == Action::Create));
    // Who may assume the deployer is in the security table, row by row.
    let text = p.render();
    assert!(text.contains("repo:acme/agents:environment:dev"), "{text}");
    assert!(
        text.contains("(claw policy show --kind deployer)"),
        "{text}"
    );
}

#[test]
fn a_bootstrapped_account_has_nothing_to_do_and_a_changed_trust_is_an_update() {
    let t = testing::target();
    let ci = ci(false);
    let roles = ci.roles(&t);
    let mut found = Found {
        boundary: Some(boundary::Live {
            arn: t.names.boundary_arn(),
            document: boundary::desired(&t),
            tags: t.tags.clone(),
        }),
        role: Some(role::Live {
            arn: t.names.role_arn(),
            path: "/claw/".into(),
            trust: role::desired_trust(&t),
            boundary: Some(t.names.boundary_arn()),
            tags: t.tags.clone(),
            inline: BTreeMap::from([(t.names.role_policy.clone(), role::desired_policy(&t))]),
            attached: Vec::new(),
        }),
        provider: oidc::Live {
            found: Some((oidc::arn(&t), vec![STS_AUDIENCE.into()])),
        },
        ci_roles: vec![Some(live_as_wanted(&t, &roles[0]))],
    };
    let p = plan(&t, &ci, &found);
    assert!(!p.has_changes(), "{}", p.render());
    assert!(p.blockers.is_empty());

    // Another repository's trust: updated, and shown as a security change.
    let other = CiTarget {
        github: GithubTrust::new("acme/other", Subject::Branch("main".into())).unwrap(),
        plan_role: false,
    };
    found.ci_roles[0].as_mut().unwrap().trust = other.roles(&t)[0].trust.clone();
    let p = plan(&t, &ci, &found);
    let fields: Vec<String> = p
        .get(ResourceKind::CiRole, &t.names.deployer_role)
        .unwrap()
        .fields()
        .iter()
        .map(|f| f.field.clone())
        .collect();
    assert_eq!(fields, ["trust_policy"]);
    assert!(p.needs_approval());
}

#[test]
fn foreign_roles_and_a_provider_without_sts_are_blockers() {
    let t = testing::target();
    let ci = ci(false);
    let roles = ci.roles(&t);
    let mut found = nothing(&ci, &t);
    let mut foreign = live_as_wanted(&t, &roles[0]);
    foreign.tags.clear();
    found.ci_roles[0] = Some(foreign);
    found.provider.found = Some((oidc::arn(&t), vec!["https://github.com/acme".into()]));
    let p = plan(&t, &ci, &found);
    assert_eq!(p.blockers.len(), 2, "{:?}", p.blockers);
    assert!(p.blockers.iter().any(|b| b.contains("not tagged")));
    assert!(
        p.blockers
            .iter()
            .any(|b| b.contains("add-client-id-to-open-id-connect-provider"))
    );
    // The provider is never changed.
    assert_eq!(
        p.action(
            ResourceKind::OidcProvider,
            "token.actions.githubusercontent.com"
        ),
        Action::NoChange
    );
}
