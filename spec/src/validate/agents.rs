//! The `agents` and `tools` sections: names, references between them, and each
//! tool's keys for its kind (the kinds' own rules are in `crate::tools`).

use std::collections::{BTreeMap, BTreeSet};

use super::check::{Check, key, p};
use crate::llm::Provider;
use crate::names::Names;
use crate::rules::is_name;
use crate::tools::{self, ToolKind};
use crate::yaml::{PathSeg, suggest};

pub(super) fn agents(c: &mut Check) {
    let cfg = c.config;
    if cfg.agents.is_empty() {
        c.error(p(&["agents"]), "define at least one agent");
    }
    let tool_names: Vec<&str> = cfg.tools.keys().map(|s| s.as_str()).collect();
    for (name, agent) in &cfg.agents {
        if !is_name(name, 64) {
            c.key_error(
                p(&["agents", name]),
                format!("`{name}` is not a valid agent name (1-64 of letters, digits, `_`, `-`)"),
            );
        }
        if agent.system.trim().is_empty() {
            c.error(p(&["agents", name, "system"]), "the system prompt is empty");
        }
        let mut seen = BTreeSet::new();
        for (i, tool) in agent.tools.iter().enumerate() {
            let mut path = p(&["agents", name, "tools"]);
            path.push(PathSeg::Index(i));
            if !seen.insert(tool) {
                c.error(path, format!("`{tool}` is listed twice"));
            } else if !cfg.tools.contains_key(tool) {
                let mut m = format!("no tool named `{tool}` is defined under `tools:`");
                if let Some(s) = suggest(tool, &tool_names) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                c.error(path, m);
            }
        }
        mcp_rules(c, name);
    }
}

/// An agent's mcp tools: the connector is not on Bedrock, and the tools a server
/// offers share one namespace with the agent's other tools, so an allowed name
/// may not be one of them (the API would refuse the request).
fn mcp_rules(c: &mut Check, agent: &str) {
    let cfg = c.config;
    let tools = &cfg.agents[agent].tools;
    let provider = cfg.model_for(agent).provider;
    let mut taken: BTreeMap<&str, &str> = tools
        .iter()
        .filter(|t| cfg.tools.get(*t).is_some_and(|d| d.kind != ToolKind::Mcp))
        .map(|t| (t.as_str(), t.as_str()))
        .collect();
    for (i, tool) in tools.iter().enumerate() {
        let Some(def) = cfg.tools.get(tool).filter(|d| d.kind == ToolKind::Mcp) else {
            continue;
        };
        let mut path = p(&["agents", agent, "tools"]);
        path.push(PathSeg::Index(i));
        if provider == Provider::Bedrock {
            c.error(
                path.clone(),
                format!(
                    "`{tool}` is an MCP server, and the Messages API's MCP connector is not available on Amazon Bedrock; run this agent on `anthropic`"
                ),
            );
        }
        for allowed in def.allowed_tools.iter().flatten() {
            if let Some(owner) = taken.insert(allowed, tool) {
                let what = if owner == allowed.as_str() {
                    "another of its tools".to_string()
                } else {
                    format!("a tool of the MCP server `{owner}`")
                };
                c.error(
                    path.clone(),
                    format!(
                        "`{tool}` offers the tool `{allowed}`, which is also the name of {what}; tool names must be unique within an agent"
                    ),
                );
            }
        }
    }
}

pub(super) fn tools(c: &mut Check) {
    let cfg = c.config;
    let own_function = Names::new(cfg).function;
    // Each tool's IAM statement has a Sid derived from its name; IAM refuses a
    // policy with two equal Sids (MalformedPolicyDocument).
    let mut sids: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for name in cfg.tools.keys() {
        let sid = tools::tool_sid(name);
        if let Some(other) = sids.insert(sid.clone(), name) {
            c.key_error(
                p(&["tools", name]),
                format!("tools `{other}` and `{name}` give the same IAM statement id `{sid}`; rename one"),
            );
        }
    }
    for (name, tool) in &cfg.tools {
        let base = |more: &[&str]| {
            let mut v = p(&["tools", name]);
            v.extend(more.iter().map(|k| key(k)));
            v
        };
        if !is_name(name, 64) {
            c.key_error(
                base(&[]),
                format!("`{name}` is not a valid tool name: Anthropic requires 1-64 of letters, digits, `_`, `-`"),
            );
        }
        match &tool.description {
            // An MCP server describes its own tools.
            None if tool.kind == ToolKind::Mcp => {}
            None => c.key_error(base(&[]), "missing required key `description`"),
            Some(d) if d.trim().is_empty() => c.error(
                base(&["description"]),
                "the description is empty; the model needs it to choose the tool",
            ),
            Some(_) => {}
        }
        let (required, optional) = tools::kind_keys(tool.kind);
        let set = tools::keys_set(tool);
        for r in required {
            if !set.iter().any(|s| s == r) {
                c.key_error(
                    base(&[]),
                    format!(
                        "missing required key `{r}` for a `{}` tool",
                        tool.kind.name()
                    ),
                );
            }
        }
        for s in &set {
            if !required.contains(&s.as_str()) && !optional.contains(&s.as_str()) {
                c.key_error(
                    base(&[s]),
                    format!(
                        "`{s}` does not apply to a `{}` tool (it takes: {})",
                        tool.kind.name(),
                        required
                            .iter()
                            .chain(optional.iter())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if let Some(schema) = &tool.input_schema {
            let is_object_schema = schema
                .as_object()
                .is_some_and(|o| o.get("type").and_then(|t| t.as_str()) == Some("object"));
            if !is_object_schema {
                c.error(
                    base(&["input_schema"]),
                    "must be a JSON Schema for an object: a mapping with `type: object`",
                );
            }
        }
        let cx = tools::Context {
            function_timeout_s: cfg.function.timeout_s,
            own_function: &own_function,
        };
        if tool.approval == crate::model::Approval::Required {
            if tool.kind == crate::model::ToolKind::Mcp {
                c.error(
                    base(&["approval"]),
                    "an mcp tool cannot wait for approval: the Messages API calls the server itself",
                );
            } else if cfg.api.mode != crate::model::ApiMode::Async {
                c.error(
                    base(&["approval"]),
                    "`approval: required` needs `api.mode: async`: only a job can wait for a person",
                );
            }
        }
        for problem in tools::check(tool, &cx) {
            let path = base(&problem.keys);
            if problem.warning {
                c.warn(path, problem.message);
            } else {
                c.error(path, problem.message);
            }
        }
    }
}
