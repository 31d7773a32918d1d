//! Where the agents' Bedrock inference profiles really route requests.
//!
//! The execution role allows a profile's model in the Regions of its geography
//! from claw's table (`claw_spec::bedrock::GEO_REGIONS`), or in
//! `inference_regions` when agent.yaml gives them, so the policy lockfile stays
//! a pure function of agent.yaml. AWS decides the real destinations, per model
//! and source Region, and adds Regions over time; a request routed to a Region
//! the role does not name is denied at run time. So `claw plan` (and `claw
//! deploy`, which plans first) reads each profile with `GetInferenceProfile`
//! (its `models[].modelArn` are `arn:aws:bedrock:REGION::foundation-model/ID`,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetInferenceProfile.html>)
//! and refuses a deploy whose role would miss a destination. A global profile
//! routes to every commercial Region and the role names the Region-less model
//! ARN: only the call itself is checked. No profile, no call.

use std::collections::{BTreeMap, BTreeSet};

use claw_spec::Config;
use claw_spec::bedrock::{self, BedrockId};
use claw_spec::llm::Provider;

use super::Aws;
use super::error::{AwsError, AwsErrorKind, AwsResultExt};
use super::plan::{Plan, ProfileCheck};
use super::target::Target;

/// One inference profile the agents use, with the Regions its policy names and
/// what `GetInferenceProfile` said.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: String,
    /// The Regions the role allows the model in.
    pub allowed: Vec<String>,
    /// Whether agent.yaml gives them (`inference_regions`), else claw's table.
    pub given: bool,
    /// Where agent.yaml sets this model: `model`, `agents.NAME.model`.
    pub keys: Vec<String>,
    /// The destination Regions, or why they could not be read.
    pub read: Result<Vec<String>, String>,
}

/// The profiles read for the plan (none when no agent uses one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// The Region the calls were made in (the function's).
    pub region: String,
    pub profiles: Vec<Profile>,
}

/// Reads every profile the agents use, each id once. Never fails: a failed read
/// is the plan's blocker, so that `claw destroy`, which reads the same stack,
/// is never stopped by it.
pub async fn read(aws: &Aws, t: &Target) -> Found {
    let wanted = wanted(&t.config);
    let region = t.config.region.clone();
    if wanted.is_empty() {
        return Found {
            region,
            profiles: Vec::new(),
        };
    }
    let ids: BTreeSet<&str> = wanted.iter().map(|w| w.0.as_str()).collect();
    let reads = futures::future::join_all(ids.iter().map(|id| destinations(aws, id))).await;
    let read: BTreeMap<&str, Result<Vec<String>, AwsError>> = ids.into_iter().zip(reads).collect();
    let profiles = wanted
        .iter()
        .map(|(id, given, keys)| Profile {
            id: id.clone(),
            allowed: bedrock::destinations(geo(id), given.as_deref(), &region),
            given: given.is_some(),
            keys: keys.clone(),
            read: match &read[id.as_str()] {
                Ok(r) => Ok(r.clone()),
                Err(e) => Err(explain(e, id, &region, t)),
            },
        })
        .collect();
    Found { region, profiles }
}

/// The profile ids the agents use, each with its `inference_regions` and the
/// agent.yaml keys that set it.
type Wanted = (String, Option<Vec<String>>, Vec<String>);

fn wanted(config: &Config) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = Vec::new();
    for (name, agent) in &config.agents {
        let m = config.model_for(name);
        if m.provider != Provider::Bedrock
            || !matches!(BedrockId::parse(&m.id), BedrockId::Profile { .. })
        {
            continue;
        }
        // The key to fix is where the id or its Regions are written.
        let key = match &agent.model {
            Some(o) if o.id.is_some() || o.inference_regions.is_some() => {
                format!("agents.{name}.model")
            }
            _ => "model".to_string(),
        };
        match out
            .iter_mut()
            .find(|w| w.0 == m.id && w.1 == m.inference_regions)
        {
            Some(w) if !w.2.contains(&key) => w.2.push(key),
            Some(_) => {}
            None => out.push((m.id, m.inference_regions, vec![key])),
        }
    }
    out.sort();
    out
}

fn geo(id: &str) -> &'static str {
    match BedrockId::parse(id) {
        BedrockId::Profile { geo, .. } => geo,
        BedrockId::Base { .. } => "",
    }
}

/// The Regions of a profile's foundation-model ARNs, sorted.
async fn destinations(aws: &Aws, id: &str) -> Result<Vec<String>, AwsError> {
    let out = aws
        .bedrock
        .get_inference_profile()
        .inference_profile_identifier(id)
        .send()
        .await
        .ctx("GetInferenceProfile", format!("inference profile {id}"))?;
    let mut regions: Vec<String> = out
        .models()
        .iter()
        .filter_map(|m| m.model_arn())
        .filter_map(region_of)
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// `arn:aws:bedrock:REGION::foundation-model/ID` → `REGION` (none when empty).
fn region_of(arn: &str) -> Option<String> {
    let region = arn.split(':').nth(3)?;
    (!region.is_empty()).then(|| region.to_string())
}

/// A failed read in words: what was asked, where, and what to do.
fn explain(e: &AwsError, id: &str, region: &str, t: &Target) -> String {
    let arn = bedrock::inference_profile_arn(&t.names, id);
    match e.kind {
        AwsErrorKind::NotFound => format!(
            "inference profile `{id}` does not exist in {region} or the account has no access to it ({e}); check the model id in agent.yaml against `aws bedrock list-inference-profiles --region {region}`, and that the model is enabled in the account"
        ),
        AwsErrorKind::AccessDenied => format!(
            "cannot read inference profile `{id}` to check its destination Regions ({e}); the credentials need bedrock:GetInferenceProfile on {arn} (`claw policy show --kind deployer` and `--kind plan` have it)"
        ),
        _ => format!("cannot read inference profile `{id}` to check its destination Regions: {e}"),
    }
}

/// The plan's part: one checked row per profile, a blocker for a destination the
/// role would not allow and for a profile that could not be read.
pub fn plan(found: &Found, plan: &mut Plan) {
    for p in &found.profiles {
        let destinations = match &p.read {
            Ok(d) => d,
            Err(why) => {
                plan.blockers.push(why.clone());
                continue;
            }
        };
        let global = geo(&p.id) == "global";
        let missing: Vec<String> = if global {
            Vec::new()
        } else {
            destinations
                .iter()
                .filter(|r| !p.allowed.contains(r))
                .cloned()
                .collect()
        };
        if !global && destinations.is_empty() {
            plan.notes.push(format!(
                "GetInferenceProfile named no foundation-model Region for `{}`; its destinations were not checked",
                p.id
            ));
        }
        if !missing.is_empty() {
            plan.blockers
                .push(missing_message(p, &found.region, destinations, &missing));
        }
        plan.inference_profiles.push(ProfileCheck {
            profile: p.id.clone(),
            global,
            destinations: destinations.clone(),
            allowed: p.allowed.clone(),
            missing,
        });
    }
}

fn missing_message(
    p: &Profile,
    region: &str,
    destinations: &[String],
    missing: &[String],
) -> String {
    let from = if p.given {
        "agent.yaml's `inference_regions` and the source Region".to_string()
    } else {
        format!("claw's table for `{}.` profiles", geo(&p.id))
    };
    let keys: Vec<String> = p.keys.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "inference profile `{}` routes requests to {} (GetInferenceProfile in {region}), which the execution role does not allow: it names the model only in {} ({from}), so a request routed there would be denied; set `inference_regions: [{}]` under {} in agent.yaml (the Regions GetInferenceProfile returned)",
        p.id,
        missing.join(", "),
        p.allowed.join(", "),
        destinations.join(", "),
        keys.join(" and "),
    )
}

/// The note `claw policy show` and `policy write` print when a profile's
/// Regions come from claw's table (they make no AWS call to check them).
pub fn table_note(config: &Config) -> Option<String> {
    let from_table: Vec<String> = wanted(config)
        .into_iter()
        .filter(|(id, given, _)| given.is_none() && geo(id) != "global")
        .map(|(id, _, _)| format!("`{id}`"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if from_table.is_empty() {
        return None;
    }
    Some(format!(
        "note: the destination Regions of inference profile{} {} are claw's table for the profile's geography (no `inference_regions` in agent.yaml); `claw plan` checks them against GetInferenceProfile",
        if from_table.len() == 1 { "" } else { "s" },
        from_table.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn profile(id: &str, allowed: &[&str], read: Result<&[&str], &str>) -> Profile {
        Profile {
            id: id.into(),
            allowed: allowed.iter().map(|r| r.to_string()).collect(),
            given: false,
            keys: vec!["agents.a.model".into()],
            read: read
                .map(|r| r.iter().map(|r| r.to_string()).collect())
                .map_err(str::to_string),
        }
    }

    fn planned(p: Profile) -> Plan {
        let t = testing::target();
        let mut plan = testing::plan(&t);
        let found = Found {
            region: "us-east-1".into(),
            profiles: vec![p],
        };
        super::plan(&found, &mut plan);
        plan
    }

    #[test]
    fn destinations_inside_the_policy_are_reported_and_pass() {
        let p = planned(profile(
            "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            &["us-east-1", "us-east-2", "us-west-1", "us-west-2"],
            Ok(&["us-east-1", "us-east-2", "us-west-2"]),
        ));
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
        assert_eq!(p.inference_profiles.len(), 1);
        assert_eq!(
            p.inference_profiles[0].destinations,
            ["us-east-1", "us-east-2", "us-west-2"]
        );
        let text = p.render();
        assert!(
            text.contains(
                "us.anthropic.claude-haiku-4-5-20251001-v1:0  us-east-1, us-east-2, us-west-2"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_destination_outside_the_policy_blocks_with_the_fix() {
        let p = planned(profile(
            "us.anthropic.claude-x",
            &["us-east-1", "us-west-2"],
            Ok(&["ca-central-1", "us-east-1", "us-west-2"]),
        ));
        assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
        let b = &p.blockers[0];
        for part in [
            "`us.anthropic.claude-x`",
            "routes requests to ca-central-1 ",
            "claw's table for `us.` profiles",
            "`inference_regions: [ca-central-1, us-east-1, us-west-2]` under `agents.a.model`",
        ] {
            assert!(b.contains(part), "{part} missing from {b}");
        }
        assert_eq!(p.inference_profiles[0].missing, ["ca-central-1"]);
    }

    #[test]
    fn a_global_profile_only_needs_the_call_and_a_failed_call_blocks() {
        let p = planned(profile(
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            &["us-east-1"],
            Ok(&["eu-west-1", "us-east-1", "us-west-2"]),
        ));
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
        assert!(p.inference_profiles[0].global);
        assert!(p.render().contains("every commercial Region"));
        let p = planned(profile("us.x", &["us-east-1"], Err("no such profile")));
        assert_eq!(p.blockers, ["no such profile"]);
        assert!(p.inference_profiles.is_empty());
    }

    #[test]
    fn the_fix_names_the_key_that_sets_the_profile_and_the_note_only_table_regions() {
        use claw_spec::llm::AgentModel;
        const HAIKU: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
        let mut c = testing::target().config;
        assert!(wanted(&c).is_empty() && table_note(&c).is_none());
        c.agents.get_mut("company-researcher").unwrap().model = Some(AgentModel {
            provider: Some(Provider::Bedrock),
            id: Some(HAIKU.into()),
            ..AgentModel::default()
        });
        assert_eq!(
            wanted(&c),
            [(
                HAIKU.to_string(),
                None,
                vec!["agents.company-researcher.model".to_string()]
            )]
        );
        let note = table_note(&c).unwrap();
        assert!(
            note.contains(HAIKU) && note.contains("claw's table"),
            "{note}"
        );
        // The top-level model, inherited by an agent without its own.
        c.model.provider = Provider::Bedrock;
        c.model.id = HAIKU.into();
        let w = wanted(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].2, ["agents.company-researcher.model", "model"]);
        // Given Regions: nothing from the table to note.
        c.model.inference_regions = Some(vec!["us-east-1".into()]);
        c.agents.get_mut("company-researcher").unwrap().model = None;
        assert_eq!(
            wanted(&c)[0].1.as_deref(),
            Some(&["us-east-1".to_string()][..])
        );
        assert!(table_note(&c).is_none());
    }

    #[test]
    fn model_arns_give_their_region() {
        assert_eq!(
            region_of("arn:aws:bedrock:us-east-2::foundation-model/anthropic.x-v1:0").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_of("arn:aws:bedrock:::foundation-model/x"), None);
    }
}
