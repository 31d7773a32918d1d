//! The MCP connector's request rules, as the API documents them
//! (<https://platform.claude.com/docs/en/agents-and-tools/mcp-connector>, beta
//! `mcp-client-2025-11-20`):
//!
//! - `mcp_servers`, `mcp_toolset` tools and `mcp_tool_use`/`mcp_tool_result`
//!   blocks need `anthropic-beta: mcp-client-2025-11-20`;
//! - each server is `{type: "url", url: "https://…", name, authorization_token?}`
//!   with a unique name, and is referenced by exactly one `mcp_toolset`
//!   (`{type, mcp_server_name, default_config?, configs?, cache_control?}`), which
//!   must name a defined server;
//! - `mcp_tool_use` (`id`, `name`, `server_name` of a defined server, `input`) and
//!   `mcp_tool_result` (answering an `mcp_tool_use` before it) appear only in
//!   assistant turns.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// The beta the connector needs.
pub const BETA: &str = "mcp-client-2025-11-20";

const SERVER_KEYS: &[&str] = &["type", "url", "name", "authorization_token"];
const TOOLSET_KEYS: &[&str] = &[
    "type",
    "mcp_server_name",
    "default_config",
    "configs",
    "cache_control",
];
const CONFIG_KEYS: &[&str] = &["enabled", "defer_loading"];

/// Checks a request body's MCP parts; `beta` is its `anthropic-beta` header.
pub(super) fn validate(body: &Value, beta: Option<&str>) -> Result<(), String> {
    let has_beta = beta.is_some_and(|b| b.split(',').any(|v| v.trim() == BETA));
    let need_beta = |what: &str| -> Result<(), String> {
        if has_beta {
            Ok(())
        } else {
            Err(format!(
                "mock: {what} requires the beta header `anthropic-beta: {BETA}`"
            ))
        }
    };
    let mut servers: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(list) = body.get("mcp_servers") {
        need_beta("`mcp_servers`")?;
        let list = list
            .as_array()
            .ok_or("mock: `mcp_servers` must be an array")?;
        for (i, s) in list.iter().enumerate() {
            let at = format!("mcp_servers.{i}");
            let obj = s.as_object().ok_or(format!("{at}: must be an object"))?;
            if let Some(k) = obj.keys().find(|k| !SERVER_KEYS.contains(&k.as_str())) {
                return Err(format!("{at}.{k}: Extra inputs are not permitted"));
            }
            if s["type"] != "url" {
                return Err(format!("{at}.type: must be `url`"));
            }
            let url = s["url"]
                .as_str()
                .ok_or(format!("{at}.url: must be a string"))?;
            if !url.starts_with("https://") {
                return Err(format!("{at}.url: must start with `https://`"));
            }
            let name = s["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or(format!("{at}.name: must be a non-empty string"))?;
            if obj.contains_key("authorization_token") && !s["authorization_token"].is_string() {
                return Err(format!("{at}.authorization_token: must be a string"));
            }
            if servers.insert(name.to_string(), 0).is_some() {
                return Err(format!("{at}.name: `{name}` is not unique"));
            }
        }
    }
    for (i, t) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if t["type"] != "mcp_toolset" {
            continue;
        }
        let at = format!("tools.{i}");
        need_beta("an `mcp_toolset` tool")?;
        let obj = t.as_object().ok_or(format!("{at}: must be an object"))?;
        if let Some(k) = obj.keys().find(|k| !TOOLSET_KEYS.contains(&k.as_str())) {
            return Err(format!("{at}.{k}: Extra inputs are not permitted"));
        }
        let name = t["mcp_server_name"]
            .as_str()
            .ok_or(format!("{at}.mcp_server_name: must be a string"))?;
        let refs = servers.get_mut(name).ok_or(format!(
            "{at}.mcp_server_name: no server named `{name}` in `mcp_servers`"
        ))?;
        *refs += 1;
        if let Some(d) = obj.get("default_config") {
            tool_config(d, &format!("{at}.default_config"))?;
        }
        if let Some(c) = obj.get("configs") {
            let c = c
                .as_object()
                .ok_or(format!("{at}.configs: must be an object"))?;
            for (tool, cfg) in c {
                tool_config(cfg, &format!("{at}.configs.{tool}"))?;
            }
        }
    }
    if let Some((name, n)) = servers.iter().find(|(_, n)| **n != 1) {
        return Err(format!(
            "mock: the MCP server `{name}` must be referenced by exactly one `mcp_toolset` (found {n})"
        ));
    }
    for (i, m) in body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut used: HashSet<&str> = HashSet::new();
        for (j, b) in m["content"].as_array().into_iter().flatten().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            match b["type"].as_str() {
                Some("mcp_tool_use") => {
                    need_beta("an `mcp_tool_use` block")?;
                    if m["role"] != "assistant" {
                        return Err(format!("{at}: `mcp_tool_use` only in assistant turns"));
                    }
                    let server = b["server_name"].as_str().unwrap_or_default();
                    if !servers.contains_key(server) {
                        return Err(format!(
                            "{at}.server_name: no server named `{server}` in `mcp_servers`"
                        ));
                    }
                    match (
                        b["id"].as_str(),
                        b["name"].is_string(),
                        b["input"].is_object(),
                    ) {
                        (Some(id), true, true) => {
                            used.insert(id);
                        }
                        _ => return Err(format!("{at}: needs `id`, `name` and an object `input`")),
                    }
                }
                Some("mcp_tool_result") => {
                    need_beta("an `mcp_tool_result` block")?;
                    if m["role"] != "assistant" {
                        return Err(format!("{at}: `mcp_tool_result` only in assistant turns"));
                    }
                    let id = b["tool_use_id"].as_str().unwrap_or_default();
                    if !used.contains(id) {
                        return Err(format!(
                            "{at}.tool_use_id: `{id}` answers no `mcp_tool_use` before it"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn tool_config(v: &Value, at: &str) -> Result<(), String> {
    let obj = v.as_object().ok_or(format!("{at}: must be an object"))?;
    for (k, x) in obj {
        if !CONFIG_KEYS.contains(&k.as_str()) {
            return Err(format!("{at}.{k}: Extra inputs are not permitted"));
        }
        if !x.is_boolean() {
            return Err(format!("{at}.{k}: must be a boolean"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(servers: Value, tools: Value) -> Value {
        json!({
            "model": "m", "max_tokens": 1,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "mcp_servers": servers, "tools": tools
        })
    }

    fn crm() -> Value {
        json!([{"type": "url", "url": "https://mcp.example.com/sse", "name": "crm", "authorization_token": "t"}])
    }

    #[test]
    fn accepts_the_documented_shape_and_refuses_the_rest() {
        let ok = body(
            crm(),
            json!([{"type": "mcp_toolset", "mcp_server_name": "crm",
                    "default_config": {"enabled": false}, "configs": {"get_lead": {"enabled": true}}}]),
        );
        validate(&ok, Some(BETA)).unwrap();
        validate(&ok, Some(&format!("other-2025-01-01, {BETA}"))).unwrap();
        let no_beta = validate(&ok, None).unwrap_err();
        assert!(no_beta.contains("requires the beta header"), "{no_beta}");
        let old_beta = validate(&ok, Some("mcp-client-2025-04-04")).unwrap_err();
        assert!(old_beta.contains("requires the beta header"), "{old_beta}");

        let toolset = json!([{"type": "mcp_toolset", "mcp_server_name": "crm"}]);
        for (servers, tools, want) in [
            (
                json!([{"type": "url", "url": "http://x.example/sse", "name": "crm"}]),
                toolset.clone(),
                "https://",
            ),
            (
                json!([{"type": "sse", "url": "https://x.example/sse", "name": "crm"}]),
                toolset.clone(),
                "must be `url`",
            ),
            (
                json!([{"type": "url", "url": "https://x.example/sse"}]),
                toolset.clone(),
                "name",
            ),
            (
                json!([{"type": "url", "url": "https://x.example/sse", "name": "crm", "tool_configuration": {}}]),
                toolset.clone(),
                "Extra inputs",
            ),
            (crm(), json!([]), "exactly one `mcp_toolset` (found 0)"),
            (
                crm(),
                json!([{"type": "mcp_toolset", "mcp_server_name": "crm"}, {"type": "mcp_toolset", "mcp_server_name": "crm"}]),
                "(found 2)",
            ),
            (
                crm(),
                json!([{"type": "mcp_toolset", "mcp_server_name": "other"}]),
                "no server named `other`",
            ),
            (
                crm(),
                json!([{"type": "mcp_toolset", "mcp_server_name": "crm", "default_config": {"enabled": "no"}}]),
                "must be a boolean",
            ),
        ] {
            let e = validate(&body(servers, tools), Some(BETA)).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn mcp_blocks_belong_to_assistant_turns() {
        let mut b = body(
            crm(),
            json!([{"type": "mcp_toolset", "mcp_server_name": "crm"}]),
        );
        b["messages"] = json!([
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [
                {"type": "mcp_tool_use", "id": "m1", "name": "get_lead", "server_name": "crm", "input": {}},
                {"type": "mcp_tool_result", "tool_use_id": "m1", "is_error": false, "content": []},
                {"type": "text", "text": "done"}
            ]},
            {"role": "user", "content": [{"type": "text", "text": "more"}]}
        ]);
        validate(&b, Some(BETA)).unwrap();
        let mut orphan = b.clone();
        orphan["messages"][1]["content"][1]["tool_use_id"] = json!("m9");
        assert!(
            validate(&orphan, Some(BETA))
                .unwrap_err()
                .contains("answers no")
        );
        let mut in_user = b.clone();
        in_user["messages"][2]["content"] = b["messages"][1]["content"].clone();
        assert!(
            validate(&in_user, Some(BETA))
                .unwrap_err()
                .contains("only in assistant")
        );
    }
}
