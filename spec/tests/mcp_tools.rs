//! `tools.NAME.kind: mcp`: a remote MCP server the Messages API connects to. What
//! validation accepts and refuses (and where it points), what the validated tool
//! and the IAM policy hold, and the JSON Schema's view of it.

use claw_spec::policy::{PolicyKind, generate};
use claw_spec::tools::ToolSpec;
use claw_spec::{Diagnostic, Overrides};

mod support;

const BASE: &str = "app: demo
stage: dev
region: us-east-1
account: \"123456789012\"
model:
  id: claude-sonnet-5
  api_key_secret: demo/key
agents:
  a:
    system: hi
    tools: [crm]
tools:
  crm:
    kind: mcp
";

fn load(extra: &str) -> Result<claw_spec::Config, Vec<Diagnostic>> {
    support::load(&format!("{BASE}{extra}"))
}

fn errors(extra: &str) -> Vec<Diagnostic> {
    support::errors(&format!("{BASE}{extra}"))
}

/// An error at `path`, at `line`, whose message contains `text`.
fn assert_error(extra: &str, path: &str, line: usize, text: &str) {
    support::assert_error(&format!("{BASE}{extra}"), path, line, text)
}

const SERVER: &str = "    url: https://mcp.example.com/sse
    auth: { secret: production/crm-mcp-token }
    allowed_tools: [get_lead, search_leads]
";

#[test]
fn an_mcp_tool_is_valid_and_needs_no_description() {
    let c = load(SERVER).unwrap();
    let ToolSpec::Mcp(m) = &c.tools["crm"].spec else {
        panic!("not an mcp tool: {:?}", c.tools["crm"]);
    };
    assert_eq!(m.url, "https://mcp.example.com/sse");
    assert_eq!(
        m.auth.as_ref().map(|a| a.secret.as_str()),
        Some("production/crm-mcp-token")
    );
    assert_eq!(
        m.allowed_tools.as_deref(),
        Some(&["get_lead".to_string(), "search_leads".to_string()][..])
    );
    assert_eq!(c.tools["crm"].description, "");
    // The bare minimum: a URL.
    load("    url: https://mcp.example.com/mcp\n").unwrap();
    // A description is allowed and kept.
    let c = load("    url: https://mcp.example.com/mcp\n    description: Our CRM\n").unwrap();
    assert_eq!(c.tools["crm"].description, "Our CRM");
}

#[test]
fn the_token_secret_is_readable_and_the_server_gets_no_aws_permission() {
    let c = load(SERVER).unwrap();
    assert_eq!(
        c.secret_names(),
        vec![
            "demo/key".to_string(),
            "production/crm-mcp-token".to_string()
        ]
    );
    let role = serde_json::to_value(generate(PolicyKind::Role, &c, None).unwrap()).unwrap();
    let text = role.to_string();
    assert!(
        text.contains("secret:production/crm-mcp-token-??????"),
        "{role:#}"
    );
    // No statement of its own: the API, not the function, calls the server.
    assert!(!text.contains("ToolCrm"), "{role:#}");
    let without = load("    url: https://mcp.example.com/sse\n").unwrap();
    let role = serde_json::to_value(generate(PolicyKind::Role, &without, None).unwrap()).unwrap();
    assert!(!role.to_string().contains("crm-mcp-token"), "{role:#}");
}

#[test]
fn the_url_must_be_public_https_without_credentials() {
    assert_error(
        "    url: http://mcp.example.com/sse\n",
        "tools.crm.url",
        15,
        "must start with `https://`",
    );
    assert_error(
        "    url: https://192.168.1.20/sse\n",
        "tools.crm.url",
        15,
        "is a private address",
    );
    assert_error(
        "    url: https://169.254.169.254/latest\n",
        "tools.crm.url",
        15,
        "the instance metadata service",
    );
    assert_error(
        "    url: https://localhost:8443/mcp\n",
        "tools.crm.url",
        15,
        "loopback",
    );
    assert_error(
        "    url: https://me:hunter2@mcp.example.com/sse\n",
        "tools.crm.url",
        15,
        "carries credentials",
    );
    assert_error("", "tools.crm", 13, "missing required key `url`");
}

#[test]
fn http_only_keys_do_not_apply() {
    assert_error(
        "    url: https://mcp.example.com/sse\n    auth: { secret: s/t, header: X-Key }\n",
        "tools.crm.auth.header",
        16,
        "the token is sent as `Authorization: Bearer <token>`",
    );
    assert_error(
        "    url: https://mcp.example.com/sse\n    method: POST\n",
        "tools.crm.method",
        16,
        "`method` does not apply to a `mcp` tool (it takes: url, auth, allowed_tools)",
    );
    assert_error(
        "    url: https://mcp.example.com/sse\n    input_schema: { type: object }\n",
        "tools.crm.input_schema",
        16,
        "the server describes its own tools",
    );
    assert_error(
        "    url: https://mcp.example.com/sse\n    allowed_tools: [get_lead, get_lead]\n",
        "tools.crm.allowed_tools",
        16,
        "`get_lead` is listed twice",
    );
}

#[test]
fn server_names_are_unique_and_valid_tool_names() {
    // Two servers of one name: the second definition is a duplicate key.
    let twice = format!("{SERVER}  crm:\n    kind: mcp\n    url: https://other.example.com/sse\n");
    let e = errors(&twice);
    assert!(
        e.iter().any(|d| d.message.contains("duplicate key `crm`")),
        "{e:#?}"
    );
    // The name is the server's name in the request: the API's tool-name rules.
    let text = BASE.replace("crm", "crm.v2");
    let e = claw_spec::load(
        "agent.yaml",
        &format!("{text}    url: https://mcp.example.com/sse\n"),
        &Overrides::default(),
        &|_| None,
    )
    .unwrap_err();
    assert!(
        e.iter()
            .any(|d| d.message.contains("`crm.v2` is not a valid tool name")),
        "{e:#?}"
    );
}

#[test]
fn an_allowed_tool_may_not_shadow_another_tool_of_the_agent() {
    let text = BASE.replace("tools: [crm]", "tools: [get_lead, crm]");
    let extra = format!(
        "{SERVER}  get_lead:\n    kind: http\n    description: Get a lead\n    url: https://crm.example.com/leads/{{id}}\n"
    );
    let e = claw_spec::load(
        "agent.yaml",
        &format!("{text}{extra}"),
        &Overrides::default(),
        &|_| None,
    )
    .unwrap_err();
    assert!(
        e.iter().any(|d| d.path == "agents.a.tools[1]"
            && d.message.contains("offers the tool `get_lead`")
            && d.message.contains("another of its tools")),
        "{e:#?}"
    );
}

#[test]
fn an_agent_on_bedrock_may_not_have_mcp_tools() {
    let text = BASE.replace(
        "    tools: [crm]",
        "    tools: [crm]\n    model: { provider: bedrock }",
    );
    let e = claw_spec::load(
        "agent.yaml",
        &format!("{text}{SERVER}"),
        &Overrides::default(),
        &|_| None,
    )
    .unwrap_err();
    assert!(
        e.iter().any(|d| d.path == "agents.a.tools[0]"
            && d.line == 11
            && d.message.contains("not available on Amazon Bedrock")),
        "{e:#?}"
    );
    // The same server for an agent on the Anthropic API is fine.
    load(SERVER).unwrap();
}

#[test]
fn http_tools_still_need_a_description_and_an_auth_header() {
    let text = BASE.replace("tools: [crm]", "tools: [h]").replace(
        "  crm:\n    kind: mcp\n",
        "  h:\n    kind: http\n    url: https://crm.example.com/x\n",
    );
    let run = |extra: &str| {
        claw_spec::load(
            "agent.yaml",
            &format!("{text}{extra}"),
            &Overrides::default(),
            &|_| None,
        )
        .unwrap_err()
    };
    let e = run("");
    assert!(
        e.iter().any(
            |d| d.path == "tools.h" && d.message.contains("missing required key `description`")
        ),
        "{e:#?}"
    );
    let e = run("    description: \" \"\n");
    assert!(
        e.iter()
            .any(|d| d.path == "tools.h.description"
                && d.message.contains("the description is empty")),
        "{e:#?}"
    );
    let e = run("    description: x\n    auth: { secret: s/t }\n");
    assert!(
        e.iter().any(
            |d| d.path == "tools.h.auth" && d.message.contains("missing required key `header`")
        ),
        "{e:#?}"
    );
}

#[test]
fn the_json_schema_describes_the_mcp_kind() {
    let schema = claw_spec::json_schema();
    let defs = &schema["$defs"];
    let kinds = defs["ToolKind"].to_string();
    assert!(kinds.contains("\"mcp\""), "{kinds}");
    let tool = &defs["Tool"];
    let required: Vec<&str> = tool["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(required, ["kind"], "{tool:#}");
    assert_eq!(
        tool["properties"]["allowed_tools"]["type"],
        serde_json::json!(["array", "null"]),
        "{tool:#}"
    );
    let auth = &defs["Auth"];
    assert_eq!(auth["required"], serde_json::json!(["secret"]), "{auth:#}");
    assert_eq!(auth["additionalProperties"], false);
    assert!(auth["properties"]["header"].is_object(), "{auth:#}");
}
