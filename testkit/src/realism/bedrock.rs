//! Bedrock's control plane, as far as claw reads it: `GetInferenceProfile`,
//! which moto (5.2.5) does not implement.
//!
//! `GET /inference-profiles/{inferenceProfileIdentifier}` (an id or the
//! profile's ARN) answers `inferenceProfileArn`, `inferenceProfileId`,
//! `inferenceProfileName`, `models: [{modelArn}]`, `status`, `type` and the
//! timestamps; an unknown profile is `ResourceNotFoundException` (HTTP 404)
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetInferenceProfile.html>).
//! A system-defined cross-Region profile lists the foundation model once per
//! destination Region (`arn:aws:bedrock:REGION::foundation-model/ID`) and exists
//! only in its source Regions
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html>).
//!
//! The profiles known here are a small table a test can extend with
//! [`super::RealAws::set_inference_profile`].

use std::collections::BTreeMap;

use serde_json::json;

use super::RealAws;
use super::wire::{Request, Response, error, json_ok};

/// One system-defined inference profile.
#[derive(Debug, Clone)]
pub struct InferenceProfile {
    /// The Regions the profile can be called from.
    pub sources: Vec<String>,
    /// The Regions it routes requests to.
    pub destinations: Vec<String>,
}

/// The profiles the layer knows, by id.
pub struct State {
    pub profiles: BTreeMap<String, InferenceProfile>,
}

fn regions(r: &[&str]) -> Vec<String> {
    r.iter().map(|r| r.to_string()).collect()
}

impl Default for State {
    fn default() -> State {
        let us = regions(&["us-east-1", "us-east-2", "us-west-2"]);
        // A profile whose geography grew past claw's table (`apac` there lacks
        // ap-southeast-5 and ap-southeast-7): the plan must catch it.
        let apac = regions(&[
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-7",
        ]);
        let profiles = [
            ("us.anthropic.claude-haiku-4-5-20251001-v1:0", us),
            ("apac.anthropic.claude-sonnet-4-5-20250929-v1:0", apac),
        ]
        .into_iter()
        .map(|(id, r)| {
            (
                id.to_string(),
                InferenceProfile {
                    sources: r.clone(),
                    destinations: r,
                },
            )
        })
        .collect();
        State { profiles }
    }
}

/// The credential scope's Region (`Credential=AKID/DATE/REGION/SERVICE/...`).
fn region(req: &Request) -> String {
    req.header("authorization")
        .unwrap_or_default()
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

/// Answers GetInferenceProfile; every other Bedrock call goes to moto.
pub fn before(aws: &RealAws, req: &Request) -> Option<Response> {
    let segments = req.segments();
    let identifier = match (req.method(), segments.as_slice()) {
        ("GET", [first, id]) if first == "inference-profiles" => id.clone(),
        _ => return None,
    };
    aws.note("bedrock: GetInferenceProfile served");
    // An ARN names the profile after `inference-profile/`.
    let id = identifier
        .rsplit_once(":inference-profile/")
        .map_or(identifier.as_str(), |(_, id)| id)
        .to_string();
    let region = region(req);
    let known = aws.world().bedrock.profiles.get(&id).cloned();
    let Some(profile) = known.filter(|p| p.sources.contains(&region)) else {
        return Some(error(
            req,
            404,
            "ResourceNotFoundException",
            &format!("The inference profile {id} was not found in {region}."),
        ));
    };
    let (geo, model) = id.split_once('.').unwrap_or(("", &id));
    let name: String = format!("{} {model}", geo.to_uppercase())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let models: Vec<_> = profile
        .destinations
        .iter()
        .map(|r| json!({ "modelArn": format!("arn:aws:bedrock:{r}::foundation-model/{model}") }))
        .collect();
    Some(json_ok(&json!({
        "inferenceProfileName": name,
        "description": format!("Routes requests to {model} in {}.", profile.destinations.join(", ")),
        "createdAt": "2025-10-15T00:00:00Z",
        "updatedAt": "2025-10-15T00:00:00Z",
        "inferenceProfileArn": format!("arn:aws:bedrock:{region}:123456789012:inference-profile/{id}"),
        "inferenceProfileId": id,
        "models": models,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realism::Realism;

    fn get(path: &str, region: &str) -> Request {
        Request {
            head: format!(
                "GET {path} HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/{region}/bedrock/aws4_request\r\n"
            ),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_profile_lists_its_destinations_and_exists_only_in_its_sources() {
        let aws = RealAws::new(Realism::default());
        let r = before(
            &aws,
            &get(
                "/inference-profiles/us.anthropic.claude-haiku-4-5-20251001-v1%3A0",
                "us-east-2",
            ),
        )
        .unwrap();
        assert_eq!(r.status, 200);
        let v = r.json().unwrap();
        assert_eq!(
            v["inferenceProfileArn"],
            "arn:aws:bedrock:us-east-2:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"
        );
        assert_eq!(
            v["models"][2]["modelArn"],
            "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
        );
        let elsewhere = get(
            "/inference-profiles/us.anthropic.claude-haiku-4-5-20251001-v1%3A0",
            "eu-west-1",
        );
        assert_eq!(before(&aws, &elsewhere).unwrap().status, 404);
        aws.set_inference_profile(
            "eu.anthropic.x",
            &["eu-west-1"],
            &["eu-west-1", "il-central-1"],
        );
        let by_arn = get(
            "/inference-profiles/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.x",
            "eu-west-1",
        );
        let v = before(&aws, &by_arn).unwrap().json().unwrap();
        assert_eq!(v["models"].as_array().unwrap().len(), 2);
        assert_eq!(aws.count("bedrock: GetInferenceProfile served"), 3);
        assert!(before(&aws, &get("/foundation-models", "eu-west-1")).is_none());
    }
}
