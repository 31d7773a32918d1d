//! What prompt caching saves on the example agent's tool loop: billed input per
//! invocation with `model.cache: off` and `5m`, from the usage the mock Messages
//! API reports when it plays the prompt cache (`testkit/src/mock_model/cache.rs`:
//! 4 bytes a token, the API's breakpoint and lookback rules, a 1024-token minimum
//! as for Sonnet-class models).
//!
//! "Billed-input-token equivalents" weigh each kind of prompt token by its price
//! relative to base input: uncached × 1, 5-minute writes × 1.25, 1-hour writes × 2,
//! reads × 0.1 (the published multipliers). Output is the same either way and is
//! left out.
//!
//! Scenarios, each a session of three invocations (the second and third continue
//! the conversation), each invocation the lead-qualifier's loop: model → get_lead,
//! model → lookup_company, model → answer:
//! 1. the example agent.yaml as it is (a short system prompt);
//! 2. the same agent with a production-sized system prompt (about 4,000 tokens of
//!    instructions and examples, as agent prompts often are).
//!
//! Run: `scripts/bench-cache` (or `cargo run --release -p agent-fn --example cache_savings`).

use std::time::Duration;

use agent_fn::agent::{self, Settings, ToolOutput, ToolRunner};
use agent_fn::anthropic::{Client, Message, RetryPolicy, ToolDef, Usage};
use agent_fn::backend::Backend;
use agent_fn::deadline::Deadline;
use agent_fn::tools::Toolbox;
use claw_spec::model::CacheTtl;
use claw_testkit::mock_model::{MockModel, MockOptions, Step};
use serde_json::{Value, json};

const KEY: &str = "sk-bench";

/// Tool results the size of a real CRM lead and company record.
struct Crm;

impl ToolRunner for Crm {
    async fn run(&self, name: &str, _input: &Value, _d: Deadline) -> ToolOutput {
        let filler = |n: usize| "x".repeat(n);
        match name {
            "get_lead" => ToolOutput::ok(&json!({
                "id": "L-42", "name": "Ada Lovelace", "email": "ada@example.com",
                "company": "example.com", "title": "Head of Engineering",
                "source": "webinar", "notes": filler(1200),
            })),
            _ => ToolOutput::ok(&json!({
                "domain": "example.com", "employees": 420, "industry": "software",
                "arr_usd": 12_000_000, "summary": filler(800),
            })),
        }
    }
}

fn script() -> Vec<Step> {
    vec![
        Step::tool_use("t1", "get_lead", json!({"lead_id": "L-42"})).with_usage(0, 40),
        Step::tool_use(
            "t2",
            "lookup_company",
            json!({"key": {"domain": "example.com"}}),
        )
        .with_usage(0, 40),
        Step::text("Score 82: a senior buyer at a growing software company.").with_usage(0, 30),
    ]
}

/// Billed-input-token equivalents of `u`.
fn weighted(u: &Usage) -> f64 {
    let (w5, w1) = u.writes_by_ttl();
    u.input_tokens as f64
        + 1.25 * w5 as f64
        + 2.0 * w1 as f64
        + 0.1 * u.cache_read_input_tokens as f64
}

async fn session(system: &str, tools: &[ToolDef], cache: CacheTtl) -> Vec<Usage> {
    let mock = MockModel::with_options(
        MockOptions {
            api_key: KEY.into(),
            expect_model: None,
            repeat: true,
            cache_min_tokens: Some(1024),
        },
        script(),
    );
    let client = Client::new(&mock.base_url(), RetryPolicy::default()).expect("client");
    let backend = Backend::Anthropic {
        client: &client,
        api_key: KEY,
    };
    let settings = Settings {
        model: "claude-sonnet-5",
        max_tokens: 4096,
        system,
        tools,
        max_tool_calls: 20,
        max_turns: 12,
        margin: Duration::from_secs(2),
        cache,
        min_cache_tokens: Some(1024),
        prices: None,
        gate: None,
        mcp: &[],
        sink: None,
        job: None,
        needs_approval: &[],
    };
    let allowed = vec!["get_lead".to_string(), "lookup_company".to_string()];
    let mut history: Vec<Message> = Vec::new();
    let mut out = Vec::new();
    for question in [
        "Qualify lead L-42.",
        "Would they buy the enterprise plan?",
        "Draft a one-line intro.",
    ] {
        agent::push_user_text(&mut history, question);
        let end = agent::run(
            &backend,
            &settings,
            &allowed,
            &Crm,
            history,
            Deadline::after(Duration::from_secs(60)),
        )
        .await
        .expect("the loop ran");
        history = end.messages;
        out.push(end.stats.usage);
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("agent.yaml")).expect("agent.yaml");
    let loaded = claw_spec::load("agent.yaml", &text, &Default::default(), &|_| None)
        .expect("agent.yaml is valid");
    let config = loaded.config;
    let agent = &config.agents["lead-qualifier"];
    let tools = Toolbox::definitions(&config, &agent.tools);
    let long = format!(
        "{}\n\n{}",
        agent.system,
        "Scoring rubric, worked examples and tone guide for qualifying leads. ".repeat(230)
    );
    println!("billed-input-token equivalents per invocation (input x1, 5m write x1.25, read x0.1)");
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>9}",
        "scenario", "invocation", "cache off", "cache 5m", "saved"
    );
    for (name, system) in [
        ("example agent.yaml", agent.system.as_str()),
        ("~4k-token system prompt", long.as_str()),
    ] {
        let off = session(system, &tools, CacheTtl::Off).await;
        let on = session(system, &tools, CacheTtl::FiveMinutes).await;
        let (mut t_off, mut t_on) = (0.0, 0.0);
        for (i, (a, b)) in off.iter().zip(&on).enumerate() {
            let (x, y) = (weighted(a), weighted(b));
            t_off += x;
            t_on += y;
            println!(
                "{name:<44} {:>10} {x:>10.0} {y:>10.0} {:>8.0}%",
                i + 1,
                100.0 * (1.0 - y / x)
            );
        }
        println!(
            "{:<44} {:>10} {t_off:>10.0} {t_on:>10.0} {:>8.0}%",
            format!("{name}, whole session"),
            "1-3",
            100.0 * (1.0 - t_on / t_off)
        );
        let reads: u64 = on.iter().map(|u| u.cache_read_input_tokens).sum();
        let writes: u64 = on.iter().map(|u| u.cache_creation_input_tokens).sum();
        println!("{:<44} cache 5m: {reads} tokens read, {writes} written", "");
    }
}
