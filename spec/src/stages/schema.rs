//! The shape of one stage's overrides, for the JSON Schema only: the loader merges
//! overrides into the located tree and never deserializes this type, so editors
//! and the loader cannot disagree about anything but the schema text.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::model::{Alarms, CacheTtl, Function, PriceOverride, Provider, Throttle};

/// What one stage changes. Mappings merge with the top-level values key by key
/// (`function: {memory_mb: 1024}` keeps the other `function` keys); a value or a
/// list replaces.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct StageOverride {
    /// This stage's 12-digit AWS account, quoted.
    account: Option<String>,
    /// This stage's AWS region.
    region: Option<String>,
    /// Function settings for this stage.
    function: Option<Function>,
    /// Model settings for this stage.
    model: Option<ModelOverride>,
    /// Only `throttle` may differ between stages.
    api: Option<ApiOverride>,
    /// Alarm settings for this stage.
    alarms: Option<Alarms>,
    /// How this stage's changes reach callers (a canary in `prod`, say).
    rollout: Option<crate::rollout::Rollout>,
    /// Tags for this stage, merged with the top-level `tags`.
    tags: Option<BTreeMap<String, String>>,
}

/// Any of `model`'s keys.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ModelOverride {
    provider: Option<Provider>,
    /// The model id.
    id: Option<String>,
    /// Maximum output tokens per model call, 1 to 128000.
    max_tokens: Option<u32>,
    /// Secrets Manager name of the API key.
    api_key_secret: Option<String>,
    /// Prompt caching: `5m`, `1h` or `off`.
    cache: Option<CacheTtl>,
    /// Prices (USD per million tokens) for the cost figures.
    prices: Option<PriceOverride>,
    /// Destination Regions of a Bedrock inference profile.
    inference_regions: Option<Vec<String>>,
}

/// The part of `api` a stage may override.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ApiOverride {
    /// Stage-wide request throttling.
    throttle: Option<Throttle>,
}
