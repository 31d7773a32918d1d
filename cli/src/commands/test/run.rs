//! Running cases: one warm function under replay (`CLAW_REPLAY_URL`, no AWS, no
//! tokens) for every recording, and, for `--update` and `--live`, one more that
//! talks to the real model through the recording server and runs its tools.

use std::time::{Duration, Instant};

use claw_spec::Config;
use serde_json::Value;

use super::cases::Case;
use crate::local::{InvocationResult, LocalFunction, LocalOptions, LogSink, Package};
use crate::ops::local::{self as ops_local, set_env};
use crate::replay::assert::Failure;
use crate::replay::server::{Divergence, Server, upstream};
use crate::replay::{Answer, Recording};

/// Lines of the function's log shown under a failed case.
const LOG_TAIL: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// What became of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    pub status: Status,
    /// One line: what was run, or why it failed or was skipped.
    pub summary: String,
    /// Where the replay left the recording.
    pub divergence: Option<DivergenceOut>,
    /// The rules of the assertion file that failed.
    pub failures: Vec<FailureOut>,
    /// The function's last log lines, for a failure.
    pub log: Vec<String>,
    pub model_requests: usize,
    pub tool_calls: usize,
    /// Written with `--update`.
    pub updated: bool,
    /// Live runs: model tokens spent (input of every kind, output).
    pub tokens: Option<(u64, u64)>,
    #[serde(skip)]
    pub duration: Duration,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DivergenceOut {
    pub request: usize,
    pub of: usize,
    pub detail: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FailureOut {
    pub file: String,
    pub rule: String,
    pub message: String,
}

impl Outcome {
    fn new(case: &Case, status: Status, summary: String) -> Outcome {
        Outcome {
            name: case.name.clone(),
            status,
            summary,
            divergence: None,
            failures: Vec::new(),
            log: Vec::new(),
            model_requests: 0,
            tool_calls: 0,
            updated: false,
            tokens: None,
            duration: Duration::ZERO,
        }
    }

    pub fn skipped(case: &Case, why: &str) -> Outcome {
        Outcome::new(case, Status::Skipped, why.to_string())
    }

    /// Adds the assertion file's failures, failing the case.
    fn check(&mut self, case: &Case, conversation: &Recording) {
        let Some((file, checks)) = &case.checks else {
            return;
        };
        let failed: Vec<Failure> = checks.check(conversation);
        if failed.is_empty() {
            return;
        }
        self.status = Status::Failed;
        self.summary = format!("{} check(s) in {} failed", failed.len(), file.display());
        self.failures = failed
            .into_iter()
            .map(|f| FailureOut {
                file: file.display().to_string(),
                rule: f.rule,
                message: f.message,
            })
            .collect();
    }
}

/// What one invocation came to.
enum Invoked {
    Answer(Answer),
    /// Why there is no answer, and the function's last log lines.
    Failed(String, Vec<String>),
}

/// The warm functions and the server they talk to.
pub struct Runner<'a> {
    config: &'a Config,
    pkg: &'a Package,
    server: Server,
    replaying: Option<LocalFunction>,
    live: Option<LocalFunction>,
}

impl<'a> Runner<'a> {
    pub fn new(config: &'a Config, pkg: &'a Package) -> anyhow::Result<Runner<'a>> {
        Ok(Runner {
            config,
            pkg,
            server: Server::start()?,
            replaying: None,
            live: None,
        })
    }

    /// Lambda's settings, the log kept, and the function pointed at the server:
    /// as the model (live), or as the model and every tool (replay).
    fn options(&self, live: bool) -> LocalOptions {
        let mut opts = ops_local::options(self.config, live);
        opts.logs = LogSink::Capture;
        if live {
            set_env(&mut opts, "ANTHROPIC_BASE_URL", &self.server.url());
        } else {
            set_env(&mut opts, "CLAW_REPLAY_URL", &self.server.url());
            // Nothing reaches AWS under replay, and nothing may: no credentials.
            opts.passthrough.retain(|(k, _)| !k.starts_with("AWS_"));
        }
        opts
    }

    /// Invokes the warm function of its kind (started on first use, and again
    /// after a timeout or crash) with `event`: the answer, or why there is none,
    /// and the function's log lines of this invocation.
    fn invoke(&mut self, live: bool, event: &Value) -> anyhow::Result<Invoked> {
        let idle = if live {
            self.live.is_none()
        } else {
            self.replaying.is_none()
        };
        let opts = idle.then(|| self.options(live));
        let slot = if live {
            &mut self.live
        } else {
            &mut self.replaying
        };
        if let Some(opts) = opts {
            *slot = Some(ops_local::start(self.pkg, &opts)?);
        }
        let Some(f) = slot.as_mut() else {
            unreachable!("started above")
        };
        let seen = f.logs().len();
        let report = f.invoke_as(&crate::local::new_request_id(), &serde_json::to_vec(event)?)?;
        let logs = f.logs();
        let log = tail(&logs[seen.min(logs.len())..]);
        if !report.outcome.is_ok() && !matches!(report.outcome, InvocationResult::FunctionError(_))
        {
            // Killed (timeout) or gone: the next case gets a new process.
            if let Some(f) = slot.take() {
                drop(f.stop());
            }
        }
        Ok(match &report.outcome {
            InvocationResult::Response(b) => {
                let v: Value = serde_json::from_slice(b).unwrap_or(Value::Null);
                match Answer::of(&v) {
                    Some(a) => Invoked::Answer(a),
                    None => {
                        Invoked::Failed(format!("the function answered with an error: {v}"), log)
                    }
                }
            }
            other => {
                let (t, m) = other.error(&report.request_id).unwrap_or_default();
                Invoked::Failed(format!("the function failed: {t}: {m}"), log)
            }
        })
    }

    /// Replays a recorded case.
    pub fn replay(&mut self, case: &Case) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let Some(recording) = &case.recording else {
            return Ok(Outcome::skipped(
                case,
                "no recording: run it with `claw test --live`, or record one with `claw invoke --local --record`",
            ));
        };
        self.server.replay(recording);
        let invoked = self.invoke(false, &recording.event)?;
        let replayed = self.server.replayed();
        let of = recording.exchanges.len();
        let mut out = Outcome::new(
            case,
            Status::Passed,
            format!(
                "replayed {} model request(s), {} tool call(s)",
                replayed.served, replayed.tools
            ),
        );
        out.model_requests = replayed.served;
        out.tool_calls = replayed.tools;
        let answer = match invoked {
            Invoked::Answer(a) => Some(a),
            Invoked::Failed(error, log) => {
                out.status = Status::Failed;
                out.summary = error;
                out.log = log;
                None
            }
        };
        if let Some(Divergence { request, detail }) = replayed.divergence {
            out.status = Status::Failed;
            out.summary = format!("diverged from the recording at model request {request} of {of}");
            out.divergence = Some(DivergenceOut {
                request,
                of,
                detail,
            });
            out.log.clear();
        } else if answer.is_some() && answer.as_ref() != Some(&recording.answer) {
            out.status = Status::Failed;
            out.summary = "the answer differs from the recording's".into();
            out.divergence = Some(DivergenceOut {
                request: of,
                of,
                detail: crate::replay::diff::requests(
                    &serde_json::to_value(&recording.answer)?,
                    &serde_json::to_value(&answer)?,
                ),
            });
        }
        if out.status == Status::Passed
            && let Some(a) = answer
        {
            let mut conversation = recording.clone();
            conversation.answer = a;
            out.check(case, &conversation);
        }
        out.duration = started.elapsed();
        Ok(out)
    }

    /// Runs the case's event against the real model (tools run for real), as a
    /// recording. `Err` is the case's failure, said in one line.
    fn live(&mut self, event: &Value) -> anyhow::Result<Result<Recording, (String, Vec<String>)>> {
        self.server.record(&upstream());
        let invoked = self.invoke(true, event)?;
        let exchanges = self.server.recorded();
        Ok(match invoked {
            Invoked::Failed(error, log) => Err((error, log)),
            Invoked::Answer(answer) => {
                let agent = event["agent"].as_str().unwrap_or_default();
                Ok(Recording::new(agent, event.clone(), exchanges, answer))
            }
        })
    }

    /// `--live`: runs the case's checks on a new conversation.
    pub fn check_live(&mut self, case: &Case) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let event = match case.live_event() {
            Ok(e) => e,
            Err(e) => return Ok(Outcome::new(case, Status::Failed, e.to_string())),
        };
        let mut out = match self.live(&event)? {
            Err((error, log)) => {
                let mut o = Outcome::new(case, Status::Failed, error);
                o.log = log;
                o
            }
            Ok(conversation) => {
                let mut o = Outcome::new(
                    case,
                    Status::Passed,
                    format!(
                        "live: {} model request(s), {} tool call(s)",
                        conversation.exchanges.len(),
                        conversation.tools.len()
                    ),
                );
                o.model_requests = conversation.exchanges.len();
                o.tool_calls = conversation.tools.len();
                o.tokens = Some(conversation.tokens());
                o.check(case, &conversation);
                o
            }
        };
        out.duration = started.elapsed();
        Ok(out)
    }

    /// `--update`: records the case again with the real model and writes it.
    pub fn update(&mut self, case: &Case, failed: &mut Outcome) -> anyhow::Result<()> {
        let event = match &case.recording {
            Some(r) => r.event.clone(),
            None => return Ok(()),
        };
        match self.live(&event)? {
            Err((error, log)) => {
                failed.summary = format!("{}; not updated: {error}", failed.summary);
                failed.log = log;
            }
            Ok(recording) => {
                recording.write(&case.recording_path)?;
                failed.tokens = Some(recording.tokens());
                failed.model_requests = recording.exchanges.len();
                failed.tool_calls = recording.tools.len();
                failed.updated = true;
                failed.status = Status::Passed;
                failed.failures.clear();
                failed.summary = format!(
                    "re-recorded {} ({} model request(s), {} tool call(s))",
                    case.recording_path.display(),
                    recording.exchanges.len(),
                    recording.tools.len()
                );
                failed.check(case, &recording);
            }
        }
        Ok(())
    }

    pub fn stop(self) {
        for f in [self.replaying, self.live].into_iter().flatten() {
            drop(f.stop());
        }
    }
}

fn tail(lines: &[String]) -> Vec<String> {
    lines[lines.len().saturating_sub(LOG_TAIL)..].to_vec()
}
