//! Server-sent events, read incrementally: the Messages API's stream (read by
//! the function) and the function's own (read by `claw invoke --stream`).
//!
//! [`Parser`] follows the WHATWG event-stream rules
//! (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
//! lines end in CR LF, LF or CR (a CR at the end of one chunk and an LF at the
//! start of the next are one line end); `:` starts a comment; `data` lines join
//! with LF; a blank line dispatches the event when it has data. It keeps only the
//! unfinished line and the event being built, never the stream so far. Its tests
//! (every byte boundary, any chunking, the fuzzer) are agent-fn's
//! (`anthropic::sse`), which runs it on the Messages API's stream.

/// One dispatched event: its `event` field (`message` when absent) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// The most bytes one line may take before the stream is judged corrupt: a
/// `data` line holds one JSON event, and the largest (a `message_start` or a
/// whole tool input) is far below this.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF first in this one is its pair.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl Parser {
    /// Feeds the next bytes; returns the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        if self.after_cr {
            self.after_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(i) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.line.extend_from_slice(&rest[..i]);
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut out);
            if rest[i] == b'\r' {
                match rest.get(i + 1) {
                    Some(b'\n') => rest = &rest[i + 2..],
                    Some(_) => rest = &rest[i + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[i + 1..];
            }
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE {
            return Err(format!("an event-stream line over {MAX_LINE} bytes"));
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            if self.has_data {
                out.push(Event {
                    event: if self.event.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut self.event)
                    },
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        // Line ends are ASCII, so no character is split across lines.
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` serve reconnection, which a model call never does.
            _ => {}
        }
    }
}
