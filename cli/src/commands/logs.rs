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
    let mut totals = Totals::default();
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
                totals.add(&message);
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
    if !ctx.json() && totals.invocations > 0 {
        ctx.out.line(totals.line());
    }
    Ok(Report::new(serde_json::json!({
        "events": json_events,
        "invocations": totals.invocations,
        "cost_usd": round_usd(totals.cost_usd),
        "invocations_without_cost": totals.unpriced,
    })))
}

/// The audit lines seen: how many, and what they cost.
#[derive(Debug, Default)]
struct Totals {
    invocations: u64,
    cost_usd: f64,
    /// Audit lines with no `cost_usd` (a model with no price).
    unpriced: u64,
}

impl Totals {
    fn add(&mut self, message: &str) {
        let Some(v) = audit_json(message) else { return };
        self.invocations += 1;
        match v.get("cost_usd").and_then(serde_json::Value::as_f64) {
            Some(c) => self.cost_usd += c,
            None => self.unpriced += 1,
        }
    }

    fn line(&self) -> String {
        let n = self.invocations;
        let mut out = format!(
            "total: {n} invocation{}, ${:.6}",
            if n == 1 { "" } else { "s" },
            self.cost_usd
        );
        if self.unpriced > 0 {
            out.push_str(&format!(
                " ({} without a price for their model)",
                self.unpriced
            ));
        }
        out
    }
}

fn round_usd(usd: f64) -> f64 {
    (usd * 1_000_000.0).round() / 1_000_000.0
}

/// The JSON of an audit line, if `message` is one.
fn audit_json(message: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = message
        .find('{')
        .and_then(|i| serde_json::from_str(&message[i..]).ok())?;
    (v.get("type").and_then(|t| t.as_str()) == Some("audit")).then_some(v)
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
            let mut extra = String::new();
            let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            let (read, write) = (
                n("cache_read_input_tokens"),
                n("cache_creation_input_tokens"),
            );
            if read + write > 0 {
                extra.push_str(&format!(" cache={read}r/{write}w"));
            }
            if let Some(c) = v.get("cost_usd").and_then(serde_json::Value::as_f64) {
                extra.push_str(&format!(" cost=${c:.6}"));
            }
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                extra.push_str(&format!(" error={e}"));
            }
            Some(format!(
                "{when} {outcome:<9} agent={agent} session={session} {dur}ms tools={tools} tokens={tin}/{tout}{extra} request={req}",
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
    use super::{Totals, next_start, render};

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
    fn cost_and_cache_show_per_line_and_add_up() {
        let lines = [
            r#"{"type":"audit","request_id":"r1","agent":"a","outcome":"ok","duration_ms":9,"tool_calls":1,"input_tokens":5,"output_tokens":20,"cache_read_input_tokens":3000,"cache_creation_input_tokens":40,"cost_usd":0.00125}"#,
            r#"{"type":"audit","request_id":"r2","agent":"a","outcome":"error","duration_ms":3,"tool_calls":0,"input_tokens":0,"output_tokens":0,"error":"model_http_401"}"#,
            r#"2026-12-02T10:00:00Z r3 {"type":"audit","request_id":"r3","outcome":"ok","cost_usd":0.0005}"#,
            r#"{"_aws":{},"CostMicroUSD":999}"#,
        ];
        assert_eq!(
            render(0, lines[0], false, 0).unwrap(),
            "1970-01-01T00:00:00.000Z ok        agent=a session=- 9ms tools=1 tokens=5/20 cache=3000r/40w cost=$0.001250 request=r1"
        );
        assert!(
            render(0, lines[1], false, 0)
                .unwrap()
                .contains(" error=model_http_401 ")
        );
        let mut t = Totals::default();
        for l in lines {
            t.add(l);
        }
        assert_eq!((t.invocations, t.unpriced), (3, 1));
        assert!((t.cost_usd - 0.00175).abs() < 1e-12);
        assert_eq!(
            t.line(),
            "total: 3 invocations, $0.001750 (1 without a price for their model)"
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
