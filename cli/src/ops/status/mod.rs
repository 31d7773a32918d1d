//! `claw status`: one stage on one screen. One parallel round of reads: the
//! stack as `claw plan` reads it (so "in sync" means what the plan means), the
//! figures from CloudWatch (one GetMetricData), and the package to compare the
//! code with (local, no AWS call).

pub mod metrics;
mod render;
mod view;

use std::time::Duration;

use claw_spec::Config;

use crate::aws::Aws;
use crate::aws::plan::Action;
use crate::aws::stack;
use crate::aws::target::Target;

pub use metrics::Window;
pub use render::render;
pub use view::{AlarmState, AliasState, ResourceState, Status};

/// The dashboard's page in the console of the Region's partition.
fn console_url(n: &claw_spec::Names) -> String {
    let host = match n.partition() {
        "aws-cn" => "console.amazonaws.cn",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        _ => "console.aws.amazon.com",
    };
    format!(
        "https://{r}.{host}/cloudwatch/home?region={r}#dashboards/dashboard/{d}",
        r = n.region,
        d = n.dashboard
    )
}

/// Reads and assembles the status of one stage over the last `since`. `zip`:
/// the package to compare the code with (else as `claw plan` chooses).
pub async fn read(
    config: Config,
    config_path: &std::path::Path,
    since: Duration,
    zip: Option<&std::path::Path>,
) -> anyhow::Result<(Aws, Status)> {
    let window = Window::ending_now(since);
    let reading = Target::new(config.clone(), None);
    let aws = Aws::new(&config.region).await;
    let (live, figures, code) = futures::try_join!(
        stack::read(&aws, &reading),
        metrics::read(&aws, &reading, &window),
        async {
            match zip {
                Some(z) => crate::package::Code::from_zip(z).map(Some),
                None => crate::ops::stack::package_to_compare(&config, config_path).await,
            }
        },
    )?;
    stack::check_account(&reading, &live)?;
    let code_compared = code.is_some();
    let target = Target::new(config, code);
    let plan = stack::plan(&target, &live);
    let resources: Vec<ResourceState> = plan
        .changes
        .iter()
        .map(|c| {
            let (state, changes) = match &c.action {
                Action::NoChange => ("in_sync", Vec::new()),
                Action::Create => ("missing", Vec::new()),
                Action::Delete => ("extra", Vec::new()),
                Action::Update { fields } => ("drifted", fields.clone()),
            };
            ResourceState {
                kind: c.kind,
                label: c.kind.label(),
                name: c.name.clone(),
                state,
                changes,
            }
        })
        .collect();
    let alarms: Vec<AlarmState> = live
        .alarms
        .values()
        .map(|a| AlarmState {
            name: a.spec.name.clone(),
            state: a.state.clone(),
        })
        .collect();
    let api = live.api.ours.as_ref();
    let status = Status {
        app: target.config.app.clone(),
        stage: target.config.stage.clone(),
        region: target.config.region.clone(),
        window,
        // A resource in claw's way (a blocker) is not in sync either.
        in_sync: resources.iter().all(|r| r.state == "in_sync") && plan.blockers.is_empty(),
        code_compared,
        resources,
        endpoint: api.map(|a| a.endpoint.clone()).filter(|e| !e.is_empty()),
        function_url: live.function_url.as_ref().map(|u| u.url.clone()),
        dashboard: live.dashboard.as_ref().map(|_| console_url(&target.names)),
        alias: live.versions.alias.as_ref().map(|a| AliasState {
            version: a.version.clone(),
            shifting_to: a
                .shifting_to()
                .map(|(v, w)| (v, (w * 1000.0).round() / 10.0)),
        }),
        alarming: alarms
            .iter()
            .filter(|a| a.state == "ALARM")
            .map(|a| a.name.clone())
            .collect(),
        alarms,
        figures,
        problems: plan.blockers.clone(),
    };
    Ok((aws, status))
}
