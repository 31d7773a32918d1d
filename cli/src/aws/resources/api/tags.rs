//! Tagging for the API's taggable parts (the API and its stage; in HTTP APIs the
//! routes, integrations and authorizers carry no tags).

use std::collections::BTreeMap;

use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::plan::TagDiff;

/// Sets and removes tags on an API Gateway resource.
pub async fn retag(
    aws: &Aws,
    arn: &str,
    what: &str,
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let d = TagDiff::between(live, want);
    if !d.set.is_empty() {
        aws.apigw
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(d.set.clone().into_iter().collect()))
            .send()
            .await
            .ctx("TagResource", what)?;
    }
    if !d.remove.is_empty() {
        aws.apigw
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(d.remove.clone()))
            .send()
            .await
            .ctx("UntagResource", what)?;
    }
    Ok(())
}
