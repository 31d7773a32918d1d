//! What claw wants deployed: the config, the names and tags derived from it, and
//! the package. Every resource module plans against a [`Target`].

use std::collections::BTreeMap;

use claw_spec::{Config, Names};

use crate::package::Code;

/// What claw wants: the config, the names derived from it, the tags, the package.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: Config,
    pub names: Names,
    pub tags: BTreeMap<String, String>,
    pub code: Option<Code>,
}

impl Target {
    pub fn new(config: Config, code: Option<Code>) -> Target {
        Target {
            names: Names::new(&config),
            tags: super::ownership::tags(&config),
            config,
            code,
        }
    }
}
