//! `claw unlock`: clear a stuck deploy lock.

use crate::aws::lock;
use crate::context::Context;
use crate::report::Report;

/// Clear the deploy lock of this app and stage.
///
/// `claw deploy` and `claw destroy` hold a lock (the highest-numbered CloudWatch
/// Logs stream `lock-<n>` in `/claw/locks/{app}-{stage}`) while they change
/// anything, so two runs never interleave. A run that dies stops its heartbeat and the lock clears itself 90 s
/// later (at once when the dead process was on this machine). Use this only when
/// you are sure no claw command is running for this app and stage.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let names = claw_spec::Names::new(&loaded.config);
    let aws = crate::ops::account::connect(&loaded.config).await?;
    let unlocked = lock::force_unlock(&aws, &names).await?;
    let (cleared, holder) = match unlocked {
        lock::Unlocked::NotLocked => (false, None),
        lock::Unlocked::Cleared(h) => (true, h),
    };
    match (cleared, &holder) {
        (true, Some(h)) => ctx.out.line(format_args!(
            "cleared the deploy lock of {} (held by `claw {}` on {} pid {})",
            names.function, h.command, h.host, h.pid
        )),
        (true, None) => ctx.out.line(format_args!(
            "cleared the deploy lock of {} (its holder had not written a heartbeat yet)",
            names.function
        )),
        (false, _) => ctx
            .out
            .line(format_args!("{} was not locked", names.function)),
    }
    Ok(Report::new(serde_json::json!({
        "function": names.function,
        "cleared": cleared,
        "holder": holder,
    })))
}
