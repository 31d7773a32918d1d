//! The permissions boundary: a customer-managed policy under `/claw/` that every
//! execution role claw creates carries. It holds the same document as the role's
//! inline policy, so even a role edited by hand cannot exceed what agent.yaml grants.

use std::collections::BTreeMap;

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;
use claw_spec::names::IAM_PATH;
use claw_spec::policy::{self, PolicyKind};
use claw_spec::policy_diff;

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, TagDiff};
use super::progress::{Progress, step};
use super::stack::{Target, security_rows};
use super::{Aws, AwsResultExt, aws_error, doc, is_ours};

/// IAM keeps at most five versions of a managed policy.
const MAX_VERSIONS: usize = 5;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub path: String,
    pub default_version: String,
    pub document: PolicyDocument,
    pub tags: BTreeMap<String, String>,
}

pub fn desired(t: &Target) -> PolicyDocument {
    policy::generate(PolicyKind::Boundary, &t.config)
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let arn = t.names.boundary_arn();
    let got = match aws.iam.get_policy().policy_arn(&arn).send().await {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error("GetPolicy", &arn, e).into()),
    };
    let p = got.policy.context("GetPolicy returned no policy")?;
    let version = p.default_version_id.clone().unwrap_or_default();
    let v = aws
        .iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(&version)
        .send()
        .await
        .ctx("GetPolicyVersion", format!("{arn} {version}"))?;
    let raw = v
        .policy_version
        .and_then(|v| v.document)
        .unwrap_or_default();
    Ok(Some(Live {
        arn: arn.clone(),
        path: p.path.unwrap_or_default(),
        default_version: version,
        document: doc::parse(&raw, &format!("policy {arn}"))?,
        tags: p
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
    }))
}

pub fn plan(t: &Target, live: Option<&Live>, plan: &mut Plan) {
    let name = &t.names.boundary;
    let want = desired(t);
    let Some(live) = live else {
        plan.push(ResourceChange::new(Kind::Boundary, name, Action::Create));
        return;
    };
    if !is_ours(&live.tags, &t.config) {
        plan.blockers.push(format!(
            "IAM policy {} exists but is not tagged claw:app={} claw:stage={}; claw does not touch resources it did not create (delete or rename it)",
            live.arn, t.config.app, t.config.stage
        ));
        return;
    }
    let mut fields = Vec::new();
    let change = policy_diff::diff(&live.document, &want);
    if !change.is_empty() {
        fields.push(FieldChange::new(
            "document",
            format!(
                "{} permissions",
                policy_diff::permissions(&live.document).len()
            ),
            format!(
                "{} permissions (+{} -{})",
                policy_diff::permissions(&want).len(),
                change.added.len(),
                change.removed.len()
            ),
        ));
        plan.security
            .extend(security_rows(&format!("boundary {name}"), &change, false));
    }
    fields.extend(TagDiff::field(&live.tags, &t.tags));
    plan.push(ResourceChange::new(
        Kind::Boundary,
        name,
        Action::update(fields),
    ));
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    live: Option<&Live>,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = &t.names.boundary;
    let what = format!("{} {name}", Kind::Boundary.label());
    let arn = t.names.boundary_arn();
    match plan.action(Kind::Boundary, name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                aws.iam
                    .create_policy()
                    .policy_name(name)
                    .path(IAM_PATH)
                    .description(format!(
                        "claw: permissions boundary of {}-{}'s execution role",
                        t.config.app, t.config.stage
                    ))
                    .policy_document(doc::to_json(&desired(t)))
                    .set_tags(Some(iam_tags(&t.tags)))
                    .send()
                    .await
                    .ctx("CreatePolicy", &arn)?;
                Ok(())
            })
            .await
        }
        Action::Update { fields } => {
            let live = live.context("boundary update without live state")?;
            step(progress, "updating", "updated", &what, async {
                if fields.iter().any(|f| f.field == "document") {
                    new_default_version(aws, &arn, &desired(t)).await?;
                }
                let tags = TagDiff::between(&live.tags, &t.tags);
                if !tags.set.is_empty() {
                    aws.iam
                        .tag_policy()
                        .policy_arn(&arn)
                        .set_tags(Some(iam_tags(&tags.set)))
                        .send()
                        .await
                        .ctx("TagPolicy", &arn)?;
                }
                if !tags.remove.is_empty() {
                    aws.iam
                        .untag_policy()
                        .policy_arn(&arn)
                        .set_tag_keys(Some(tags.remove.clone()))
                        .send()
                        .await
                        .ctx("UntagPolicy", &arn)?;
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

/// Adds a new default version; first deletes the oldest non-default one when IAM's
/// limit of five is reached.
async fn new_default_version(aws: &Aws, arn: &str, want: &PolicyDocument) -> anyhow::Result<()> {
    let versions = aws
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .ctx("ListPolicyVersions", arn)?
        .versions
        .unwrap_or_default();
    if versions.len() >= MAX_VERSIONS {
        let oldest = versions
            .iter()
            .filter(|v| !v.is_default_version)
            .min_by_key(|v| v.create_date.map(|d| (d.secs(), d.subsec_nanos())))
            .and_then(|v| v.version_id.clone());
        if let Some(id) = oldest {
            aws.iam
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(&id)
                .send()
                .await
                .ctx("DeletePolicyVersion", format!("{arn} {id}"))?;
        }
    }
    aws.iam
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(doc::to_json(want))
        .set_as_default(true)
        .send()
        .await
        .ctx("CreatePolicyVersion", arn)?;
    Ok(())
}

/// Deletes the policy: its non-default versions first, as IAM requires.
pub async fn delete(aws: &Aws, live: &Live) -> anyhow::Result<()> {
    let versions = aws
        .iam
        .list_policy_versions()
        .policy_arn(&live.arn)
        .send()
        .await
        .ctx("ListPolicyVersions", &live.arn)?
        .versions
        .unwrap_or_default();
    for v in versions.iter().filter(|v| !v.is_default_version) {
        let id = v.version_id.clone().unwrap_or_default();
        aws.iam
            .delete_policy_version()
            .policy_arn(&live.arn)
            .version_id(&id)
            .send()
            .await
            .ctx("DeletePolicyVersion", format!("{} {id}", live.arn))?;
    }
    match aws.iam.delete_policy().policy_arn(&live.arn).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeletePolicy", &live.arn, e).into()),
    }
}

pub fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}
