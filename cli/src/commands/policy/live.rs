//! `claw policy diff` without `--against`: the generated documents against the
//! deployed role policy, trust policy, permissions boundary and the function's
//! resource-based policy. Statements added outside claw show as `-` lines (the
//! deployed side has them, the generated side does not); attached managed
//! policies and a missing or foreign boundary show as `!` notes.

use claw_spec::iam::PolicyDocument;
use claw_spec::policy::{self, PolicyKind};
use claw_spec::policy_diff::{self, Change};

use super::diff::{Diffs, KindDiff};
use crate::aws::Aws;
use crate::aws::resources::{api, boundary, permissions, role};
use crate::aws::target::Target;

/// The generated documents against the deployed ones.
pub(super) async fn diff(config: claw_spec::Config) -> anyhow::Result<Diffs> {
    let aws = Aws::new(&config.region).await;
    let t = Target::new(config, None);
    let (role_live, boundary_live, perms, found) = futures::try_join!(
        role::read(&aws, &t),
        boundary::read(&aws, &t),
        permissions::read(&aws, &t),
        api::read(&aws, &t),
    )?;
    let api_id = found.ours.as_ref().map(|a| a.id.clone());
    let diffs = compare(
        &t,
        role_live.as_ref(),
        boundary_live.as_ref(),
        &perms,
        api_id.as_deref(),
    );
    Ok(Diffs {
        stack: t.names.function.clone(),
        other: "deployed".into(),
        kinds: diffs,
    })
}

fn kind(kind: PolicyKind, change: Option<Change>, notes: Vec<String>) -> KindDiff {
    KindDiff {
        kind: kind.name().into(),
        change,
        notes,
    }
}

/// The per-kind comparison; pure, so it is tested without AWS.
fn compare(
    t: &Target,
    role_live: Option<&role::Live>,
    boundary_live: Option<&boundary::Live>,
    perms: &permissions::Live,
    api_id: Option<&str>,
) -> Vec<KindDiff> {
    let mut out = Vec::new();
    match role_live {
        None => {
            out.push(kind(PolicyKind::Role, None, Vec::new()));
            out.push(kind(PolicyKind::Trust, None, Vec::new()));
        }
        Some(r) => {
            // Every inline policy counts: statements in other policies are drift.
            let mut statements = Vec::new();
            let mut notes = Vec::new();
            for (name, doc) in &r.inline {
                if name != &t.names.role_policy {
                    notes.push(format!("inline policy `{name}` was added outside claw"));
                }
                statements.extend(doc.statement.iter().cloned());
            }
            for (name, arn) in &r.attached {
                notes.push(format!(
                    "managed policy `{name}` ({arn}) is attached outside claw"
                ));
            }
            let expected = t.names.boundary_arn();
            match &r.boundary {
                Some(b) if *b == expected => {}
                Some(b) => notes.push(format!("permissions boundary is {b}, expected {expected}")),
                None => notes.push(format!("no permissions boundary; expected {expected}")),
            }
            let live = PolicyDocument::new(statements);
            out.push(kind(
                PolicyKind::Role,
                Some(policy_diff::diff(&live, &policy::role(&t.config, &t.names))),
                notes,
            ));
            out.push(kind(
                PolicyKind::Trust,
                Some(policy_diff::diff(&r.trust, &policy::trust(&t.names))),
                Vec::new(),
            ));
        }
    }
    let mut notes = Vec::new();
    let wanted = match api_id {
        Some(id) => policy::invoke(&t.config, &t.names, id),
        None => {
            notes.push("the HTTP API is not deployed".to_string());
            policy::invoke(&t.config, &t.names, claw_spec::names::API_ID_PLACEHOLDER)
        }
    };
    for s in &perms.statements {
        let ours = s
            .sid
            .as_deref()
            .is_some_and(|sid| sid.starts_with(permissions::SID_PREFIX));
        if !ours {
            notes.push(format!(
                "statement `{}` was added outside claw",
                s.sid.as_deref().unwrap_or("(no Sid)")
            ));
        }
    }
    let live = PolicyDocument::new(perms.statements.clone());
    out.push(kind(
        PolicyKind::Invoke,
        Some(policy_diff::diff(&live, &wanted)),
        notes,
    ));
    out.push(kind(
        PolicyKind::Boundary,
        boundary_live.map(|b| policy_diff::diff(&b.document, &policy::role(&t.config, &t.names))),
        Vec::new(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn target() -> Target {
        let text = include_str!("../../../../agent.yaml");
        let loaded =
            claw_spec::load("agent.yaml", text, &Default::default(), &|_| None).expect("valid");
        Target::new(loaded.config, None)
    }

    fn live_role(t: &Target) -> role::Live {
        let mut inline = BTreeMap::new();
        inline.insert(
            t.names.role_policy.clone(),
            policy::role(&t.config, &t.names),
        );
        role::Live {
            arn: t.names.role_arn(),
            path: "/claw/".into(),
            trust: policy::trust(&t.names),
            boundary: Some(t.names.boundary_arn()),
            tags: BTreeMap::new(),
            inline,
            attached: Vec::new(),
        }
    }

    fn perms(t: &Target) -> permissions::Live {
        permissions::Live {
            statements: policy::invoke(&t.config, &t.names, "abc123").statement,
            moved: Vec::new(),
            api_id: None,
        }
    }

    fn is_clean(d: &[KindDiff]) -> bool {
        d.iter()
            .all(|k| k.notes.is_empty() && k.change.as_ref().is_some_and(|c| c.is_empty()))
    }

    #[test]
    fn a_clean_stack_has_no_difference() {
        let t = target();
        let b = boundary::Live {
            arn: t.names.boundary_arn(),
            document: policy::role(&t.config, &t.names),
            tags: BTreeMap::new(),
        };
        let d = compare(
            &t,
            Some(&live_role(&t)),
            Some(&b),
            &perms(&t),
            Some("abc123"),
        );
        assert!(is_clean(&d));
    }

    #[test]
    fn hand_added_statements_and_policies_are_drift() {
        let t = target();
        let mut r = live_role(&t);
        let extra: PolicyDocument = serde_json::from_value(serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "Extra", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::loot/*"}]
        }))
        .unwrap();
        r.inline.insert("hand-made".into(), extra);
        r.attached.push((
            "Admin".into(),
            "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        ));
        let mut p = perms(&t);
        let mut foreign = p.statements[0].clone();
        foreign.sid = Some("manual".into());
        foreign.condition = None;
        p.statements.push(foreign);
        let d = compare(&t, Some(&r), None, &p, Some("abc123"));
        let role = d.iter().find(|k| k.kind == "role").unwrap();
        let removed: Vec<String> = role
            .change
            .as_ref()
            .unwrap()
            .removed
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(removed, vec!["Allow s3:GetObject on arn:aws:s3:::loot/*"]);
        assert!(role.notes.iter().any(|n| n.contains("hand-made")));
        assert!(role.notes.iter().any(|n| n.contains("AdministratorAccess")));
        let invoke = d.iter().find(|k| k.kind == "invoke").unwrap();
        assert!(
            invoke
                .notes
                .iter()
                .any(|n| n.contains("`manual` was added outside claw")),
            "{:?}",
            invoke.notes
        );
        assert_eq!(invoke.change.as_ref().unwrap().removed.len(), 1);
        let boundary = d.iter().find(|k| k.kind == "boundary").unwrap();
        assert!(
            boundary.change.is_none(),
            "a missing boundary is reported as missing"
        );
    }
}
