//! What claw knows about each Claude model: its published prices and the shortest
//! prompt prefix it caches. Data, not branches: a new model is one more row.
//!
//! Prices are USD per million tokens, from <https://platform.claude.com/docs/en/about-claude/pricing>
//! ("Model pricing": base input, 5m cache writes, 1h cache writes, cache hits and
//! refreshes, output) and the models' overview pages, as published on 2026-12-01.
//! Anthropic changes them: `model.prices` in agent.yaml overrides this table.
//!
//! Minimum cacheable lengths are from <https://platform.claude.com/docs/en/build-with-claude/prompt-caching>
//! ("Cache limitations"). Where sources disagree (Sonnet 4.6: 1024 by the docs,
//! 2048 by some reports) the lower figure is kept: a breakpoint below the real
//! minimum costs nothing (the API caches nothing and bills the tokens as input),
//! while a missing one loses the saving. Models the table does not list get
//! breakpoints and no default price.

use serde::{Deserialize, Serialize};

/// USD per million tokens, one figure per kind of token the API bills.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

/// Cache writes and reads priced from the base input price by the multipliers
/// the pricing page states for prompt caching.
pub const CACHE_WRITE_5M_FACTOR: f64 = 1.25;
pub const CACHE_WRITE_1H_FACTOR: f64 = 2.0;
pub const CACHE_READ_FACTOR: f64 = 0.1;

impl Prices {
    /// Prices with the standard cache multipliers on `input`.
    pub const fn standard(input: f64, output: f64) -> Prices {
        Prices {
            input,
            output,
            cache_write_5m: input * CACHE_WRITE_5M_FACTOR,
            cache_write_1h: input * CACHE_WRITE_1H_FACTOR,
            cache_read: input * CACHE_READ_FACTOR,
        }
    }

    /// What `tokens` cost, in USD.
    pub fn cost_usd(&self, t: &Tokens) -> f64 {
        (t.input as f64 * self.input
            + t.output as f64 * self.output
            + t.cache_write_5m as f64 * self.cache_write_5m
            + t.cache_write_1h as f64 * self.cache_write_1h
            + t.cache_read as f64 * self.cache_read)
            / 1_000_000.0
    }
}

/// Billed token counts, split the way the API prices them. `input` is uncached
/// input only (the API's `input_tokens`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub cache_read: u64,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelFacts {
    /// The model family as it appears in ids: `claude-sonnet-4-5` matches
    /// `claude-sonnet-4-5`, `claude-sonnet-4-5-20250929` and Bedrock's
    /// `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, but not `claude-sonnet-4-5-1`.
    pub family: &'static str,
    pub prices: Option<Prices>,
    /// Shortest prefix, in tokens, the model caches; `None` when not published.
    pub min_cache_tokens: Option<u32>,
}

const fn row(family: &'static str, prices: Prices, min: Option<u32>) -> ModelFacts {
    ModelFacts {
        family,
        prices: Some(prices),
        min_cache_tokens: min,
    }
}

const fn explicit(input: f64, output: f64, w5: f64, w1: f64, read: f64) -> Prices {
    Prices {
        input,
        output,
        cache_write_5m: w5,
        cache_write_1h: w1,
        cache_read: read,
    }
}

/// The table. Haiku 5.5 is absent on purpose: its price depends on each request's
/// prompt length (two bands), which one row cannot say; set `model.prices`.
pub const MODELS: &[ModelFacts] = &[
    row(
        "claude-fable-5-1",
        explicit(10.0, 50.0, 12.5, 20.0, 0.25),
        None,
    ),
    row(
        "claude-fable-5",
        explicit(10.0, 50.0, 12.5, 20.0, 1.0),
        None,
    ),
    // Opus 5.5 and Sonnet 5.5 read the cache at 0.05x of input.
    row("claude-opus-5-5", explicit(4.0, 20.0, 5.0, 8.0, 0.2), None),
    row("claude-opus-5", Prices::standard(5.0, 25.0), None),
    row(
        "claude-sonnet-5-5",
        explicit(2.0, 10.0, 2.5, 4.0, 0.1),
        None,
    ),
    row("claude-sonnet-5", Prices::standard(2.0, 10.0), None),
    row("claude-opus-4-8", Prices::standard(5.0, 25.0), None),
    row("claude-opus-4-7", Prices::standard(5.0, 25.0), None),
    row("claude-opus-4-6", Prices::standard(5.0, 25.0), Some(4096)),
    row("claude-opus-4-5", Prices::standard(5.0, 25.0), Some(4096)),
    row("claude-opus-4-1", Prices::standard(15.0, 75.0), Some(1024)),
    row("claude-opus-4", Prices::standard(15.0, 75.0), Some(1024)),
    row("claude-sonnet-4-6", Prices::standard(3.0, 15.0), Some(1024)),
    row("claude-sonnet-4-5", Prices::standard(3.0, 15.0), Some(1024)),
    row("claude-sonnet-4", Prices::standard(3.0, 15.0), Some(1024)),
    row("claude-3-7-sonnet", Prices::standard(3.0, 15.0), Some(1024)),
    row("claude-haiku-4-5", Prices::standard(1.0, 5.0), Some(4096)),
    row("claude-3-5-haiku", Prices::standard(0.8, 4.0), Some(2048)),
    row(
        "claude-3-haiku",
        explicit(0.25, 1.25, 0.3, 0.5, 0.03),
        Some(2048),
    ),
];

/// The row for a model id (an Anthropic id, alias, or Bedrock model or profile id).
pub fn lookup(id: &str) -> Option<&'static ModelFacts> {
    MODELS
        .iter()
        .filter(|m| family_matches(id, m.family))
        .max_by_key(|m| m.family.len())
}

fn family_matches(id: &str, family: &str) -> bool {
    id.match_indices(family).any(|(at, _)| {
        let before = id[..at].chars().next_back();
        // Starts the id, or follows Bedrock's `anthropic.` (after a profile prefix).
        if !matches!(before, None | Some('.') | Some('/')) {
            return false;
        }
        let rest = &id[at + family.len()..];
        rest.is_empty()
            || rest.starts_with([':', '@', '['])
            || rest.starts_with("-v")
            || rest
                .strip_prefix('-')
                .is_some_and(|d| d.len() >= 8 && d.bytes().take(8).all(|b| b.is_ascii_digit()))
    })
}

/// A generous estimate of the tokens in `bytes` of prompt text (English runs near
/// 4 bytes a token; this counts 3), for deciding whether a prefix is long enough
/// to cache. Erring high only means a breakpoint that caches nothing.
pub fn approx_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_find_their_family_and_no_other() {
        let fam = |id: &str| lookup(id).map(|m| m.family);
        assert_eq!(fam("claude-sonnet-4-5"), Some("claude-sonnet-4-5"));
        assert_eq!(fam("claude-sonnet-4-5-20250929"), Some("claude-sonnet-4-5"));
        assert_eq!(fam("claude-sonnet-4-20250514"), Some("claude-sonnet-4"));
        assert_eq!(fam("claude-opus-4-1-20250805"), Some("claude-opus-4-1"));
        assert_eq!(fam("claude-sonnet-5"), Some("claude-sonnet-5"));
        assert_eq!(fam("claude-sonnet-5-5"), Some("claude-sonnet-5-5"));
        assert_eq!(
            fam("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
            Some("claude-haiku-4-5")
        );
        assert_eq!(
            fam("anthropic.claude-3-5-haiku-20241022-v1:0"),
            Some("claude-3-5-haiku")
        );
        assert_eq!(fam("claude-3-haiku-20240307"), Some("claude-3-haiku"));
        assert_eq!(fam("claude-haiku-5-5"), None);
        assert_eq!(fam("claude-sonnet-4-5-1"), None);
        assert_eq!(fam("my-claude-sonnet-4"), None);
        assert_eq!(fam("gpt-4"), None);
    }

    #[test]
    fn cost_by_hand() {
        // Sonnet 4.5: $3 in, $15 out, $3.75 5m write, $6 1h write, $0.30 read.
        let p = lookup("claude-sonnet-4-5").unwrap().prices.unwrap();
        let t = Tokens {
            input: 1_000,
            output: 500,
            cache_write_5m: 2_000,
            cache_write_1h: 4_000,
            cache_read: 10_000,
        };
        // 1000*3 + 500*15 + 2000*3.75 + 4000*6 + 10000*0.3 = 3000+7500+7500+24000+3000
        let want = 45_000.0 / 1_000_000.0;
        assert!((p.cost_usd(&t) - want).abs() < 1e-12, "{}", p.cost_usd(&t));
    }

    #[test]
    fn every_row_is_sane() {
        for m in MODELS {
            let p = m.prices.unwrap();
            assert!(p.input > 0.0 && p.output >= p.input, "{}", m.family);
            assert!(
                p.cache_read < p.input && p.cache_write_5m > p.input,
                "{}",
                m.family
            );
            assert!(p.cache_write_1h > p.cache_write_5m, "{}", m.family);
            assert_eq!(lookup(m.family).unwrap().family, m.family);
        }
    }
}
