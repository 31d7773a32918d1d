//! The calls that publish versions and move the alias: what deploy runs
//! before and after the function changes, and what the rollout engine moves.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::{Alias, Found, Pending, change_name, idle_description, is_wanted};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::plan::{Action, Plan, ResourceKind};
use crate::aws::target::Target;

/// Before the function changes: a stack moving to `rollout:` publishes the
/// code callers run now, so the change itself can be rolled out from it.
pub async fn before_function(
    aws: &Aws,
    t: &Target,
    found: &Found,
    plan: &Plan,
) -> anyhow::Result<Option<Alias>> {
    let name = &t.names.function;
    let migrating = t.config.rollout.is_some()
        && found.alias.is_none()
        && matches!(
            plan.action(ResourceKind::Function, name),
            Action::Update { .. }
        );
    if !migrating {
        return Ok(None);
    }
    let latest = latest(aws, name).await?;
    let v = publish(aws, name, &latest).await?;
    create_alias(aws, name, v).await.map(Some)
}

/// The function's `$LATEST` as it is now: CodeSha256 and RevisionId, the
/// guards of PublishVersion.
pub struct Latest {
    pub code_sha256: String,
    pub revision_id: String,
}

async fn latest(aws: &Aws, name: &str) -> anyhow::Result<Latest> {
    let c = aws
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .ctx("GetFunctionConfiguration", name)?;
    Ok(Latest {
        code_sha256: c.code_sha256.unwrap_or_default(),
        revision_id: c.revision_id.unwrap_or_default(),
    })
}

/// PublishVersion of `$LATEST` exactly as read: Lambda refuses it when the
/// code or the function changed since (`CodeSha256`, `RevisionId`), so a
/// concurrent update is never published under this deploy's name. (moto
/// ignores both guards.)
async fn publish(aws: &Aws, name: &str, l: &Latest) -> anyhow::Result<u64> {
    let o = aws
        .lambda
        .publish_version()
        .function_name(name)
        .code_sha256(&l.code_sha256)
        .revision_id(&l.revision_id)
        .send()
        .await
        .ctx("PublishVersion", name)?;
    o.version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .context("PublishVersion returned no version number")
}

async fn create_alias(aws: &Aws, name: &str, version: u64) -> anyhow::Result<Alias> {
    let o = aws
        .lambda
        .create_alias()
        .function_name(name)
        .name(claw_spec::rollout::ALIAS)
        .function_version(version.to_string())
        .description(idle_description(None))
        .send()
        .await
        .ctx(
            "CreateAlias",
            format!("{name}:{}", claw_spec::rollout::ALIAS),
        )?;
    Ok(Alias {
        version: version.to_string(),
        weights: BTreeMap::new(),
        description: idle_description(None),
        revision_id: o.revision_id.unwrap_or_default(),
    })
}

/// After the function changed: publish what agent.yaml wants when the alias
/// is not on it, and say what traffic should move (`None`: nothing to roll
/// out). A new stack's alias starts on its first version.
pub async fn after_function(
    aws: &Aws,
    t: &Target,
    found: &Found,
    created: Option<Alias>,
    plan: &Plan,
) -> anyhow::Result<Option<Pending>> {
    let name = &t.names.function;
    let change = change_name(t);
    let action = plan.action(ResourceKind::Alias, &change);
    if t.config.rollout.is_none() || action == Action::NoChange {
        return Ok(None);
    }
    let alias = match created.or_else(|| found.alias.clone()).filter(|_| {
        // A replaced function lost its versions and alias.
        plan.action(ResourceKind::Function, name) != Action::Create
    }) {
        Some(a) => a,
        None => {
            let v = publish(aws, name, &latest(aws, name).await?).await?;
            create_alias(aws, name, v).await?;
            return Ok(None);
        }
    };
    let on = alias
        .version_number()
        .context("the alias is on no numbered version")?;
    let fields: Vec<&str> = plan
        .get(ResourceKind::Alias, &change)
        .map(|c| c.fields().iter().map(|f| f.field.as_str()).collect())
        .unwrap_or_default();
    if fields.contains(&"rollout")
        && let Some((to, _)) = alias.shifting_to()
    {
        return Ok(Some(Pending {
            from: on,
            to,
            resumed: true,
        }));
    }
    let wanted = found.version(on).is_some_and(|v| is_wanted(t, v));
    if alias.shifting_to().is_some() {
        move_alias(
            aws,
            t,
            on,
            None,
            &idle_description(None),
            &alias.revision_id,
        )
        .await?;
    } else if wanted {
        // Only old versions to delete: the engine's cleanup does it.
        return Ok(Some(Pending {
            from: on,
            to: on,
            resumed: false,
        }));
    }
    let v = publish(aws, name, &latest(aws, name).await?).await?;
    Ok(Some(Pending {
        from: on,
        to: v,
        resumed: false,
    }))
}

/// UpdateAlias: all traffic on `version`, or `weight` of it on another.
/// `revision` guards against a concurrent move (empty: unguarded).
pub async fn move_alias(
    aws: &Aws,
    t: &Target,
    version: u64,
    weight: Option<(u64, f64)>,
    description: &str,
    revision: &str,
) -> anyhow::Result<String> {
    let name = &t.names.function;
    let routing = aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
        .set_additional_version_weights(Some(
            weight
                .map(|(v, w)| (v.to_string(), w))
                .into_iter()
                .collect(),
        ))
        .build();
    let mut call = aws
        .lambda
        .update_alias()
        .function_name(name)
        .name(claw_spec::rollout::ALIAS)
        .function_version(version.to_string())
        .routing_config(routing)
        .description(description);
    if !revision.is_empty() {
        call = call.revision_id(revision);
    }
    let o = call.send().await.ctx(
        "UpdateAlias",
        format!("{name}:{}", claw_spec::rollout::ALIAS),
    )?;
    Ok(o.revision_id.unwrap_or_default())
}

/// Deletes old versions (DeleteFunction with the version as qualifier).
pub async fn delete_versions(aws: &Aws, t: &Target, versions: &[u64]) -> anyhow::Result<()> {
    let name = &t.names.function;
    for v in versions {
        aws.lambda
            .delete_function()
            .function_name(name)
            .qualifier(v.to_string())
            .send()
            .await
            .ctx("DeleteFunction", format!("{name}:{v}"))
            .optional()?;
    }
    Ok(())
}

/// DeleteAlias, when `rollout:` is gone (after callers moved back).
pub async fn delete(aws: &Aws, t: &Target, plan: &Plan) -> anyhow::Result<()> {
    let name = &t.names.function;
    if plan.action(ResourceKind::Alias, &change_name(t)) != Action::Delete {
        return Ok(());
    }
    aws.lambda
        .delete_alias()
        .function_name(name)
        .name(claw_spec::rollout::ALIAS)
        .send()
        .await
        .ctx(
            "DeleteAlias",
            format!("{name}:{}", claw_spec::rollout::ALIAS),
        )
        .optional()?;
    Ok(())
}
