//! Remote MCP servers (`kind: mcp` tools) through the Messages API's MCP connector:
//! <https://platform.claude.com/docs/en/agents-and-tools/mcp-connector>.
//!
//! The API, not the function, connects to the server and runs its tools. A request
//! names each server in `mcp_servers` (`type: url`, `url`, `name`, and the token as
//! `authorization_token`) and enables its tools with one `mcp_toolset` entry in
//! `tools`; an allow-list is `default_config: {enabled: false}` plus
//! `configs: {NAME: {enabled: true}}`. Both need the beta header [`BETA`]
//! (`mcp-client-2025-11-20`; the earlier `mcp-client-2025-04-04`, with
//! `tool_configuration` inside the server entry, is deprecated). The reply carries
//! the calls as `mcp_tool_use` and `mcp_tool_result` blocks in the assistant's own
//! turn: nothing for the function to run or answer, and they go back to the API
//! as they came, like every block the loop does not act on.
//!
//! The token is in the request body only: [`Server`]'s `Debug` hides it, the body
//! is never logged, and the stored session holds messages, which never carry it.

use std::sync::Arc;

use claw_spec::Config;
use futures::future::try_join_all;
use serde_json::{Map, Value, json};

use crate::secrets::{SecretError, Secrets};

/// The `anthropic-beta` value the connector needs (the newest documented version).
pub const BETA: &str = "mcp-client-2025-11-20";

/// One MCP server as a request names it.
#[derive(Clone, PartialEq)]
pub struct Server {
    /// The tool's name in agent.yaml: the server's name in the request.
    pub name: String,
    pub url: String,
    /// The bearer token, when the tool has `auth`.
    pub token: Option<Arc<str>>,
    /// Only these of the server's tools; all of them when `None`.
    pub allowed_tools: Option<Vec<String>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allowed_tools", &self.allowed_tools)
            .finish()
    }
}

impl Server {
    /// The server's entry in `mcp_servers`.
    pub fn definition(&self) -> Value {
        let mut v = json!({"type": "url", "url": self.url, "name": self.name});
        if let Some(t) = &self.token {
            v["authorization_token"] = json!(t.as_ref());
        }
        v
    }

    /// The server's `mcp_toolset` entry in `tools`.
    pub fn toolset(&self) -> Value {
        let mut v = json!({"type": "mcp_toolset", "mcp_server_name": self.name});
        if let Some(names) = &self.allowed_tools {
            let configs: Map<String, Value> = names
                .iter()
                .map(|n| (n.clone(), json!({"enabled": true})))
                .collect();
            v["default_config"] = json!({"enabled": false});
            v["configs"] = Value::Object(configs);
        }
        v
    }
}

/// The MCP servers among `agent_tools`, in their order, with their tokens fetched
/// from Secrets Manager together (cached, like the API key). Errors name the
/// secret, never its value.
pub async fn servers(
    config: &Config,
    agent_tools: &[String],
    secrets: &Secrets,
) -> Result<Vec<Server>, SecretError> {
    let fetches = agent_tools.iter().filter_map(|name| {
        let tool = config.tools.get(name)?.spec.mcp()?;
        Some(async move {
            let token = match &tool.auth {
                Some(a) => Some(secrets.get(&a.secret).await?),
                None => None,
            };
            Ok::<_, SecretError>(Server {
                name: name.clone(),
                url: tool.url.clone(),
                token,
                allowed_tools: tool.allowed_tools.clone(),
            })
        })
    });
    try_join_all(fetches).await
}

/// The MCP tool calls in a reply: its `mcp_tool_use` blocks. (The reply's
/// `usage.server_tool_use` counts web searches and fetches only.)
pub fn calls(content: &[Value]) -> u32 {
    content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("mcp_tool_use"))
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(token: Option<&str>, allowed: Option<&[&str]>) -> Server {
        Server {
            name: "crm".into(),
            url: "https://mcp.example.com/sse".into(),
            token: token.map(Arc::from),
            allowed_tools: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn entries_follow_the_connector_shapes() {
        let s = server(Some("tok-123"), Some(&["get_lead", "search_leads"]));
        assert_eq!(
            s.definition(),
            json!({"type": "url", "url": "https://mcp.example.com/sse", "name": "crm", "authorization_token": "tok-123"})
        );
        assert_eq!(
            s.toolset(),
            json!({
                "type": "mcp_toolset", "mcp_server_name": "crm",
                "default_config": {"enabled": false},
                "configs": {"get_lead": {"enabled": true}, "search_leads": {"enabled": true}}
            })
        );
        let open = server(None, None);
        assert_eq!(
            open.definition(),
            json!({"type": "url", "url": "https://mcp.example.com/sse", "name": "crm"})
        );
        assert_eq!(
            open.toolset(),
            json!({"type": "mcp_toolset", "mcp_server_name": "crm"})
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let text = format!("{:?}", server(Some("tok-secret-value"), None));
        assert!(!text.contains("tok-secret-value"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn calls_count_mcp_tool_use_blocks() {
        let content = vec![
            json!({"type": "text", "text": "checking"}),
            json!({"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "get_lead", "server_name": "crm", "input": {}}),
            json!({"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "is_error": false, "content": []}),
            json!({"type": "mcp_tool_use", "id": "mcptoolu_2", "name": "get_lead", "server_name": "crm", "input": {}}),
            json!({"type": "tool_use", "id": "toolu_1", "name": "local", "input": {}}),
        ];
        assert_eq!(calls(&content), 2);
        assert_eq!(calls(&[]), 0);
    }
}
