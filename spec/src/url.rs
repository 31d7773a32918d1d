//! `api.stream`: the function URL's callers, as agent.yaml names them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `api.stream`: who may call the function URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// The callers, signing with SigV4 (`AuthType: AWS_IAM`): 12-digit account
    /// ids (any principal of that account its own IAM allows) or IAM role ARNs.
    #[serde(default)]
    pub allow: Vec<String>,
    /// `true`: anyone on the internet may call it (`AuthType: NONE`). Only when
    /// said here, and `claw validate` warns.
    #[serde(default)]
    pub public: bool,
}

impl Stream {
    /// The URL's `AuthType`.
    pub fn auth_type(&self) -> &'static str {
        if self.public { "NONE" } else { "AWS_IAM" }
    }
}
