//! A streaming caller's invocation: the same run as a buffered one, its text,
//! tool calls and tool results sent as they happen, and one last event, `done`
//! or `error`, carrying what the buffered answer would have.
//!
//! Lambda counts a streamed invocation as a success whatever the stream says
//! (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html),
//! so a failure is in the audit line and EMF like any other, never only in the
//! stream.

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::respond::{RunError, error_object};
use super::{App, Invocation};
use crate::audit::Audit;
use crate::event::{self, Event};
use crate::stream::{self, CHANNEL_DEPTH, Update};

impl App {
    /// Whether `payload` asks for a streamed answer: a direct invocation with
    /// `"stream": true`, or a request through a function URL (claw configures
    /// its URL in `RESPONSE_STREAM` mode).
    pub fn wants_stream(payload: &Value) -> bool {
        if payload["stream"] == Value::Bool(true) && payload.get("requestContext").is_none() {
            return true;
        }
        payload
            .pointer("/requestContext/domainName")
            .and_then(Value::as_str)
            .is_some_and(|d| d.contains(".lambda-url."))
    }

    /// Runs one streamed invocation, sending each event (`crate::stream`'s wire
    /// form) to `out`; the last is `done` or `error`. A caller that goes away
    /// does not stop the run: the session is still saved and the audit written.
    pub async fn handle_stream(&self, payload: Value, inv: &Invocation, out: mpsc::Sender<String>) {
        let started = Instant::now();
        let mut audit = Audit::new(&inv.request_id);
        let (tx, mut rx) = mpsc::channel::<Update>(CHANNEL_DEPTH);
        let run = async {
            let tx = tx;
            match event::detect(&payload) {
                Err(bad) => Err(RunError::from(bad)),
                Ok(ev) => {
                    audit.source = ev.source();
                    match ev {
                        Event::Direct(req) => match req {
                            Ok(r) => {
                                let agent = r.agent.clone().unwrap_or_default();
                                self.converse(&agent, &r, inv, &mut audit, Some(&tx), None)
                                    .await
                            }
                            Err(b) => Err(b.into()),
                        },
                        Event::Http(req) => match req.agent_request() {
                            Ok(r) => match self.agent_for(&req, &r) {
                                Ok(agent) => {
                                    self.converse(&agent, &r, inv, &mut audit, Some(&tx), None)
                                        .await
                                }
                                Err(e) => Err(e),
                            },
                            Err(b) => Err(b.into()),
                        },
                        _ => Err(RunError::BadRequest(
                            "only direct invocations and function URL requests can stream".into(),
                        )),
                    }
                }
            }
        };
        let forward = async {
            while let Some(update) = rx.recv().await {
                let _ = out.send(update.to_event()).await;
            }
        };
        let (result, ()) = tokio::join!(run, forward);
        let last = match result {
            Ok(answer) => {
                audit.status = 200;
                let mut done = answer.json();
                if let Some(o) = done.as_object_mut() {
                    o.remove("response");
                }
                stream::event("done", &done)
            }
            Err(e) => {
                self.note_error(&mut audit, &e);
                stream::event("error", &error_object(&e, &inv.request_id))
            }
        };
        let _ = out.send(last).await;
        drop(out);
        self.finish(audit, started, inv);
    }
}
