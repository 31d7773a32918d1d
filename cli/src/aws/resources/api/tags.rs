//! Tagging for the API's taggable parts (the API and its stage; in HTTP APIs the
//! routes, integrations and authorizers carry no tags).

use std::collections::BTreeMap;

use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::ownership::{TAG_APP, TAG_STAGE};
use crate::aws::plan::TagDiff;

/// Sets and removes tags on an API Gateway resource. A TagResource call always
/// carries claw's own tags besides the changed ones: the deployer policy lets
/// API Gateway tagging through only with this stack's `claw:app`/`claw:stage` in
/// the request (tagging is authorized on `/tags/…`, which names no API).
pub async fn retag(
    aws: &Aws,
    arn: &str,
    what: &str,
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let d = TagDiff::between(live, want);
    if !d.set.is_empty() {
        let mut set = d.set.clone();
        for key in [TAG_APP, TAG_STAGE] {
            if let Some(v) = want.get(key) {
                set.insert(key.to_string(), v.clone());
            }
        }
        aws.apigw
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
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
