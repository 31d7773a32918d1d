//! The deploy lock: one writer per app and stage, with no extra infrastructure.
//!
//! The lock is a CloudWatch Logs stream, `lock`, in the log group
//! `/claw/locks/{app}-{stage}`. CreateLogStream is atomic (a second create fails
//! with ResourceAlreadyExistsException), so whoever creates the stream holds the
//! lock. The holder writes a heartbeat event (who, where, since when) every
//! [`HEARTBEAT`]; a lock whose last heartbeat is older than [`STALE_AFTER`], or
//! whose holder is a dead process on this same host, is stale and taken over.
//! `claw unlock` deletes the stream by hand.
//!
//! Only deploys that change something take the lock, so a deploy with nothing to
//! do stays read-only.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde::{Deserialize, Serialize};

use claw_spec::Names;

use super::Aws;
use super::error::{AwsErrorExt, AwsResultExt, aws_error};

pub const STREAM: &str = "lock";
pub const HEARTBEAT: Duration = Duration::from_secs(20);
pub const STALE_AFTER: Duration = Duration::from_secs(90);
/// A holder writes its first heartbeat right after creating the stream; a stream
/// without one this long after its creation belongs to a process that died there.
pub const NO_BEAT_GRACE: Duration = Duration::from_secs(10);

/// Who holds the lock, as written in its heartbeat events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub command: String,
    pub host: String,
    pub pid: u32,
    pub since_ms: i64,
}

impl Holder {
    fn me(command: &str) -> Holder {
        Holder {
            command: command.to_string(),
            host: hostname(),
            pid: std::process::id(),
            since_ms: now_ms(),
        }
    }

    /// A holder on this host whose process is gone cannot be deploying.
    fn is_dead_here(&self) -> bool {
        self.host == hostname() && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
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

async fn beat(aws: &Aws, group: &str, holder: &Holder) -> anyhow::Result<()> {
    let event = InputLogEvent::builder()
        .timestamp(now_ms())
        .message(serde_json::to_string(holder)?)
        .build()
        .map_err(|e| anyhow::anyhow!("building the lock heartbeat: {e}"))?;
    aws.logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(STREAM)
        .log_events(event)
        .send()
        .await
        .ctx("PutLogEvents", format!("{group}:{STREAM}"))?;
    Ok(())
}

/// The current holder and the time of its last heartbeat, if the stream exists.
async fn read_holder(
    aws: &Aws,
    group: &str,
) -> anyhow::Result<Option<(Option<Holder>, Option<i64>)>> {
    match aws
        .logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(STREAM)
        .start_from_head(false)
        .limit(1)
        .send()
        .await
        .ctx("GetLogEvents", format!("{group}:{STREAM}"))
        .optional()?
    {
        Some(out) => {
            let last = out.events().last();
            let holder = last
                .and_then(|e| e.message())
                .and_then(|m| serde_json::from_str::<Holder>(m).ok());
            let beat = match last.and_then(|e| e.timestamp()) {
                Some(t) => Some(t),
                // No heartbeat yet: date the lock from the stream's creation, less
                // the time a live holder has to write its first heartbeat.
                None => created_ms(aws, group)
                    .await?
                    .map(|c| c - (STALE_AFTER - NO_BEAT_GRACE).as_millis() as i64),
            };
            Ok(Some((holder, beat)))
        }
        None => Ok(None),
    }
}

async fn created_ms(aws: &Aws, group: &str) -> anyhow::Result<Option<i64>> {
    // Paged: every page is read, so a longer name sharing the prefix on the
    // first page does not hide the lock.
    let streams = aws
        .logs
        .describe_log_streams()
        .log_group_name(group)
        .log_stream_name_prefix(STREAM)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("DescribeLogStreams", group)?;
    Ok(streams
        .iter()
        .find(|s| s.log_stream_name() == Some(STREAM))
        .and_then(|s| s.creation_time()))
}

async fn delete_stream(aws: &Aws, group: &str) -> anyhow::Result<()> {
    aws.logs
        .delete_log_stream()
        .log_group_name(group)
        .log_stream_name(STREAM)
        .send()
        .await
        .ctx("DeleteLogStream", format!("{group}:{STREAM}"))
        .ignore_missing()?;
    Ok(())
}

/// Takes the lock of an app and stage, waiting up to `wait` for a live holder to
/// finish. The lock stream lives in `names.lock_group`.
pub async fn acquire(
    aws: &Aws,
    names: &Names,
    command: &str,
    tags: &std::collections::BTreeMap<String, String>,
    wait: Duration,
) -> anyhow::Result<Lock> {
    let (group, function) = (names.lock_group.clone(), &names.function);
    // Look before creating: a failed create would still be a mutating call.
    let exists = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("DescribeLogGroups", &group)?
        .iter()
        .any(|g| g.log_group_name() == Some(group.as_str()));
    if !exists {
        ensure_group(aws, &group, tags).await?;
    }
    let deadline = tokio::time::Instant::now() + wait;
    let me = Holder::me(command);
    loop {
        match aws
            .logs
            .create_log_stream()
            .log_group_name(&group)
            .log_stream_name(STREAM)
            .send()
            .await
            .ctx("CreateLogStream", format!("{group}:{STREAM}"))
        {
            Ok(_) => break,
            // The first deploy of a stack creates the lock's log group.
            Err(e) if e.is_not_found() => {
                ensure_group(aws, &group, tags).await?;
            }
            Err(e) if e.is_code("ResourceAlreadyExistsException") => {
                let (holder, last_beat) = read_holder(aws, &group).await?.unwrap_or((None, None));
                let stale_by_time =
                    last_beat.is_some_and(|b| now_ms() - b > STALE_AFTER.as_millis() as i64);
                let stale_by_pid = holder.as_ref().is_some_and(Holder::is_dead_here);
                if stale_by_time || stale_by_pid {
                    eprintln!(
                        "taking over a stale deploy lock of {function}{}",
                        holder
                            .as_ref()
                            .map(|h| format!(" (held by pid {} on {}, gone)", h.pid, h.host))
                            .unwrap_or_default()
                    );
                    delete_stream(aws, &group).await?;
                    continue;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(Held {
                        function: function.to_string(),
                        holder,
                        last_beat_ms: last_beat,
                    }
                    .into());
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    beat(aws, &group, &me).await?;
    let (aws2, group2, me2) = (aws.clone(), group.clone(), Arc::new(me));
    let heartbeat = tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let _ = beat(&aws2, &group2, &me2).await;
        }
    });
    Ok(Lock {
        aws: aws.clone(),
        group,
        heartbeat,
    })
}

impl Lock {
    pub async fn release(self) -> anyhow::Result<()> {
        self.heartbeat.abort();
        delete_stream(&self.aws, &self.group).await
    }
}

/// `claw unlock`: who held it, after deleting the lock stream.
pub async fn force_unlock(aws: &Aws, names: &Names) -> anyhow::Result<Option<Holder>> {
    let group = names.lock_group.clone();
    let holder = read_holder(aws, &group).await?.and_then(|(h, _)| h);
    delete_stream(aws, &group).await?;
    Ok(holder)
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
