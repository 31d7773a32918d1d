//! `claw jobs list|show|approve|reject`: the async jobs of this app and stage,
//! read from and decided in its jobs table, as `GET /jobs/{id}` and
//! `POST /jobs/{id}/approve|reject` do through the API.

use anyhow::Context as _;
use claw_jobs::Decided;
use claw_spec::model::ApiMode;
use claw_spec::storage::JobStatus;
use serde_json::{Value, json};

use crate::aws::AwsResultExt;
use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List the jobs, newest first: id, status, agent, turns, tool calls, tokens, cost.
    ///
    /// Reads the jobs table `{app}-{stage}-jobs` (a Scan, without results or
    /// checkpoints). Example: claw jobs list --status waiting_approval
    List {
        /// Only jobs in this status.
        #[arg(long, value_parser = parse_status)]
        status: Option<JobStatus>,
        /// At most this many jobs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one job as `GET /jobs/{id}` does: status, progress, the call it waits
    /// on (when waiting_approval), its result or error.
    Show {
        /// The job id `POST /jobs` answered with.
        id: String,
    },
    /// Approve the call a waiting_approval job waits on; the job resumes and runs it.
    ///
    /// Records the decision (with the caller's ARN) and queues the job. Exits 1
    /// when the job waits on no call.
    Approve { id: String },
    /// Reject the call a waiting_approval job waits on; the job resumes and the
    /// model is told the call was rejected (it never runs).
    Reject { id: String },
}

fn parse_status(s: &str) -> Result<JobStatus, String> {
    serde_json::from_value(json!(s))
        .map_err(|_| "one of: queued, running, waiting_approval, done, failed".to_string())
}

pub async fn run(ctx: &Context, cmd: &JobsCommand) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let config = &loaded.config;
    if config.api.mode != ApiMode::Async {
        anyhow::bail!(
            "{}: jobs exist only with `api.mode: async` (this stage's api.mode is sync)",
            ctx.global.config.display()
        );
    }
    let names = claw_spec::Names::new(config);
    let aws = crate::ops::account::connect(config).await?;
    let table = &names.jobs_table;
    match cmd {
        JobsCommand::List { status, limit } => {
            let mut jobs = claw_jobs::list(&aws.dynamodb, table, *status)
                .await
                .map_err(anyhow::Error::msg)?;
            let total = jobs.len();
            jobs.truncate(*limit);
            print_list(ctx, &jobs, total);
            Ok(Report::new(
                json!({"table": table, "total": total, "jobs": jobs}),
            ))
        }
        JobsCommand::Show { id } => {
            let job = claw_jobs::show(&aws.dynamodb, table, id)
                .await
                .map_err(anyhow::Error::msg)?;
            let Some(job) = job else {
                anyhow::bail!("no job `{id}` in {table}");
            };
            print_job(ctx, &job);
            Ok(Report::new(job))
        }
        JobsCommand::Approve { id } => decide(ctx, &aws, &names, id, true).await,
        JobsCommand::Reject { id } => decide(ctx, &aws, &names, id, false).await,
    }
}

async fn decide(
    ctx: &Context,
    aws: &crate::aws::Aws,
    names: &claw_spec::Names,
    id: &str,
    approved: bool,
) -> anyhow::Result<Report> {
    let me = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .ctx("GetCallerIdentity", "the current credentials")?;
    let queue_url = aws
        .sqs
        .get_queue_url()
        .queue_name(&names.queue)
        .send()
        .await
        .ctx("GetQueueUrl", &names.queue)?
        .queue_url
        .context("GetQueueUrl answered without a URL")?;
    let store = claw_jobs::Store {
        ddb: &aws.dynamodb,
        sqs: &aws.sqs,
        table: &names.jobs_table,
        queue_url: &queue_url,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let verb = if approved { "approved" } else { "rejected" };
    let outcome = store
        .decide(id, approved, me.arn(), now)
        .await
        .map_err(anyhow::Error::msg)?;
    match outcome {
        Decided::Queued(call) => {
            let what = match call.tool.as_str() {
                "" => format!("call {}", call.tool_use_id),
                tool => format!("{tool} {}", call.input),
            };
            ctx.out
                .line(format_args!("{verb} {what}; job {id} is queued to resume"));
            Ok(Report::new(json!({
                "job_id": id,
                "approved": approved,
                "tool_use_id": call.tool_use_id,
                "status": JobStatus::Queued.as_str(),
            })))
        }
        Decided::NotFound => anyhow::bail!("no job `{id}` in {}", names.jobs_table),
        Decided::NotWaiting(status) => anyhow::bail!(
            "job {id} waits on no call (its status is `{status}`); nothing was {verb}"
        ),
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn print_list(ctx: &Context, jobs: &[Value], total: usize) {
    if ctx.out.is_json() {
        return;
    }
    if jobs.is_empty() {
        ctx.out.line("no jobs");
        return;
    }
    let rows: Vec<[String; 7]> = jobs
        .iter()
        .map(|j| {
            let p = &j["progress"];
            let tokens = match (p["input_tokens"].as_u64(), p["output_tokens"].as_u64()) {
                (Some(i), Some(o)) => format!("{}", i + o),
                _ => "-".into(),
            };
            let cost = p["cost_usd"]
                .as_f64()
                .map(|c| format!("${c:.4}"))
                .unwrap_or_else(|| "-".into());
            [
                cell(&j["job_id"]),
                cell(&j["status"]),
                cell(&j["agent"]),
                cell(&p["turns"]),
                cell(&p["tool_calls"]),
                tokens,
                cost,
            ]
        })
        .collect();
    let head = ["JOB", "STATUS", "AGENT", "TURNS", "TOOLS", "TOKENS", "COST"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    ctx.out.line(line(&head.map(str::to_string)));
    for r in &rows {
        ctx.out.line(line(r));
    }
    if total > rows.len() {
        ctx.out.note(format_args!(
            "{} of {total} jobs shown (--limit)",
            rows.len()
        ));
    }
}

fn print_job(ctx: &Context, job: &Value) {
    if ctx.out.is_json() {
        return;
    }
    ctx.out.line(format_args!(
        "job {}  {}  agent {}",
        cell(&job["job_id"]),
        cell(&job["status"]),
        cell(&job["agent"])
    ));
    let p = &job["progress"];
    if p.is_object() {
        let cost = p["cost_usd"]
            .as_f64()
            .map(|c| format!(", ${c:.4}"))
            .unwrap_or_default();
        ctx.out.line(format_args!(
            "  {} turns, {} tool calls, {} input + {} output tokens{cost}, {} invocations",
            cell(&p["turns"]),
            cell(&p["tool_calls"]),
            cell(&p["input_tokens"]),
            cell(&p["output_tokens"]),
            cell(&p["invocations"]),
        ));
    }
    if let Some(call) = job.get("pending") {
        ctx.out.line(format_args!(
            "  waits for approval: {} {}   (claw jobs approve|reject {})",
            cell(&call["tool"]),
            call["input"],
            cell(&job["job_id"])
        ));
    }
    if let Some(e) = job.get("error") {
        ctx.out.line(format_args!("  error: {}", cell(e)));
    }
    if let Some(text) = job["result"]["response"].as_str() {
        ctx.out.line(format_args!("  answer: {text}"));
    }
}
