//! `claw invoke`: invoke the deployed function ([`remote`]), or run the built
//! package locally ([`local`]).

mod local;
mod record;
mod remote;
mod shown;

use std::path::PathBuf;

use crate::args::ArchArg;
use crate::context::Context;
use crate::ops::payload::EventSource;
use crate::report::Report;

/// Options of `claw invoke`; the command's help text is on `cli::Command::Invoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event: JSON text, @FILE to read it from a file, or - for stdin.
    #[arg(long, value_name = "JSON|@FILE", conflicts_with = "message")]
    pub payload: Option<String>,
    /// Send the direct-invoke event {"agent","message"} with this text.
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,
    /// The agent --message addresses; default: the first agent, alphabetically.
    #[arg(long, value_name = "NAME", requires = "message")]
    pub agent: Option<String>,
    /// A session id for --message, to continue a conversation.
    #[arg(long, value_name = "ID", requires = "message")]
    pub session: Option<String>,
    /// Run the built package on this machine instead of invoking the deployed function.
    #[arg(long)]
    pub local: bool,
    /// Ask for a streamed answer ("stream": true in the event) and print its text
    /// as it arrives; tool calls and results go to stderr. With --output json, the
    /// report holds the assembled text and the final `done` (or `error`) event.
    /// Without --local, through Lambda's InvokeWithResponseStream (the caller
    /// needs lambda:InvokeFunction, as for a plain invoke).
    #[arg(long)]
    pub stream: bool,
    /// Show the function's log output on stderr (remote: the last 4 KB Lambda
    /// returns; local: always shown).
    #[arg(long)]
    pub log: bool,
    /// Record the conversation to FILE for `claw test` to replay (with --local): the
    /// event, every model request and response, every tool call and its result. No
    /// header is kept, so no API key; MCP tokens are redacted. The model requests go
    /// to the real API (ANTHROPIC_BASE_URL, else api.anthropic.com) through claw.
    /// Usually FILE is tests/agents/NAME.json.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// (--local) Which built package to run; default `function.architecture`.
    #[arg(long, value_enum, requires = "local")]
    pub arch: Option<ArchArg>,
    /// (--local) Run this zip instead of packaging the current agent.yaml.
    #[arg(long, value_name = "PATH", requires = "local")]
    pub zip: Option<PathBuf>,
    /// (--local) Cross-build agent-fn from a claw checkout instead of the prebuilt
    /// function (the default inside a claw checkout).
    #[arg(long, requires = "local", conflicts_with = "zip")]
    pub from_source: bool,
}

impl Args {
    /// Where the event comes from.
    fn event_source(&self) -> EventSource<'_> {
        EventSource {
            payload: self.payload.as_deref(),
            message: self.message.as_deref(),
            agent: self.agent.as_deref(),
            session: self.session.as_deref(),
        }
    }
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    // agent.yaml is read once, and the event is checked before anything runs.
    let loaded = ctx.load()?;
    let mut payload = crate::ops::payload::event(&args.event_source(), &loaded.config)?;
    if args.record.is_some() {
        record::check(
            &loaded.config,
            args.local,
            args.stream,
            args.session.is_some(),
            &payload,
        )?;
    }
    if args.stream {
        payload = streamed(&payload)?;
    }
    if args.local {
        let local = local::Options {
            zip: args.zip.clone(),
            arch: args.arch.map(Into::into),
            from_source: args.from_source,
            stream: args.stream,
            record: args.record.clone(),
        };
        local::run(ctx, local, loaded.config, payload).await
    } else if args.stream {
        remote::run_stream(ctx, loaded.config, payload).await
    } else {
        remote::run(ctx, args.log, loaded.config, payload).await
    }
}

/// The event with `"stream": true`: the function answers it with server-sent
/// events. Only a direct-invoke event (a JSON object) can ask.
fn streamed(payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| anyhow::anyhow!("--stream: the event is not JSON: {e}"))?;
    let Some(obj) = v.as_object_mut() else {
        anyhow::bail!("--stream: the event must be a JSON object (a direct invoke)");
    };
    if obj.contains_key("requestContext") || obj.contains_key("Records") {
        anyhow::bail!(
            "--stream: only a direct-invoke event ({{\"agent\",\"message\"}}) can ask for a stream"
        );
    }
    obj.insert("stream".into(), serde_json::Value::Bool(true));
    Ok(serde_json::to_vec(&v)?)
}
