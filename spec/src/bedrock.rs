//! Claude on Amazon Bedrock: which model id is a base model and which an
//! inference profile, where a profile may route a request, and the role
//! statements that allow exactly that model.
//!
//! IAM for a cross-Region (system-defined) inference profile needs the profile
//! itself and the foundation model in every destination Region; the foundation
//! model statement is fenced with `bedrock:InferenceProfileArn`, so the model can
//! only be reached through this profile, never invoked directly
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html>,
//! <https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html>).
//! A global profile routes to any commercial Region, named by the Region-less ARN
//! `arn:aws:bedrock:::foundation-model/ID`
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html>).
//!
//! Destination Regions depend on the model and the source Region, and AWS adds
//! some over time. The policy lists the Regions of the profile's geography from
//! [`GEO_REGIONS`] (or `model.inference_regions` when given), so the lockfile is a
//! pure function of agent.yaml; `claw plan` reads the profile's real destinations
//! (`GetInferenceProfile`) and refuses a deploy whose role would miss one. A
//! listed Region the profile does not use grants nothing: the condition admits
//! only requests routed by this profile.

use serde_json::json;

use crate::iam::Statement;
use crate::llm::Provider;
use crate::model::Config;
use crate::names::Names;

/// The geography prefixes of cross-Region inference profile ids.
pub const GEO_REGIONS: &[(&str, &[&str])] = &[
    ("us", &["us-east-1", "us-east-2", "us-west-1", "us-west-2"]),
    ("us-gov", &["us-gov-east-1", "us-gov-west-1"]),
    ("ca", &["ca-central-1", "ca-west-1"]),
    (
        "eu",
        &[
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
        ],
    ),
    (
        "apac",
        &[
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
        ],
    ),
    ("jp", &["ap-northeast-1", "ap-northeast-3"]),
    ("au", &["ap-southeast-2", "ap-southeast-4"]),
    // Every commercial Region: named by the Region-less ARN, not listed.
    ("global", &[]),
];

/// A Bedrock model id, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BedrockId<'a> {
    /// A foundation model invoked in the function's Region.
    Base { model: &'a str },
    /// A cross-Region inference profile: `{geo}.{model}`.
    Profile {
        geo: &'static str,
        profile: &'a str,
        model: &'a str,
    },
}

impl<'a> BedrockId<'a> {
    pub fn parse(id: &'a str) -> BedrockId<'a> {
        for (geo, _) in GEO_REGIONS {
            if let Some(model) = id.strip_prefix(geo).and_then(|r| r.strip_prefix('.')) {
                return BedrockId::Profile {
                    geo,
                    profile: id,
                    model,
                };
            }
        }
        BedrockId::Base { model: id }
    }
}

/// The destination Regions claw assumes for a geography (empty for `global`).
pub fn geo_regions(geo: &str) -> &'static [&'static str] {
    GEO_REGIONS
        .iter()
        .find(|(g, _)| *g == geo)
        .map_or(&[], |(_, r)| r)
}

/// The Regions a profile's foundation-model statement names: the given ones, or
/// the geography's, plus the source Region (a profile routes to it too).
pub fn destinations(geo: &str, given: Option<&[String]>, source: &str) -> Vec<String> {
    let mut out: Vec<String> = match given {
        Some(g) => g.to_vec(),
        None => geo_regions(geo).iter().map(|r| r.to_string()).collect(),
    };
    out.push(source.to_string());
    out.sort();
    out.dedup();
    out
}

/// `arn:{partition}:bedrock:{region}::foundation-model/{model}`; an empty region
/// gives the Region-less ARN of global profiles.
pub fn foundation_model_arn(partition: &str, region: &str, model: &str) -> String {
    format!("arn:{partition}:bedrock:{region}::foundation-model/{model}")
}

pub fn inference_profile_arn(names: &Names, profile: &str) -> String {
    format!(
        "arn:{}:bedrock:{}:{}:inference-profile/{profile}",
        names.partition(),
        names.region,
        names.account
    )
}

/// Every Bedrock model id the agents use, sorted, each with its agent's
/// `inference_regions`.
pub fn models(config: &Config) -> Vec<(String, Option<Vec<String>>)> {
    let mut out: Vec<(String, Option<Vec<String>>)> = config
        .agents
        .keys()
        .map(|a| config.model_for(a))
        .filter(|m| m.provider == Provider::Bedrock)
        .map(|m| (m.id, m.inference_regions))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The execution role's statements: `bedrock:InvokeModel` on exactly the models
/// (and profiles) the agents use, and with `api.stream` (streamed answers) its
/// streaming twin `bedrock:InvokeModelWithResponseStream` on the same resources
/// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html).
pub fn statements(config: &Config, names: &Names) -> Vec<Statement> {
    let actions: &[&str] = if config.api.stream.is_some() {
        &[
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
        ]
    } else {
        &["bedrock:InvokeModel"]
    };
    let p = names.partition();
    let mut base: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    for (id, regions) in &models(config) {
        match BedrockId::parse(id) {
            BedrockId::Base { model } => base.push(foundation_model_arn(p, &names.region, model)),
            BedrockId::Profile {
                geo,
                profile,
                model,
            } => {
                i += 1;
                let arn = inference_profile_arn(names, profile);
                let mut models: Vec<String> = destinations(geo, regions.as_deref(), &names.region)
                    .iter()
                    .map(|r| foundation_model_arn(p, r, model))
                    .collect();
                if geo == "global" {
                    models.push(foundation_model_arn(p, "", model));
                }
                out.push(Statement::allow(
                    &format!("InvokeBedrockProfile{i}"),
                    actions,
                    vec![arn.clone()],
                ));
                out.push(
                    Statement::allow(&format!("BedrockModelViaProfile{i}"), actions, models)
                        // An ARN-typed key, so ArnEquals.
                        .when("ArnEquals", "bedrock:InferenceProfileArn", json!(arn)),
                );
            }
        }
    }
    if !base.is_empty() {
        base.sort();
        base.dedup();
        out.insert(0, Statement::allow("InvokeBedrockModel", actions, base));
    }
    out
}

/// The deployer's (and so the plan role's) read of the inference profiles the
/// agents use: `claw plan` checks their destination Regions.
pub fn deployer_statements(config: &Config, names: &Names) -> Vec<Statement> {
    let arns: Vec<String> = profiles(config, names).into_iter().map(|p| p.1).collect();
    if arns.is_empty() {
        return Vec::new();
    }
    vec![Statement::allow(
        "ReadInferenceProfiles",
        &["bedrock:GetInferenceProfile"],
        arns,
    )]
}

/// The inference profiles the agents use, as `(profile id, ARN)`, for the plan's
/// check of their destinations.
pub fn profiles(config: &Config, names: &Names) -> Vec<(String, String, Vec<String>)> {
    models(config)
        .iter()
        .filter_map(|(id, regions)| match BedrockId::parse(id) {
            BedrockId::Profile { geo, profile, .. } => Some((
                profile.to_string(),
                inference_profile_arn(names, profile),
                destinations(geo, regions.as_deref(), &names.region),
            )),
            BedrockId::Base { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_base_models_or_profiles() {
        assert_eq!(
            BedrockId::parse("anthropic.claude-haiku-4-5-20251001-v1:0"),
            BedrockId::Base {
                model: "anthropic.claude-haiku-4-5-20251001-v1:0"
            }
        );
        assert_eq!(
            BedrockId::parse("eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
            BedrockId::Profile {
                geo: "eu",
                profile: "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
                model: "anthropic.claude-haiku-4-5-20251001-v1:0"
            }
        );
        // `us-gov.` is not `us.` with a typo.
        assert!(matches!(
            BedrockId::parse("us-gov.anthropic.claude-3-haiku-20240307-v1:0"),
            BedrockId::Profile { geo: "us-gov", .. }
        ));
        assert!(matches!(
            BedrockId::parse("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            BedrockId::Profile { geo: "global", .. }
        ));
    }

    #[test]
    fn destinations_include_the_source_region_once() {
        assert_eq!(
            destinations("au", None, "ap-southeast-2"),
            ["ap-southeast-2", "ap-southeast-4"]
        );
        let given = vec!["eu-west-1".to_string()];
        assert_eq!(
            destinations("eu", Some(&given), "eu-central-1"),
            ["eu-central-1", "eu-west-1"]
        );
        assert_eq!(destinations("global", None, "us-east-1"), ["us-east-1"]);
    }
}
