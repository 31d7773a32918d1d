//! `claw validate`: parse and check agent.yaml, no network.

use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Context, _args: &Args) -> anyhow::Result<Exit> {
    let loaded = ctx.load_quiet()?;
    let c = &loaded.config;
    let names = claw_spec::Names::new(c);
    if ctx.json() {
        let v = serde_json::json!({
            "ok": true,
            "file": ctx.global.config.display().to_string(),
            "app": c.app,
            "stage": c.stage,
            "region": c.region,
            "function": names.function,
            "agents": c.agents.keys().collect::<Vec<_>>(),
            "tools": c.tools.keys().collect::<Vec<_>>(),
            "secrets": c.secret_names(),
            "warnings": loaded.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for w in &loaded.warnings {
            eprintln!("{}", w.headline());
        }
        println!(
            "OK {}: {} in {} ({} agent{}, {} tool{}, {} secret{}{})",
            ctx.global.config.display(),
            names.function,
            c.region,
            c.agents.len(),
            plural(c.agents.len()),
            c.tools.len(),
            plural(c.tools.len()),
            c.secret_names().len(),
            plural(c.secret_names().len()),
            if loaded.warnings.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} warning{}",
                    loaded.warnings.len(),
                    plural(loaded.warnings.len())
                )
            }
        );
    }
    Ok(Exit::Ok)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
