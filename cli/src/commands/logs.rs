//! `claw logs`: the function's log events, with audit lines made readable.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::aws::AwsResultExt;
use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing new events until interrupted (polls every 2 s).
    #[arg(long, short)]
    pub follow: bool,
    /// How far back to start: `30s`, `10m`, `2h`, `1d`.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Only events containing this text (a CloudWatch Logs term match).
    #[arg(long)]
    pub filter: Option<String>,
    /// Print raw messages, without rendering audit lines.
    #[arg(long)]
    pub raw: bool,
}

/// One event, as printed in JSON output.
#[derive(Debug, serde::Serialize)]
struct Event {
    timestamp: i64,
    message: String,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let names = claw_spec::Names::new(&loaded.config);
    let aws = crate::ops::account::connect(&loaded.config).await?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let since = now_ms - args.since.as_millis() as i64;
    let mut start = since;
    // The newest event seen so far; each poll starts a little before it.
    let mut newest = since;
    // Event ids already printed; bounded, since follow mode runs for hours.
    let mut seen: HashSet<String> = HashSet::new();
    let mut order: VecDeque<String> = VecDeque::new();
    let filter = args
        .filter
        .as_ref()
        .map(|t| format!("\"{}\"", t.replace('"', "\\\"")));
    let mut json_events = Vec::new();
    loop {
        let mut token: Option<String> = None;
        loop {
            let out = aws
                .logs
                .filter_log_events()
                .log_group_name(&names.log_group)
                .start_time(start)
                .set_filter_pattern(filter.clone())
                .set_next_token(token.clone())
                .send()
                .await
                .ctx("FilterLogEvents", &names.log_group)?;
            for e in out.events() {
                let id = e.event_id().unwrap_or_default().to_string();
                if !seen.insert(id.clone()) {
                    continue;
                }
                order.push_back(id);
                if order.len() > 10_000
                    && let Some(old) = order.pop_front()
                {
                    seen.remove(&old);
                }
                let ts = e.timestamp().unwrap_or_default();
                newest = newest.max(ts);
                let message = e.message().unwrap_or_default().trim_end().to_string();
                if ctx.json() {
                    json_events.push(Event {
                        timestamp: ts,
                        message,
                    });
                } else if let Some(line) = render(ts, &message, args.raw, ctx.verbose()) {
                    ctx.out.line(line);
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        if !args.follow {
            break;
        }
        start = next_start(since, newest);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(Report::new(serde_json::json!({ "events": json_events })))
}

/// How far back a follow-up poll re-reads: CloudWatch Logs makes an event
/// searchable some time after its timestamp (ingestion is asynchronous, and
/// batches arrive late), so starting exactly at the newest event seen would skip
/// events that arrive later with an earlier timestamp. Repeats are dropped by
/// event id.
const LATE_ARRIVALS_MS: i64 = 60_000;

/// The start time of the next poll: a minute before the newest event seen, never
/// before `--since`.
fn next_start(since: i64, newest: i64) -> i64 {
    (newest - LATE_ARRIVALS_MS).max(since)
}

fn timestamp(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// One printable line for an event, or `None` to hide it (EMF metric blobs unless
/// `-v`). Audit lines become `time outcome agent session duration tools tokens`.
pub fn render(ts: i64, message: &str, raw: bool, verbose: u8) -> Option<String> {
    let when = timestamp(ts);
    if raw {
        return Some(format!("{when} {message}"));
    }
    let json = message
        .find('{')
        .and_then(|i| serde_json::from_str::<serde_json::Value>(&message[i..]).ok());
    match json {
        Some(v) if v.get("_aws").is_some() => {
            (verbose > 0).then(|| format!("{when} [metrics] {message}"))
        }
        Some(v) if v.get("type").and_then(|t| t.as_str()) == Some("audit") => {
            let s = |k: &str| {
                v.get(k)
                    .map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| "-".into())
            };
            Some(format!(
                "{when} {outcome:<9} agent={agent} session={session} {dur}ms tools={tools} tokens={tin}/{tout} request={req}",
                outcome = s("outcome"),
                agent = s("agent"),
                session = s("session_id"),
                dur = s("duration_ms"),
                tools = s("tool_calls"),
                tin = s("input_tokens"),
                tout = s("output_tokens"),
                req = s("request_id"),
            ))
        }
        _ => Some(format!("{when} {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{next_start, render};

    #[test]
    fn follow_polls_re_read_the_last_minute() {
        // An event at t=100 s seen: the next poll starts at 40 s, so an event
        // stamped 90 s that arrives late is still found.
        assert_eq!(next_start(0, 100_000), 40_000);
        // Never before --since.
        assert_eq!(next_start(70_000, 100_000), 70_000);
    }

    #[test]
    fn audit_lines_are_one_readable_line() {
        let line = render(
            0,
            r#"{"type":"audit","request_id":"r1","session_id":"s1","agent":"a","outcome":"ok","duration_ms":12,"tool_calls":2,"input_tokens":10,"output_tokens":20}"#,
            false,
            0,
        )
        .unwrap();
        assert_eq!(
            line,
            "1970-01-01T00:00:00.000Z ok        agent=a session=s1 12ms tools=2 tokens=10/20 request=r1"
        );
    }

    #[test]
    fn metric_blobs_hide_unless_verbose() {
        let emf = r#"{"_aws":{"Timestamp":1},"Invocations":1}"#;
        assert_eq!(render(0, emf, false, 0), None);
        assert!(render(0, emf, false, 1).unwrap().contains("[metrics]"));
        assert_eq!(
            render(0, "plain", false, 0).unwrap(),
            "1970-01-01T00:00:00.000Z plain"
        );
    }
}
