//! The secrets agent.yaml names must exist before a deploy: claw never creates them
//! with a value (that is `claw secrets set`), it only checks, and lists every
//! missing one at once with the command that fixes it.

use std::collections::BTreeMap;

use super::{Aws, aws_error};

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub arn: String,
    /// Set when the secret is scheduled for deletion.
    pub deleted: bool,
    pub tags: BTreeMap<String, String>,
}

/// DescribeSecret for each name, in parallel; `None` for the ones that do not exist.
pub async fn read(aws: &Aws, names: &[String]) -> anyhow::Result<Vec<(String, Option<Live>)>> {
    futures::future::try_join_all(names.iter().map(|n| async move {
        match aws.secrets.describe_secret().secret_id(n).send().await {
            Ok(o) => anyhow::Ok((
                n.clone(),
                Some(Live {
                    name: n.clone(),
                    arn: o.arn.unwrap_or_default(),
                    deleted: o.deleted_date.is_some(),
                    tags: o
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|t| Some((t.key?, t.value?)))
                        .collect(),
                }),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok((n.clone(), None))
            }
            Err(e) => Err(aws_error("DescribeSecret", n, e).into()),
        }
    }))
    .await
}

/// The blockers for missing or deleted secrets, one per secret.
pub fn problems(found: &[(String, Option<Live>)], region: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, live) in found {
        match live {
            None => out.push(format!(
                "secret {name} does not exist in {region}; create it with: claw secrets set {name}"
            )),
            Some(l) if l.deleted => out.push(format!(
                "secret {name} is scheduled for deletion; restore it (aws secretsmanager restore-secret --secret-id {name}) or set it again with: claw secrets set {name}"
            )),
            Some(_) => {}
        }
    }
    out
}
