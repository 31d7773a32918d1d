//! The `usage` object of a Messages reply, with the prompt-cache counters.
//! Fields: <https://platform.claude.com/docs/en/build-with-claude/prompt-caching>
//! ("Tracking cache performance"): `input_tokens` counts only the tokens after the
//! last cache breakpoint; the prompt's total is input + creation + read.

use claw_spec::pricing::Tokens;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// Tokens written to the cache (billed at the write price of their TTL).
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Tokens read from the cache (billed at the read price).
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// The writes by TTL, when the API reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        // Split the writes of each side before summing, so a reply without the
        // breakdown still lands in the right bucket.
        let (a5, a1) = self.writes_by_ttl();
        let (b5, b1) = other.writes_by_ttl();
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        if self.cache_creation.is_some() || other.cache_creation.is_some() {
            self.cache_creation = Some(CacheCreation {
                ephemeral_5m_input_tokens: a5 + b5,
                ephemeral_1h_input_tokens: a1 + b1,
            });
        }
    }

    /// Cache writes as (5-minute, 1-hour). Without the breakdown every write is
    /// counted as 5-minute, the API's default TTL.
    pub fn writes_by_ttl(&self) -> (u64, u64) {
        match self.cache_creation {
            Some(c) => (c.ephemeral_5m_input_tokens, c.ephemeral_1h_input_tokens),
            None => (self.cache_creation_input_tokens, 0),
        }
    }

    /// The counts in the form prices apply to.
    pub fn tokens(&self) -> Tokens {
        let (w5, w1) = self.writes_by_ttl();
        Tokens {
            input: self.input_tokens,
            output: self.output_tokens,
            cache_write_5m: w5,
            cache_write_1h: w1,
            cache_read: self.cache_read_input_tokens,
        }
    }

    /// Every prompt token, cached or not.
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_keep_the_ttl_split() {
        let mut total: Usage = serde_json::from_str(
            r#"{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":100}"#,
        )
        .unwrap();
        let second: Usage = serde_json::from_str(
            r#"{"input_tokens":3,"output_tokens":7,"cache_creation_input_tokens":50,
                "cache_read_input_tokens":100,
                "cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30}}"#,
        )
        .unwrap();
        total.add(second);
        assert_eq!(total.input_tokens, 13);
        assert_eq!(total.cache_creation_input_tokens, 150);
        assert_eq!(total.writes_by_ttl(), (120, 30));
        assert_eq!(total.prompt_tokens(), 13 + 150 + 100);
        let t = total.tokens();
        assert_eq!(
            (t.cache_write_5m, t.cache_write_1h, t.cache_read),
            (120, 30, 100)
        );
    }
}
