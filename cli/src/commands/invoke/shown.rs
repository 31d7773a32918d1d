//! A streamed answer as `claw invoke --stream` shows it, locally or from the
//! deployed function: text to stdout as it arrives, tool events to stderr.

use std::time::Duration;

/// A streamed answer as it is shown: text to stdout as it arrives (unless the
/// output is JSON), tool calls and results to stderr, the last event kept.
pub(super) struct Shown {
    pub(super) json: bool,
    pub(super) parser: claw_spec::sse::Parser,
    pub(super) events: u64,
    /// Reads handed over by the Runtime API: more than one shows the answer
    /// was not buffered whole.
    pub(super) chunks: u64,
    pub(super) text: String,
    pub(super) last: Option<(String, serde_json::Value)>,
    pub(super) first_byte: Option<std::time::Instant>,
    pub(super) broken: Option<String>,
}

impl Shown {
    pub(super) fn new(json: bool) -> Shown {
        Shown {
            json,
            parser: claw_spec::sse::Parser::default(),
            events: 0,
            chunks: 0,
            text: String::new(),
            last: None,
            first_byte: None,
            broken: None,
        }
    }

    pub(super) fn feed(&mut self, bytes: &[u8]) {
        use std::io::Write as _;
        self.first_byte.get_or_insert_with(std::time::Instant::now);
        self.chunks += 1;
        let events = match self.parser.feed(bytes) {
            Ok(e) => e,
            Err(e) => {
                self.broken.get_or_insert(e);
                return;
            }
        };
        for e in events {
            self.events += 1;
            let data: serde_json::Value =
                serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null);
            match e.event.as_str() {
                "text" => {
                    let t = data["text"].as_str().unwrap_or_default();
                    self.text.push_str(t);
                    if !self.json {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(t.as_bytes());
                        let _ = out.flush();
                    }
                }
                "tool_use" => eprintln!(
                    "[tool] {} ({})",
                    data["name"].as_str().unwrap_or("?"),
                    data["id"].as_str().unwrap_or("?")
                ),
                "tool_result" => eprintln!(
                    "[tool] {}: {}",
                    data["name"].as_str().unwrap_or("?"),
                    data["status"].as_str().unwrap_or("?")
                ),
                _ => {}
            }
            if matches!(e.event.as_str(), "done" | "error") {
                self.last = Some((e.event, data));
            }
        }
    }

    /// How the streamed answer failed, if it did: an `error` event, or (when
    /// the answer was a stream) no last event at all.
    pub(super) fn failure(&self, streamed: bool) -> Option<(String, String)> {
        match &self.last {
            Some((name, data)) if name == "error" => Some((
                "AgentError".into(),
                data["error"].as_str().unwrap_or("agent error").to_string(),
            )),
            None if streamed => Some((
                "Runtime.InvalidStreamingResponse".into(),
                "the stream ended without a done or error event".into(),
            )),
            _ => None,
        }
    }

    /// Ends the answer's line on stdout.
    pub(super) fn end(&self) {
        if !self.json && !self.text.is_empty() && !self.text.ends_with('\n') {
            println!();
        }
        if let Some(e) = &self.broken {
            eprintln!("warning: the stream could not be read to its end: {e}");
        }
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The report, failed with the function's error (type and message) when it
/// has one, which is also said on stderr.
pub(super) fn failed_with(
    out: crate::report::Printer,
    report: crate::report::Report,
    error: Option<(String, String)>,
) -> crate::report::Report {
    match error {
        None => report,
        Some((ty, msg)) => {
            let error = format!("the function failed: {ty}: {msg}");
            out.note(format_args!("error: {error}"));
            report.failed(error)
        }
    }
}
