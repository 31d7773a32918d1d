//! One agent's model with every default applied: `agents.NAME.model` over `model:`,
//! and the prices and cache minimum claw knows for its id.

use crate::llm::{Provider, ResolvedModel};
use crate::model::Config;
use crate::pricing;

impl<T> Config<T> {
    /// The model `agent` runs on (`model:` when there is no such agent).
    pub fn model_for(&self, agent: &str) -> ResolvedModel {
        let m = &self.model;
        let o = self
            .agents
            .get(agent)
            .and_then(|a| a.model.clone())
            .unwrap_or_default();
        let id = o.id.clone().unwrap_or_else(|| m.id.clone());
        let facts = pricing::lookup(&id);
        // The top-level prices and Regions are for `model.id`; another id has its own.
        let inherited = m.prices.filter(|_| id == m.id);
        let regions = o
            .inference_regions
            .clone()
            .or_else(|| m.inference_regions.clone().filter(|_| id == m.id));
        ResolvedModel {
            provider: o.provider.unwrap_or(m.provider),
            max_tokens: o.max_tokens.unwrap_or(m.max_tokens),
            cache: o.cache.unwrap_or(m.cache),
            prices: o
                .prices
                .or(inherited)
                .map(|p| p.prices())
                .or_else(|| facts.and_then(|f| f.prices)),
            min_cache_tokens: facts.and_then(|f| f.min_cache_tokens),
            inference_regions: regions,
            id,
        }
    }

    /// Every provider any agent uses (for the key and the policies).
    pub fn providers(&self) -> Vec<Provider> {
        let mut out: Vec<Provider> = self
            .agents
            .keys()
            .map(|a| self.model_for(a).provider)
            .collect();
        if out.is_empty() {
            out.push(self.model.provider);
        }
        out.sort_by_key(|p| *p as u8);
        out.dedup();
        out
    }
}
