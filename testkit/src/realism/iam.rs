//! IAM's eventual consistency and size quotas.
//!
//! IAM changes take seconds to reach other services and IAM's own replicas:
//! "changes that you make … are not always immediately visible"
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
//! Sizes, from https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
//! a managed policy holds at most 6,144 characters and a role's inline policies
//! together 10,240, whitespace not counted.

use std::collections::HashMap;
use std::time::Instant;

use super::RealAws;
use super::wire::{Request, Response, error, xml_text};

const MANAGED_POLICY_LIMIT: usize = 6_144;
const INLINE_POLICIES_LIMIT: usize = 10_240;

#[derive(Default)]
struct Role {
    created: Option<Instant>,
    policy_changed: Option<Instant>,
    policy_deleted: Option<Instant>,
    boundary: Option<String>,
    inline: HashMap<String, usize>,
}

#[derive(Default)]
pub struct State {
    roles: HashMap<String, Role>,
    /// Managed policies by ARN: when created.
    policies: HashMap<String, Instant>,
    /// Boundaries whose role was deleted: when.
    released: HashMap<String, Instant>,
}

fn role_name(arn_or_name: &str) -> &str {
    arn_or_name.rsplit('/').next().unwrap_or(arn_or_name)
}

fn size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

impl RealAws {
    fn within(&self, at: Option<Instant>) -> bool {
        let window = self.config().iam_propagation;
        at.is_some_and(|t| t.elapsed() < window)
    }

    /// Whether a role is too new for Lambda to assume.
    pub(super) fn role_is_new(&self, role: &str) -> bool {
        let created = self
            .world()
            .iam
            .roles
            .get(role_name(role))
            .and_then(|r| r.created);
        self.within(created)
    }

    /// Whether a role, or its inline policy, is too new for Lambda's pollers.
    pub(super) fn role_policy_is_new(&self, role: &str) -> bool {
        let (created, changed) = self
            .world()
            .iam
            .roles
            .get(role_name(role))
            .map(|r| (r.created, r.policy_changed))
            .unwrap_or_default();
        self.within(created) || self.within(changed)
    }
}

pub fn before(aws: &RealAws, req: &Request) -> Option<Response> {
    let form = req.form();
    let action = form.get("Action").map(String::as_str).unwrap_or_default();
    let param = |k: &str| form.get(k).cloned().unwrap_or_default();
    match action {
        "CreatePolicy" | "CreatePolicyVersion"
            if size(&param("PolicyDocument")) > MANAGED_POLICY_LIMIT =>
        {
            aws.note("iam: managed policy over 6,144 characters refused");
            Some(error(
                req,
                409,
                "LimitExceeded",
                &format!("Cannot exceed quota for PolicySize: {MANAGED_POLICY_LIMIT}"),
            ))
        }
        "CreateRole" | "PutRolePermissionsBoundary" => {
            let boundary = param("PermissionsBoundary");
            let created = aws.world().iam.policies.get(&boundary).copied();
            if boundary.is_empty() || !aws.within(created) {
                return None;
            }
            aws.note("iam: new boundary policy not yet attachable");
            Some(error(
                req,
                404,
                "NoSuchEntity",
                &format!("Scope ARN: {boundary} does not exist or is not attachable."),
            ))
        }
        "PutRolePolicy" => {
            let role = param("RoleName");
            let name = param("PolicyName");
            let others: usize = aws
                .world()
                .iam
                .roles
                .get(&role)
                .map(|r| {
                    r.inline
                        .iter()
                        .filter(|(n, _)| **n != name)
                        .map(|(_, s)| s)
                        .sum()
                })
                .unwrap_or(0);
            if others + size(&param("PolicyDocument")) <= INLINE_POLICIES_LIMIT {
                return None;
            }
            aws.note("iam: inline policies over 10,240 characters refused");
            Some(error(
                req,
                409,
                "LimitExceeded",
                &format!(
                    "Maximum policy size of {INLINE_POLICIES_LIMIT} bytes exceeded for role {role}"
                ),
            ))
        }
        "DeleteRole" => {
            let deleted = aws
                .world()
                .iam
                .roles
                .get(&param("RoleName"))
                .and_then(|r| r.policy_deleted);
            if !aws.within(deleted) {
                return None;
            }
            aws.note("iam: DeleteConflict right after DeleteRolePolicy");
            Some(error(
                req,
                409,
                "DeleteConflict",
                "Cannot delete entity, must delete policies first.",
            ))
        }
        "DeletePolicy" => {
            let released = aws.world().iam.released.get(&param("PolicyArn")).copied();
            if !aws.within(released) {
                return None;
            }
            aws.note("iam: DeleteConflict on a boundary right after its role went");
            Some(error(
                req,
                409,
                "DeleteConflict",
                "Cannot delete a policy attached to entities.",
            ))
        }
        _ => None,
    }
}

pub fn after(aws: &RealAws, req: &Request, resp: Response) -> Response {
    if !resp.ok() {
        return resp;
    }
    let form = req.form();
    let param = |k: &str| form.get(k).cloned().unwrap_or_default();
    let now = Instant::now();
    let mut w = aws.world();
    let iam = &mut w.iam;
    match form.get("Action").map(String::as_str).unwrap_or_default() {
        "CreatePolicy" => {
            if let Some(arn) = xml_text(&resp.text(), "Arn") {
                iam.policies.insert(arn, now);
            }
        }
        "CreateRole" => {
            let boundary = Some(param("PermissionsBoundary")).filter(|b| !b.is_empty());
            iam.roles.insert(
                param("RoleName"),
                Role {
                    created: Some(now),
                    boundary,
                    ..Role::default()
                },
            );
        }
        "PutRolePermissionsBoundary" => {
            iam.roles.entry(param("RoleName")).or_default().boundary =
                Some(param("PermissionsBoundary"));
        }
        "PutRolePolicy" => {
            let role = iam.roles.entry(param("RoleName")).or_default();
            role.inline
                .insert(param("PolicyName"), size(&param("PolicyDocument")));
            role.policy_changed = Some(now);
        }
        "DeleteRolePolicy" => {
            let role = iam.roles.entry(param("RoleName")).or_default();
            role.inline.remove(&param("PolicyName"));
            role.policy_deleted = Some(now);
        }
        "DeleteRole" => {
            if let Some(boundary) = iam
                .roles
                .remove(&param("RoleName"))
                .and_then(|r| r.boundary)
            {
                iam.released.insert(boundary, now);
            }
        }
        "DeletePolicy" => {
            iam.policies.remove(&param("PolicyArn"));
        }
        _ => {}
    }
    drop(w);
    resp
}
