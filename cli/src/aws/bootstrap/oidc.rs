//! The account's IAM OIDC identity provider for GitHub Actions. One per account,
//! shared by every stack and often made by someone else: claw creates it when the
//! account has none, and never changes or deletes one it finds.

use anyhow::Context as _;
use claw_spec::ci::{GITHUB_OIDC_HOST, GITHUB_OIDC_URL, STS_AUDIENCE};

use crate::aws::error::AwsResultExt;
use crate::aws::plan::{Action, Plan, ResourceChange, ResourceKind};
use crate::aws::progress::{ApplyProgress, step};
use crate::aws::target::Target;
use crate::aws::{Aws, ownership};

/// IAM no longer checks the thumbprint of GitHub's provider (it trusts the
/// issuer's certificate authority), but CreateOpenIDConnectProvider still needs
/// one: any 40 hex digits do (configure-aws-credentials README, "Sample IAM OIDC
/// CloudFormation Template").
const THUMBPRINT: &str = "ffffffffffffffffffffffffffffffffffffffff";

/// The provider found, if any: its ARN and the audiences (client ids) it accepts.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub found: Option<(String, Vec<String>)>,
}

/// The provider's ARN, as IAM names it.
pub fn arn(t: &Target) -> String {
    t.names.oidc_provider_arn(GITHUB_OIDC_HOST)
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Live> {
    let list = aws
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .ctx("ListOpenIDConnectProviders", "the account")?;
    let want = arn(t);
    let Some(found) = list
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .find(|a| *a == want)
    else {
        return Ok(Live::default());
    };
    let got = aws
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(found)
        .send()
        .await
        .ctx("GetOpenIDConnectProvider", found)?;
    Ok(Live {
        found: Some((found.to_string(), got.client_id_list().to_vec())),
    })
}

pub fn plan(live: &Live, plan: &mut Plan) {
    match &live.found {
        None => plan.push(ResourceChange::new(
            ResourceKind::OidcProvider,
            GITHUB_OIDC_HOST,
            Action::Create,
        )),
        Some((arn, audiences)) => {
            if !audiences.iter().any(|a| a == STS_AUDIENCE) {
                plan.blockers.push(format!(
                    "the OIDC provider {arn} does not accept the audience {STS_AUDIENCE}, so GitHub's tokens for AWS would be refused; claw does not change a provider it finds: add it with `aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {arn} --client-id {STS_AUDIENCE}`"
                ));
            }
            plan.push(
                ResourceChange::new(
                    ResourceKind::OidcProvider,
                    GITHUB_OIDC_HOST,
                    Action::NoChange,
                )
                .with_note("exists; used as it is"),
            );
        }
    }
}

/// Creates the provider when the plan says so; returns its ARN either way.
pub async fn apply(
    aws: &Aws,
    t: &Target,
    progress: &ApplyProgress,
    plan: &Plan,
) -> anyhow::Result<String> {
    if plan.action(ResourceKind::OidcProvider, GITHUB_OIDC_HOST) != Action::Create {
        return Ok(arn(t));
    }
    let what = format!("{} {GITHUB_OIDC_HOST}", ResourceKind::OidcProvider.label());
    step(progress, "creating", "created", &what, async {
        // Tagged with the stack that made it; no stack deletes it.
        let got = aws
            .iam
            .create_open_id_connect_provider()
            .url(GITHUB_OIDC_URL)
            .client_id_list(STS_AUDIENCE)
            .thumbprint_list(THUMBPRINT)
            .set_tags(Some(ownership::iam_tags(&t.tags)))
            .send()
            .await
            .ctx("CreateOpenIDConnectProvider", GITHUB_OIDC_URL)?;
        got.open_id_connect_provider_arn
            .context("CreateOpenIDConnectProvider returned no ARN")
    })
    .await
}
