//! The agent loop: ask the model, run the tools it asks for, give it the results,
//! until it is done or a limit, the deadline or a terminal stop reason ends the run.

use std::future::Future;
use std::time::{Duration, SystemTime};

use futures::future::join_all;
use serde_json::{Value, json};

use claw_spec::model::CacheTtl;
use claw_spec::pricing::Prices;

use crate::anthropic::{Block, Message, ModelError, Role, ToolDef};
use crate::backend::Backend;
use crate::budget::Gate;
use crate::checkpoint::{self, Checkpoint, Ended, Journal};
use crate::deadline::{Deadline, now_epoch_ms};
use crate::mcp;
pub use crate::outcome::{MAX_TOOL_RESULT_BYTES, Stats, Stop, ToolOutput, Waiting};
use crate::request::{self, Shape};
use crate::stream::{self, Sink, Update};
use crate::trace::Span;

/// Runs tools by name. The loop has already checked the agent may call `name`.
pub trait ToolRunner {
    fn run(
        &self,
        name: &str,
        input: &Value,
        deadline: Deadline,
    ) -> impl Future<Output = ToolOutput>;
}

/// Everything that shapes one run besides the conversation.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    pub system: &'a str,
    /// The tools the agent may call, as sent to the model.
    pub tools: &'a [ToolDef],
    pub max_tool_calls: u32,
    pub max_turns: u32,
    /// Stop this long before the deadline, leaving time to save and answer.
    pub margin: Duration,
    /// Prompt caching (see `crate::request`).
    pub cache: CacheTtl,
    pub min_cache_tokens: Option<u32>,
    /// Prices for `Stats::cost_usd`; `None` leaves the cost unknown.
    pub prices: Option<Prices>,
    /// Asked before each model call, told each call's usage (token budgets).
    pub gate: Option<&'a dyn Gate>,
    /// The agent's MCP servers, which the API calls itself.
    pub mcp: &'a [mcp::Server],
    /// A streaming caller's channel: text, tool calls and tool results as
    /// they happen (see `crate::stream`).
    pub sink: Option<&'a Sink>,
    /// Tools whose calls wait for a person's approval (`approval: required`):
    /// in a job the run stops before one; elsewhere it is not run.
    pub needs_approval: &'a [String],
    /// An async job's checkpoints: where the run resumes from, and where it
    /// records each model turn and tool result (see `crate::checkpoint`).
    pub job: Option<JobState<'a>>,
}

/// The checkpoint side of a job's run.
#[derive(Debug, Clone, Copy)]
pub struct JobState<'a> {
    pub journal: &'a dyn Journal,
    /// The checkpoint this invocation resumes from; `None` for the first.
    pub resume: Option<&'a Checkpoint>,
}

/// How a run that did not fail ended: why it stopped, and what it leaves.
#[derive(Debug)]
pub struct LoopEnd {
    pub stop: Stop,
    /// The text of the last assistant turn.
    pub text: String,
    /// The whole conversation, ready to be stored: it never ends on an unanswered
    /// `tool_use`, so the next turn of the session is a valid request.
    pub messages: Vec<Message>,
    pub stats: Stats,
}

/// A run the model client ended, with the counters up to that point.
#[derive(Debug)]
pub struct Failure {
    pub error: ModelError,
    pub stats: Stats,
}

/// Appends the user's message. Consecutive user turns are merged so that history
/// ending on tool results (a run stopped at a limit) stays a valid conversation.
pub fn push_user_text(messages: &mut Vec<Message>, text: &str) {
    let block = json!({"type": "text", "text": text});
    match messages.last_mut() {
        Some(m) if m.role == Role::User => m.content.push(block),
        _ => messages.push(Message::user_text(text)),
    }
}

/// Runs the loop on `messages` (history plus the new user turn).
pub async fn run<R: ToolRunner>(
    backend: &Backend<'_>,
    settings: &Settings<'_>,
    allowed: &[String],
    runner: &R,
    mut messages: Vec<Message>,
    deadline: Deadline,
) -> Result<LoopEnd, Failure> {
    let resume = settings.job.and_then(|j| j.resume);
    if let Some(Checkpoint {
        ended: Some(end),
        progress,
        ..
    }) = resume
    {
        // The last turn ended the run before the job could record its answer.
        return Ok(LoopEnd {
            stop: end.stop(),
            text: checkpoint::last_text(&messages),
            messages,
            stats: Stats {
                refusal_category: end.refusal_category.clone(),
                ..progress.stats()
            },
        });
    }
    let mut stats = match resume {
        Some(c) => c.progress.stats(),
        None => Stats {
            cost_usd: settings.prices.map(|_| 0.0),
            ..Stats::default()
        },
    };
    let journal = settings.job.map(|j| j.journal);
    let tools_done = resume.map(|c| &c.tools_done);
    let approvals = resume.map(|c| &c.approvals);
    // A resumed run whose last step was a model turn asking for tools runs them
    // first (those with a checkpointed result are not run again).
    let mut pending = resume
        .map(|_| checkpoint::pending_calls(&messages))
        .filter(|c| !c.is_empty());
    let mut text = String::new();
    let shape = Shape {
        model: settings.model,
        max_tokens: settings.max_tokens,
        system: settings.system,
        tools: settings.tools,
        cache: settings.cache,
        min_cache_tokens: settings.min_cache_tokens,
        mcp: settings.mcp,
    };
    let betas = request::betas(&shape);
    let mut mark = resume.and_then(|c| c.cache_mark);
    // Prompt tokens the last call counted against the input limit.
    let mut last_prompt = 0u64;
    let stop = loop {
        let calls = if let Some(calls) = pending.take() {
            calls
        } else {
            if stats.turns >= settings.max_turns {
                break Stop::MaxTurns;
            }
            if deadline.budget(settings.margin).is_zero() {
                break Stop::Deadline;
            }
            if let Some(gate) = settings.gate
                && let Err(denied) = gate.check().await
            {
                break Stop::Budget(denied);
            }
            wait_for_rate_limit(backend, &mut stats, last_prompt, deadline, settings.margin).await;
            let (body, next_mark) = request::body(&shape, &messages, mark);
            let started = SystemTime::now();
            let reply = backend
                .create(&body, betas, deadline, settings.margin, settings.sink)
                .await;
            let reply = match reply {
                Ok(r) => r,
                Err(error) => {
                    stats
                        .spans
                        .push(Span::model(started, SystemTime::now(), false));
                    match error {
                        // Out of time after at least one turn: answer with what there is.
                        ModelError::Deadline { .. } if stats.turns > 0 => break Stop::Deadline,
                        error => return Err(Failure { error, stats }),
                    }
                }
            };
            mark = next_mark;
            if let Some(gate) = settings.gate {
                gate.charge(reply.response.usage).await;
            }
            stats.spans.push(Span {
                input_tokens: reply.response.usage.input_tokens,
                output_tokens: reply.response.usage.output_tokens,
                stop_reason: reply.response.stop_reason.clone(),
                attempts: reply.attempts,
                ..Span::model(started, SystemTime::now(), true)
            });
            stats.turns += 1;
            let usage = reply.response.usage;
            stats.usage.add(usage);
            if let (Some(total), Some(p)) = (stats.cost_usd.as_mut(), settings.prices) {
                *total += p.cost_usd(&usage.tokens());
            }
            last_prompt = usage.input_tokens + usage.cache_creation_input_tokens;
            stats.ratelimit = reply.ratelimit;
            stats.model_latency += reply.latency;
            let refusal = reply.response.refusal_category().map(str::to_string);
            let content: Vec<Value> = reply
                .response
                .content
                .into_iter()
                // Only well-formed blocks go back; the API rejects anything without a type.
                .filter(|b| b.get("type").and_then(Value::as_str).is_some())
                .collect();
            stats.mcp_calls += mcp::calls(&content);
            text = content
                .iter()
                .filter_map(|b| match Block::of(b) {
                    Block::Text(t) => Some(t),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("");
            let calls: Vec<(String, String, Value)> = content
                .iter()
                .filter_map(|b| match Block::of(b) {
                    Block::ToolUse { id, name, input } => {
                        Some((id.to_string(), name.to_string(), input.clone()))
                    }
                    _ => None,
                })
                .collect();
            if !content.is_empty() {
                messages.push(Message {
                    role: Role::Assistant,
                    content,
                });
            }
            let reason = reply.response.stop_reason.as_deref().unwrap_or("end_turn");
            let end = match reason {
                "tool_use" if calls.is_empty() => Some(Stop::EndTurn),
                r => Stop::from_model(r),
            };
            if end == Some(Stop::Refusal) {
                stats.refusal_category = refusal;
            }
            if let Some(j) = journal {
                let ended = end.as_ref().map(|stop| Ended {
                    stop_reason: stop.as_str().to_string(),
                    refusal_category: stats.refusal_category.clone(),
                });
                if let Err(e) = j.turn(&messages, &stats, mark, ended).await {
                    break Stop::Checkpoint(e);
                }
            }
            if let Some(stop) = end {
                break stop;
            }
            if reason == "pause_turn" {
                // A server-side loop paused: send the conversation back as it is
                // (ending on the assistant's turn) and the model carries on.
                continue;
            }
            calls
        };
        if stats.turns >= settings.max_turns {
            break Stop::MaxTurns;
        }
        if deadline.budget(settings.margin).is_zero() {
            break Stop::Deadline;
        }

        // Run what the agent may call, within the budget, all at once.
        let budget = settings.max_tool_calls.saturating_sub(stats.tool_calls) as usize;
        let mut over_budget = false;
        let mut planned: Vec<Result<(&str, &str, &Value), ToolOutput>> = Vec::new();
        let mut runs = 0usize;
        let mut waits_at = None;
        for (id, name, input) in &calls {
            let decided = approvals.and_then(|a| a.get(id.as_str())).copied();
            let asks = settings.needs_approval.iter().any(|a| a == name)
                && !tools_done.is_some_and(|d| d.contains_key(id.as_str()));
            if !allowed.iter().any(|a| a == name) {
                planned.push(Err(ToolOutput::error(format!(
                    "the tool `{name}` is not available to this agent"
                ))));
            } else if asks && journal.is_none() {
                planned.push(Err(ToolOutput::error(format!(
                    "not run: `{name}` waits for a person's approval, which only an async job (POST /jobs) can do"
                ))));
            } else if asks && decided == Some(false) {
                planned.push(Err(ToolOutput::error(
                    "not run: a person rejected this call",
                )));
            } else if asks && decided.is_none() && waits_at.is_none() {
                // The job stops here; the calls before this one run first.
                waits_at = Some((
                    planned.len(),
                    Waiting {
                        tool_use_id: id.clone(),
                        tool: name.clone(),
                        input: input.to_string(),
                    },
                ));
                planned.push(Err(ToolOutput::error("not run: waiting for approval")));
            } else if runs >= budget {
                over_budget = true;
                planned.push(Err(ToolOutput::error(
                    "not run: the tool call limit for this request is reached",
                )));
            } else {
                runs += 1;
                planned.push(Ok((id.as_str(), name.as_str(), input)));
            }
        }
        stats.tool_calls += runs as u32;
        let exec = |p| async move {
            match p {
                Ok((id, name, input)) => {
                    if let Some(saved) = tools_done.and_then(|d| d.get(id)) {
                        // Its result is checkpointed: it ran, and never runs again.
                        return (ToolOutput::from(saved), None, Ok(()));
                    }
                    let started = SystemTime::now();
                    let out = runner.run(name, input, deadline).await;
                    let span = Span::tool(name, started, SystemTime::now(), !out.is_error);
                    let saved = match journal {
                        Some(j) => j.tool(id, &out).await,
                        None => Ok(()),
                    };
                    (out, Some(span), saved)
                }
                Err(refused) => (refused, None, Ok(())),
            }
        };
        let timed = if journal.is_some() {
            // A job runs its calls one at a time, each checkpointed before the
            // next starts: a crash can repeat only the one call in flight.
            let mut timed = Vec::with_capacity(planned.len());
            let stop_at = waits_at.as_ref().map_or(usize::MAX, |(i, _)| *i);
            for p in planned.into_iter().take(stop_at) {
                let done = exec(p).await;
                let failed = done.2.is_err();
                timed.push(done);
                if failed {
                    break;
                }
            }
            timed
        } else {
            join_all(planned.into_iter().map(exec)).await
        };
        let mut outputs = Vec::with_capacity(timed.len());
        let mut unsaved = None;
        for (out, span, saved) in timed {
            outputs.push(out);
            stats.spans.extend(span);
            if let Err(e) = saved {
                unsaved.get_or_insert(e);
            }
        }
        if let Some(e) = unsaved {
            break Stop::Checkpoint(e);
        }
        if let Some((_, waiting)) = waits_at {
            break Stop::AwaitingApproval(waiting);
        }
        for ((id, name, _), out) in calls.iter().zip(&outputs) {
            let update = Update::ToolResult {
                id: id.clone(),
                name: name.clone(),
                ok: !out.is_error,
            };
            stream::send(settings.sink, update).await;
        }
        let results: Vec<Value> = calls
            .iter()
            .zip(outputs)
            .map(|((id, _, _), out)| tool_result(id, out))
            .collect();
        messages.push(Message {
            role: Role::User,
            content: results,
        });
        if over_budget {
            break Stop::MaxToolCalls;
        }
    };
    answer_dangling_tool_uses(&mut messages, &stop);
    Ok(LoopEnd {
        stop,
        text,
        messages,
        stats,
    })
}

/// Waits for a spent rate limit to reset when the last reply said the next call
/// would be refused, if the wait fits the budget and is not absurd (the same cap
/// as a server's `retry-after`); else the call goes ahead and a 429 is retried.
async fn wait_for_rate_limit(
    backend: &Backend<'_>,
    stats: &mut Stats,
    prompt_tokens: u64,
    deadline: Deadline,
    margin: Duration,
) {
    let Some(wait) = stats.ratelimit.wait_before(prompt_tokens, now_epoch_ms()) else {
        return;
    };
    if wait <= backend.retry().max_server_delay && wait < deadline.budget(margin) {
        tokio::time::sleep(wait).await;
        stats.ratelimit_wait += wait;
    }
}

fn tool_result(id: &str, out: ToolOutput) -> Value {
    let mut v = json!({
        "type": "tool_result",
        "tool_use_id": id,
        "content": out.content,
    });
    if out.is_error {
        v["is_error"] = Value::Bool(true);
    }
    v
}

/// A run that stopped right after the model asked for tools leaves `tool_use`
/// blocks without results; the API would reject the session's next request. Answer
/// them with errors saying why they did not run.
fn answer_dangling_tool_uses(messages: &mut Vec<Message>, stop: &Stop) {
    let Some(last) = messages.last() else { return };
    if last.role != Role::Assistant {
        return;
    }
    let ids: Vec<String> = last
        .content
        .iter()
        .filter_map(|b| match Block::of(b) {
            Block::ToolUse { id, .. } => Some(id.to_string()),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return;
    }
    let why = format!("not run: the request stopped ({})", stop.as_str());
    let results = ids
        .iter()
        .map(|id| tool_result(id, ToolOutput::error(why.clone())))
        .collect();
    messages.push(Message {
        role: Role::User,
        content: results,
    });
}

#[cfg(test)]
mod tests;
