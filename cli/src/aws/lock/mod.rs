//! The deploy lock: one writer per app and stage, with no extra infrastructure.
//!
//! The lock lives in the log group `/claw/locks/{app}-{stage}` as numbered
//! streams `lock-1`, `lock-2`, …; the highest number is the lock. Its holder
//! writes a heartbeat event (who, where, since when) every [`HEARTBEAT`], and a
//! release event when done. The lock is free when there is no stream, when the
//! highest one's last event is a release, or when it is stale: nothing newer than
//! [`STALE_AFTER`] shows (its creation counts as a sign of life, so a holder whose
//! first heartbeat is still being ingested is not mistaken for a dead one), or
//! its holder is a process of this machine that no longer runs.
//!
//! Taking a free lock creates the next number's stream. CreateLogStream is atomic
//! per name (a second create fails with ResourceAlreadyExistsException), so of
//! several runs that found the same lock free or stale exactly one gets the next
//! number; the others see a live lock. The winner then checks that no higher
//! number appeared (a run that read an older state may create a lower one) and
//! deletes the lower streams. Nothing ever deletes the highest stream, so numbers
//! only grow: a takeover never removes a lock another run just took.
//! `claw unlock` writes a release event on the highest stream. A stream `lock`
//! left by an earlier claw counts as number 0.
//!
//! Only deploys that change something take the lock, so a deploy with nothing to
//! do stays read-only.

mod host;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde::{Deserialize, Serialize};

use claw_spec::Names;

use super::Aws;
use super::error::{AwsErrorExt, AwsResultExt, aws_error};

/// The streams' name: `lock-<n>`; an earlier claw's `lock` is number 0.
pub const STREAM: &str = "lock";
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// A lock with no sign of life (heartbeat, or its stream's creation) this long is
/// stale: four and a half heartbeats, so ingestion lag and clock skew of tens of
/// seconds cannot make a live holder look dead.
pub const STALE_AFTER: Duration = Duration::from_secs(90);
/// How long a contender waits between looks at a held lock.
const POLL: Duration = Duration::from_secs(2);

/// The name of the stream of lock number `n`.
pub fn stream_name(n: u64) -> String {
    if n == 0 {
        STREAM.to_string()
    } else {
        format!("{STREAM}-{n}")
    }
}

/// The lock number of a stream name, when it is one of the lock's streams.
pub fn generation(name: &str) -> Option<u64> {
    if name == STREAM {
        return Some(0);
    }
    let n = name.strip_prefix(STREAM)?.strip_prefix('-')?;
    if n.starts_with('0') || n.starts_with('+') {
        return None;
    }
    n.parse().ok()
}

/// Who holds the lock, as written in its heartbeat events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub command: String,
    pub host: String,
    pub pid: u32,
    pub since_ms: i64,
    /// Set in the event that releases the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_ms: Option<i64>,
}

impl Holder {
    fn me(command: &str) -> Holder {
        Holder {
            command: command.to_string(),
            host: host::hostname().unwrap_or_else(|| host::UNKNOWN_HOST.into()),
            pid: std::process::id(),
            since_ms: now_ms(),
            released_ms: None,
        }
    }

    /// A holder on this machine whose process is gone cannot be deploying.
    fn is_dead_here(&self) -> bool {
        host::dead_here(&self.host, self.pid, host::hostname().as_deref())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

fn ago(ms: i64) -> String {
    let secs = ((now_ms() - ms).max(0) / 1000) as u64;
    if secs < 120 {
        format!("{secs} s ago")
    } else {
        format!("{} min ago", secs / 60)
    }
}

/// A held lock. Call [`Lock::release`] when done; if the process dies instead,
/// the heartbeat stops and the lock goes stale.
pub struct Lock {
    aws: Aws,
    group: String,
    stream: String,
    me: Arc<Holder>,
    heartbeat: tokio::task::JoinHandle<()>,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub struct Held {
    pub function: String,
    pub holder: Option<Holder>,
    pub last_beat_ms: Option<i64>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another claw command holds the deploy lock of {}",
            self.function
        )?;
        if let Some(h) = &self.holder {
            write!(
                f,
                " (`claw {}` on {} pid {}, started {}",
                h.command,
                h.host,
                h.pid,
                ago(h.since_ms)
            )?;
            if let Some(b) = self.last_beat_ms {
                write!(f, ", last heartbeat {}", ago(b))?;
            }
            write!(f, ")")?;
        }
        write!(
            f,
            ". Wait for it to finish, or retry with --lock-timeout 5m. If it died, the lock \
             clears itself {} s after its last heartbeat; to clear it now: claw unlock",
            STALE_AFTER.as_secs()
        )
    }
}

impl std::error::Error for Held {}

async fn ensure_group(
    aws: &Aws,
    group: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let mut req = aws.logs.create_log_group().log_group_name(group);
    for (k, v) in tags {
        req = req.tags(k, v);
    }
    match req.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
        Err(e) => return Err(aws_error("CreateLogGroup", group, e).into()),
    }
    Ok(())
}

async fn put(aws: &Aws, group: &str, stream: &str, holder: &Holder) -> anyhow::Result<()> {
    let event = InputLogEvent::builder()
        .timestamp(now_ms())
        .message(serde_json::to_string(holder)?)
        .build()
        .map_err(|e| anyhow::anyhow!("building the lock heartbeat: {e}"))?;
    aws.logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .log_events(event)
        .send()
        .await
        .ctx("PutLogEvents", format!("{group}:{stream}"))?;
    Ok(())
}

/// One of the lock's streams.
#[derive(Debug, Clone)]
struct Stream {
    generation: u64,
    name: String,
    created_ms: Option<i64>,
}

/// The lock's streams, lowest number first; `None` when the group does not exist.
async fn streams(aws: &Aws, group: &str) -> anyhow::Result<Option<Vec<Stream>>> {
    let mut out = Vec::new();
    let mut pages = aws
        .logs
        .describe_log_streams()
        .log_group_name(group)
        .log_stream_name_prefix(STREAM)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = page.ctx("DescribeLogStreams", group).optional()? else {
            return Ok(None);
        };
        for s in page.log_streams() {
            let Some(name) = s.log_stream_name() else {
                continue;
            };
            if let Some(generation) = generation(name) {
                out.push(Stream {
                    generation,
                    name: name.to_string(),
                    created_ms: s.creation_time(),
                });
            }
        }
    }
    out.sort_by_key(|s| s.generation);
    Ok(Some(out))
}

/// What the lock's highest stream says.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Released, or no lock at all.
    Free,
    /// Held: by whom (when a heartbeat shows), and its last sign of life.
    Held {
        holder: Option<Holder>,
        last_sign_ms: Option<i64>,
    },
}

impl State {
    /// Whether a held lock may be taken over: no sign of life for
    /// [`STALE_AFTER`], or a holder that is a dead process of this machine.
    fn is_stale(&self, now_ms: i64) -> bool {
        match self {
            State::Free => true,
            State::Held {
                holder,
                last_sign_ms,
            } => {
                last_sign_ms.is_some_and(|b| now_ms - b > STALE_AFTER.as_millis() as i64)
                    || holder.as_ref().is_some_and(Holder::is_dead_here)
            }
        }
    }
}

/// The state of one stream: its last event, or, before any, its creation.
async fn state(aws: &Aws, group: &str, s: &Stream) -> anyhow::Result<State> {
    let out = aws
        .logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(&s.name)
        .start_from_head(false)
        .limit(1)
        .send()
        .await
        .ctx("GetLogEvents", format!("{group}:{}", s.name))
        .optional()?;
    let last = out.as_ref().and_then(|o| o.events().last());
    let holder = last
        .and_then(|e| e.message())
        .and_then(|m| serde_json::from_str::<Holder>(m).ok());
    if holder.as_ref().is_some_and(|h| h.released_ms.is_some()) {
        return Ok(State::Free);
    }
    // The latest of the holder's timestamp, CloudWatch's ingestion time and the
    // stream's creation: each is a sign the holder was alive.
    let last_sign_ms = [
        last.and_then(|e| e.timestamp()),
        last.and_then(|e| e.ingestion_time()),
        s.created_ms,
    ]
    .into_iter()
    .flatten()
    .max();
    Ok(State::Held {
        holder,
        last_sign_ms,
    })
}

async fn delete_stream(aws: &Aws, group: &str, stream: &str) -> anyhow::Result<()> {
    aws.logs
        .delete_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .ctx("DeleteLogStream", format!("{group}:{stream}"))
        .ignore_missing()?;
    Ok(())
}

/// Takes the lock of an app and stage, waiting up to `wait` for a live holder to
/// finish. The lock's streams live in `names.lock_group`.
pub async fn acquire(
    aws: &Aws,
    names: &Names,
    command: &str,
    tags: &std::collections::BTreeMap<String, String>,
    wait: Duration,
) -> anyhow::Result<Lock> {
    let (group, function) = (names.lock_group.clone(), &names.function);
    let deadline = tokio::time::Instant::now() + wait;
    let me = Holder::me(command);
    let mine = loop {
        // Look before creating: a failed create would still be a mutating call.
        let Some(found) = streams(aws, &group).await? else {
            // The first deploy of a stack creates the lock's log group.
            ensure_group(aws, &group, tags).await?;
            continue;
        };
        let top = found.last();
        let current = match top {
            Some(s) => state(aws, &group, s).await?,
            None => State::Free,
        };
        if !current.is_stale(now_ms()) {
            if tokio::time::Instant::now() >= deadline {
                let State::Held {
                    holder,
                    last_sign_ms,
                } = current
                else {
                    unreachable!("a free lock is stale");
                };
                return Err(Held {
                    function: function.to_string(),
                    holder,
                    last_beat_ms: last_sign_ms,
                }
                .into());
            }
            tokio::time::sleep(POLL).await;
            continue;
        }
        let next = top.map_or(1, |s| s.generation + 1);
        let name = stream_name(next);
        match aws
            .logs
            .create_log_stream()
            .log_group_name(&group)
            .log_stream_name(&name)
            .send()
            .await
            .ctx("CreateLogStream", format!("{group}:{name}"))
        {
            Ok(_) => {}
            // Another run took this number first: look again.
            Err(e) if e.is_code("ResourceAlreadyExistsException") => continue,
            Err(e) if e.is_not_found() => {
                ensure_group(aws, &group, tags).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        if let State::Held {
            holder: Some(h), ..
        } = &current
        {
            eprintln!(
                "took over a stale deploy lock of {function} (held by `claw {}` on {} pid {}, gone)",
                h.command, h.host, h.pid
            );
        }
        // A run that read an older state may have created a lower number since;
        // one that read a newer state a higher one: the highest holds.
        let after = streams(aws, &group).await?.unwrap_or_default();
        if after.iter().any(|s| s.generation > next) {
            delete_stream(aws, &group, &name).await?;
            continue;
        }
        for s in after.iter().filter(|s| s.generation < next) {
            delete_stream(aws, &group, &s.name).await?;
        }
        break name;
    };
    put(aws, &group, &mine, &me).await?;
    let (aws2, group2, stream2, me) = (aws.clone(), group.clone(), mine.clone(), Arc::new(me));
    let me2 = me.clone();
    let heartbeat = tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let _ = put(&aws2, &group2, &stream2, &me2).await;
        }
    });
    Ok(Lock {
        aws: aws.clone(),
        group,
        stream: mine,
        me,
        heartbeat,
    })
}

impl Lock {
    /// Writes the release event. The stream stays (the highest number is never
    /// deleted; the next holder deletes it).
    pub async fn release(self) -> anyhow::Result<()> {
        self.heartbeat.abort();
        let released = Holder {
            released_ms: Some(now_ms()),
            ..(*self.me).clone()
        };
        put(&self.aws, &self.group, &self.stream, &released).await
    }
}

/// What `claw unlock` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Unlocked {
    NotLocked,
    /// Released; the holder, when its heartbeat showed who it was.
    Cleared(Option<Holder>),
}

/// `claw unlock`: releases the lock on behalf of its holder.
pub async fn force_unlock(aws: &Aws, names: &Names) -> anyhow::Result<Unlocked> {
    let group = names.lock_group.clone();
    let Some(found) = streams(aws, &group).await? else {
        return Ok(Unlocked::NotLocked);
    };
    let Some(top) = found.last() else {
        return Ok(Unlocked::NotLocked);
    };
    let State::Held { holder, .. } = state(aws, &group, top).await? else {
        return Ok(Unlocked::NotLocked);
    };
    let released = Holder {
        released_ms: Some(now_ms()),
        ..holder.clone().unwrap_or_else(|| Holder::me("unlock"))
    };
    put(aws, &group, &top.name, &released).await?;
    Ok(Unlocked::Cleared(holder))
}

/// Removes the lock group (destroy).
pub async fn delete_group(aws: &Aws, names: &Names) -> anyhow::Result<()> {
    let group = names.lock_group.clone();
    aws.logs
        .delete_log_group()
        .log_group_name(&group)
        .send()
        .await
        .ctx("DeleteLogGroup", &group)
        .ignore_missing()?;
    Ok(())
}

#[cfg(test)]
mod tests;
