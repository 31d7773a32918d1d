//! Tool execution: the configured tools, by name, behind the loop's [`ToolRunner`].

pub mod aws_kinds;
pub mod ddb_json;
pub mod http;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use claw_spec::Config;
use claw_spec::tools::{HttpTool, ToolSpec};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::agent::{ToolOutput, ToolRunner};
use crate::anthropic::ToolDef;
use crate::aws::Aws;
use crate::deadline::Deadline;
use crate::replay::Replay;
use crate::secrets::Secrets;
use http::AddressPolicy;

/// Time kept back from a tool call so the loop can still report its result.
const TOOL_MARGIN: Duration = Duration::from_millis(500);

pub struct Toolbox {
    config: Arc<Config>,
    aws: Arc<Aws>,
    secrets: Arc<Secrets>,
    /// One guarded client per http tool, built on first use and reused.
    http_clients: Mutex<HashMap<String, reqwest::Client>>,
    /// Replaces every http tool's address policy (tests of the guard).
    policy_override: Option<AddressPolicy>,
    /// Under `claw test`: every call is answered from the recording.
    replay: Option<Replay>,
}

impl Toolbox {
    pub fn new(config: Arc<Config>, aws: Arc<Aws>, secrets: Arc<Secrets>) -> Toolbox {
        Toolbox {
            config,
            aws,
            secrets,
            http_clients: Mutex::new(HashMap::new()),
            policy_override: None,
            replay: None,
        }
    }

    /// Answers every call from `claw test`'s recording instead of running it.
    pub fn with_replay(mut self, replay: Replay) -> Toolbox {
        self.replay = Some(replay);
        self
    }

    /// Applies `policy` to every http tool instead of the one its config implies.
    pub fn with_address_policy(mut self, policy: AddressPolicy) -> Toolbox {
        self.policy_override = Some(policy);
        self
    }

    /// The definitions the model sees for an agent's tools, in the agent's order.
    /// MCP servers are not among them: the request names them (`crate::mcp`).
    pub fn definitions(config: &Config, agent_tools: &[String]) -> Vec<ToolDef> {
        agent_tools
            .iter()
            .filter_map(|name| {
                let t = config.tools.get(name).filter(|t| t.spec.mcp().is_none())?;
                Some(ToolDef {
                    name: name.clone(),
                    description: t.description.clone(),
                    input_schema: claw_spec::tools::input_schema(t),
                })
            })
            .collect()
    }

    fn http_client(&self, name: &str, policy: &AddressPolicy) -> Result<reqwest::Client, String> {
        let mut clients = self
            .http_clients
            .lock()
            .map_err(|_| "the http client cache is poisoned".to_string())?;
        if let Some(c) = clients.get(name) {
            return Ok(c.clone());
        }
        let c =
            http::client(policy.clone()).map_err(|e| format!("building the HTTP client: {e}"))?;
        clients.insert(name.to_string(), c.clone());
        Ok(c)
    }

    async fn auth_header(
        &self,
        tool: &HttpTool,
    ) -> Result<Option<(HeaderName, HeaderValue)>, String> {
        let Some(auth) = &tool.auth else {
            return Ok(None);
        };
        let secret = self.secrets.get(&auth.secret).await?;
        let name = HeaderName::from_bytes(auth.header.as_bytes())
            .map_err(|_| format!("`{}` is not a header name", auth.header))?;
        let mut value =
            HeaderValue::from_str(&auth.format.replacen("{}", &secret, 1)).map_err(|_| {
                format!(
                    "the secret `{}` does not make a valid header value",
                    auth.secret
                )
            })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }
}

impl ToolRunner for Toolbox {
    async fn run(&self, name: &str, input: &Value, deadline: Deadline) -> ToolOutput {
        let Some(tool) = self.config.tools.get(name) else {
            return ToolOutput::error(format!("the tool `{name}` is not configured"));
        };
        if tool.spec.mcp().is_some() {
            return ToolOutput::error(format!(
                "`{name}` is an MCP server: the Messages API runs its tools, not this function"
            ));
        }
        if let Some(replay) = &self.replay {
            return replay.tool(name, input).await;
        }
        if let ToolSpec::Http(tool) = &tool.spec {
            let policy = self
                .policy_override
                .clone()
                .unwrap_or_else(|| AddressPolicy::for_tool(tool));
            let client = match self.http_client(name, &policy) {
                Ok(c) => c,
                Err(e) => return ToolOutput::error(e),
            };
            let auth = match self.auth_header(tool).await {
                Ok(a) => a,
                Err(e) => return ToolOutput::error(e),
            };
            let call = http::HttpCall {
                tool,
                policy: &policy,
                auth,
            };
            return http::call(&client, call, input, deadline).await;
        }
        let target = aws_kinds::Target {
            region: &self.config.region,
            account: &self.config.account,
        };
        let budget = deadline.budget(TOOL_MARGIN);
        let call = aws_kinds::call(&self.aws, &target, &tool.spec, input);
        match tokio::time::timeout(budget, call).await {
            Ok(Ok(v)) => ToolOutput::ok(&v),
            Ok(Err(e)) => ToolOutput::error(e),
            Err(_) => ToolOutput::error("the call did not finish before the deadline"),
        }
    }
}
