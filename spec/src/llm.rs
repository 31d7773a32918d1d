//! The `model:` section and its per-agent override `agents.NAME.model`: which model
//! answers, through which provider, how its prompt is cached and what it costs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pricing::Prices;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// The Anthropic API, with a key from Secrets Manager.
    #[default]
    Anthropic,
    /// Amazon Bedrock (InvokeModel), authorised by the execution role alone: no
    /// API key anywhere. `id` is a Bedrock model id or inference profile id.
    Bedrock,
}

/// How long cached prompt prefixes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum CacheTtl {
    /// No cache breakpoints: every request pays full input price.
    #[serde(rename = "off")]
    Off,
    /// Five minutes, refreshed on every hit; writes cost 1.25x input. The default.
    #[default]
    #[serde(rename = "5m")]
    FiveMinutes,
    /// One hour for the tools and system prompt (writes cost 2x input), five
    /// minutes for the conversation, which changes every turn.
    #[serde(rename = "1h")]
    OneHour,
}

impl CacheTtl {
    /// The `ttl` the API takes, `None` for off.
    pub fn api_ttl(self) -> Option<&'static str> {
        match self {
            CacheTtl::Off => None,
            CacheTtl::FiveMinutes => Some("5m"),
            CacheTtl::OneHour => Some("1h"),
        }
    }
}

/// USD per million tokens. Cache prices default to the standard multipliers on
/// `input` (5-minute write 1.25x, 1-hour write 2x, read 0.1x).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    /// Base input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// 5-minute cache writes (default 1.25 x input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<f64>,
    /// 1-hour cache writes (default 2 x input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<f64>,
    /// Cache hits and refreshes (default 0.1 x input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
}

impl PriceOverride {
    pub fn prices(&self) -> Prices {
        let std = Prices::standard(self.input, self.output);
        Prices {
            cache_write_5m: self.cache_write_5m.unwrap_or(std.cache_write_5m),
            cache_write_1h: self.cache_write_1h.unwrap_or(std.cache_write_1h),
            cache_read: self.cache_read.unwrap_or(std.cache_read),
            ..std
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `anthropic` (default) or `bedrock`.
    #[serde(default)]
    pub provider: Provider,
    /// The model id, such as `claude-sonnet-5`. claw never hard-codes one.
    pub id: String,
    /// Most tokens one model reply may contain.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Secrets Manager name of the Anthropic API key. Required for `anthropic`; the
    /// key is fetched at run time and never placed in the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// Prompt caching: `5m` (default), `1h` or `off`. The function marks the tools,
    /// the system prompt and the conversation so far, so each turn of the tool
    /// loop reads the previous turn's prefix at a tenth of the input price.
    #[serde(default)]
    pub cache: CacheTtl,
    /// Prices for the cost figures (`cost_usd`, `CostMicroUSD`), overriding the
    /// published prices claw knows. Required for a model claw has no price for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<PriceOverride>,
    /// Bedrock inference profiles only: the Regions the profile routes to, for
    /// the role's policy. Default: every Region of the profile's geography claw
    /// knows; `claw plan` checks them against the profile's real destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_regions: Option<Vec<String>>,
}

pub(crate) fn default_max_tokens() -> u32 {
    4096
}

/// `agents.NAME.model`: any key given replaces `model:`'s for this agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentModel {
    /// `anthropic` or `bedrock`; default `model.provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// The model id; default `model.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Most tokens one reply may contain; default `model.max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// `5m`, `1h` or `off`; default `model.cache`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheTtl>,
    /// Prices for this agent's model; default `model.prices` when the id is the
    /// same as `model.id`, else the published prices of this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<PriceOverride>,
    /// Destination Regions of a Bedrock inference profile; default
    /// `model.inference_regions` when the id is `model.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_regions: Option<Vec<String>>,
}

/// One agent's model with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    pub provider: Provider,
    pub id: String,
    pub max_tokens: u32,
    pub cache: CacheTtl,
    /// `None` when neither agent.yaml nor claw's table has a price.
    pub prices: Option<Prices>,
    /// Shortest cacheable prefix, when published.
    pub min_cache_tokens: Option<u32>,
    /// Given destination Regions of a Bedrock inference profile.
    pub inference_regions: Option<Vec<String>>,
}
