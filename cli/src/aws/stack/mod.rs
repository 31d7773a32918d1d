//! The whole stack of one app and stage: read everything, plan, apply, destroy.
//! This module only sequences the resource modules (`resources/`), each of which
//! has the same `read`, `plan`, `apply`, `plan_destroy` and `delete`. Adding a
//! resource kind is one module there plus one line in each list here.
//!
//! Reads run in parallel (they are independent). Applying follows the dependency
//! order: boundary → role → function → (concurrency, alarms and the dashboard, API, queue mapping in
//! parallel) → invoke permissions (they need the API id); log groups, tables and
//! queues go in parallel with the IAM work at the start. Deletions of what the
//! config no longer wants come last.

use anyhow::Context as _;

use super::Aws;
use super::bedrock;
use super::error::AwsResultExt;
use super::plan::{Action, Plan, ResourceKind, Sign};
use super::progress::ApplyProgress;
use super::progress::step;
use super::reachability;
use super::resources::{
    Ctx, alarms, all, api, boundary, concurrency, dashboard, function, function_url, log_group,
    mapping, permissions, queues, role, secrets, tables,
};
use super::target::Target;

pub use super::resources::DestroyOptions;

/// The live state of every resource of the stack.
#[derive(Debug, Clone)]
pub struct Live {
    /// What the read could not see, and why that is fine.
    pub notes: Vec<String>,
    pub account: String,
    pub caller_arn: String,
    pub secrets: secrets::Found,
    pub boundary: Option<boundary::Live>,
    pub role: Option<role::Live>,
    pub log_groups: log_group::Found,
    pub function: Option<function::Live>,
    /// The alias `live` and published versions (`rollout:`).
    pub versions: function::versions::Found,
    pub concurrency: concurrency::Found,
    pub function_url: function_url::Found,
    pub tables: tables::Found,
    pub queues: queues::Found,
    pub mapping: mapping::Found,
    pub api: api::Found,
    pub permissions: permissions::Live,
    pub alarms: alarms::Found,
    pub dashboard: dashboard::Found,
    /// Whether a VPC function could reach the internet (read only; a warning).
    pub network: reachability::Found,
    /// The inference profiles' real destinations (read only; a blocker when the
    /// role would miss one).
    pub profiles: bedrock::Found,
}

/// Reads the whole stack, every independent read in parallel.
pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Live> {
    let (
        ident,
        secrets,
        boundary,
        role,
        log_groups,
        function,
        tables,
        queues,
        mapping,
        api,
        permissions,
        alarms,
        dashboard,
        (account_concurrency, concurrency_note),
        network,
        profiles,
        function_url,
        versions,
    ) = futures::try_join!(
        async {
            aws.sts
                .get_caller_identity()
                .send()
                .await
                .ctx("GetCallerIdentity", "the current credentials")
                .map_err(anyhow::Error::from)
        },
        secrets::read(aws, t),
        boundary::read(aws, t),
        role::read(aws, t),
        log_group::read(aws, t),
        function::read(aws, t),
        tables::read(aws, t),
        queues::read(aws, t),
        mapping::read(aws, t),
        api::read(aws, t),
        permissions::read(aws, t),
        alarms::read(aws, t),
        dashboard::read(aws, t),
        concurrency::read_account(aws, t),
        async { anyhow::Ok(reachability::read(aws, t).await) },
        async { anyhow::Ok(bedrock::read(aws, t).await) },
        function_url::read(aws, t, true),
        function::versions::read(aws, t),
    )?;
    // Two kinds come with another's read: the reservation with GetFunction, the
    // API id the invoke permissions name with the API.
    // A function in state Failed is deleted and created again: its permissions
    // and reservation go with it, so they are planned as absent.
    let replaced = function.as_ref().is_some_and(function::is_replaced);
    let (permissions, versions) = if replaced {
        (
            permissions::Live::default(),
            function::versions::Found::default(),
        )
    } else {
        (permissions, versions)
    };
    let concurrency = concurrency::Found {
        live: function
            .as_ref()
            .filter(|_| !replaced)
            .map(|f| concurrency::Live {
                reserved: f.reserved_concurrency,
                tags: f.tags.clone(),
            }),
        account: account_concurrency,
    };
    let permissions = permissions::Live {
        api_id: api.ours.as_ref().map(|a| a.id.clone()),
        ..permissions
    };
    // The URL goes with a replaced function; a foreign function's is not ours.
    let function_url = function_url.filter(|_| {
        function
            .as_ref()
            .is_some_and(|f| !replaced && super::ownership::is_ours(&f.tags, &t.config))
    });
    Ok(Live {
        notes: [
            &queues.note,
            &mapping.note,
            &tables.note,
            &concurrency_note,
            &versions.note,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect(),
        account: ident.account.unwrap_or_default(),
        caller_arn: ident.arn.unwrap_or_default(),
        secrets,
        boundary,
        role,
        log_groups,
        function,
        versions,
        concurrency,
        function_url,
        tables,
        queues,
        mapping,
        api,
        permissions,
        alarms,
        dashboard,
        network,
        profiles,
    })
}

/// Refuses credentials for another account than agent.yaml's `account:`.
pub fn check_account(t: &Target, live: &Live) -> anyhow::Result<()> {
    super::ownership::check_account(&t.config, &live.account, &live.caller_arn)
}

/// The pure plan: desired state against live state, kind by kind.
pub fn plan(t: &Target, live: &Live) -> Plan {
    let mut p = Plan::for_target(t);
    secrets::plan(t, &live.secrets, &mut p);
    p.notes.extend(live.notes.iter().cloned());
    boundary::plan(t, &live.boundary, &mut p);
    role::plan(t, &live.role, &mut p);
    log_group::plan(t, &live.log_groups, &mut p);
    function::plan(t, &live.function, &mut p);
    function::versions::plan(t, &live.versions, &mut p);
    concurrency::plan(t, &live.concurrency, &mut p);
    function_url::plan(t, &live.function_url, &mut p);
    tables::plan(t, &live.tables, &mut p);
    queues::plan(t, &live.queues, &mut p);
    mapping::plan(t, &live.mapping, &mut p);
    api::plan(t, &live.api, &mut p);
    permissions::plan(t, &live.permissions, &mut p);
    alarms::plan(t, &live.alarms, &mut p);
    dashboard::plan(t, &live.dashboard, &mut p);
    reachability::plan(&live.network, &mut p);
    bedrock::plan(&live.profiles, &mut p);
    collapse_boundary_rows(t, &mut p);
    p
}

/// The boundary holds the same document as the role policy: when both change the
/// same way, list the permissions once.
fn collapse_boundary_rows(t: &Target, p: &mut Plan) {
    let b = format!("boundary {}", t.names.boundary);
    let r = format!("role {} policy {}", t.names.role, t.names.role_policy);
    let rows = |res: &str| {
        let mut v: Vec<(Sign, String)> = p
            .security
            .iter()
            .filter(|s| s.resource == res)
            .map(|s| (s.sign, s.what.clone()))
            .collect();
        v.sort_by(|a, b| (a.0 == Sign::Add, &a.1).cmp(&(b.0 == Sign::Add, &b.1)));
        v
    };
    let brows = rows(&b);
    if !brows.is_empty() && brows == rows(&r) {
        p.security.retain(|s| s.resource != b);
        if let Some(s) = p.security.iter_mut().find(|s| s.resource == r) {
            // Keep one hint that the boundary follows.
            s.resource = format!("{r} (and boundary)");
            let first = s.resource.clone();
            for s in p.security.iter_mut().filter(|s| s.resource == r) {
                s.resource = first.clone();
            }
        }
    }
}

/// What a finished deploy reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployOutcome {
    pub endpoint: String,
    pub api_id: String,
    pub function_arn: String,
    pub code_sha256: String,
    /// The function URL (`api.stream`), streaming answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_url: Option<String>,
    /// With `rollout:`, the version published and waiting for its traffic
    /// (the deploy then runs the rollout).
    #[serde(skip)]
    pub pending: Option<function::versions::Pending>,
    /// With `rollout:`, how the rollout went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<super::rollout::Outcome>,
}

impl DeployOutcome {
    /// The stack a deploy leaves: the API it applied (id, endpoint) and the
    /// function, with the package deployed (or the one already live).
    fn new(
        t: &Target,
        live: &Live,
        api_id: String,
        endpoint: String,
        function_url: Option<String>,
    ) -> DeployOutcome {
        DeployOutcome {
            endpoint,
            api_id,
            function_url,
            pending: None,
            rollout: None,
            function_arn: live
                .function
                .as_ref()
                .map(|f| f.arn.clone())
                .unwrap_or_else(|| t.names.function_arn()),
            code_sha256: t
                .code
                .as_ref()
                .map(|c| c.sha256.clone())
                .or_else(|| live.function.as_ref().map(|f| f.code_sha256.clone()))
                .unwrap_or_default(),
        }
    }

    /// What a deploy with nothing to change reports: the stack as it is.
    pub fn unchanged(t: &Target, live: &Live) -> DeployOutcome {
        let api = live.api.ours.as_ref();
        DeployOutcome::new(
            t,
            live,
            api.map(|a| a.id.clone()).unwrap_or_default(),
            api.map(|a| a.endpoint.clone()).unwrap_or_default(),
            live.function_url.as_ref().map(|u| u.url.clone()),
        )
    }
}

/// Applies a plan in dependency order.
pub async fn apply(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &ApplyProgress,
) -> anyhow::Result<DeployOutcome> {
    let cx = &Ctx {
        aws,
        target: t,
        progress,
    };
    // Phase 1: IAM (boundary, then role) beside log groups, tables and queues
    // (secrets are only checked: `claw secrets set` writes them).
    secrets::apply(cx, &live.secrets, plan).await?;
    let (iam, groups, tabs, qs) = futures::join!(
        async {
            boundary::apply(cx, &live.boundary, plan).await?;
            role::apply(cx, &live.role, plan).await
        },
        log_group::apply(cx, &live.log_groups, plan),
        tables::apply(cx, &live.tables, plan),
        queues::apply(cx, &live.queues, plan),
    );
    all(vec![iam, groups, tabs, qs])?;

    // Phase 2: the function (needs the role); with `rollout:` the version
    // callers run now is published first when they move to the alias, and the
    // change after.
    let created =
        function::versions::publish::before_function(aws, t, &live.versions, plan).await?;
    function::apply(cx, &live.function, plan).await?;
    let alias = function::versions::change_name(t);
    let pending = match plan.action(ResourceKind::Alias, &alias) {
        Action::Create | Action::Update { .. } => {
            // Resuming a rollout under way publishes nothing.
            let resuming = plan
                .get(ResourceKind::Alias, &alias)
                .is_some_and(|c| c.fields().iter().any(|f| f.field == "rollout"));
            let (verb, done) = if resuming {
                ("reading", "found mid-shift")
            } else {
                ("publishing", "published")
            };
            step(
                progress,
                verb,
                done,
                &format!("{} {alias}", ResourceKind::Alias.label()),
                function::versions::publish::after_function(aws, t, &live.versions, created, plan),
            )
            .await?
        }
        Action::NoChange | Action::Delete => None,
    };

    // Phase 3: everything that hangs off the function, in parallel.
    let (conc, alarm, api_out, map, url) = futures::join!(
        concurrency::apply(cx, &live.concurrency, plan),
        async {
            let (a, d) = futures::join!(
                alarms::apply(cx, &live.alarms, plan),
                dashboard::apply(cx, &live.dashboard, plan),
            );
            all(vec![a, d])
        },
        api::apply(cx, &live.api, plan),
        mapping::apply(cx, &live.mapping, plan),
        function_url::apply(cx, &live.function_url, plan),
    );
    let (url, url_done) = match url {
        Ok(u) => (u, Ok(())),
        Err(e) => (None, Err(e)),
    };
    let api_out = match api_out {
        Ok(o) => Some(o),
        Err(e) => {
            all(vec![conc, alarm, map, url_done]).ok();
            return Err(e);
        }
    };
    all(vec![conc, alarm, map, url_done])?;
    let api_out = api_out.context("the HTTP API was not applied")?;

    // Phase 4: invoke permissions, scoped to the API's id.
    let permissions = permissions::Live {
        api_id: Some(api_out.id.clone()),
        ..live.permissions.clone()
    };
    permissions::apply(cx, &permissions, plan).await?;

    // Phase 5: what the config no longer wants (a retired log group only after
    // the stage logs elsewhere; the alias after callers moved back).
    function::versions::publish::delete(aws, t, plan).await?;
    mapping::delete(cx, &live.mapping, plan).await?;
    log_group::delete(cx, &live.log_groups, plan).await?;
    queues::delete(cx, &live.queues, plan).await?;
    tables::delete(cx, &live.tables, plan).await?;

    Ok(DeployOutcome {
        pending,
        ..DeployOutcome::new(t, live, api_out.id, api_out.endpoint, url)
    })
}

/// The destroy plan: a Delete for every resource tagged for this app and stage;
/// notes for what is kept and why. Listed in the order destroy deletes.
pub fn destroy_plan(t: &Target, live: &Live, opts: DestroyOptions) -> Plan {
    let mut p = Plan::for_target(t);
    mapping::plan_destroy(t, &live.mapping, opts, &mut p);
    api::plan_destroy(t, &live.api, opts, &mut p);
    alarms::plan_destroy(t, &live.alarms, opts, &mut p);
    dashboard::plan_destroy(t, &live.dashboard, opts, &mut p);
    function::plan_destroy(t, &live.function, opts, &mut p);
    concurrency::plan_destroy(t, &live.concurrency, opts, &mut p);
    function_url::plan_destroy(t, &live.function_url, opts, &mut p);
    permissions::plan_destroy(t, &live.permissions, opts, &mut p);
    log_group::plan_destroy(t, &live.log_groups, opts, &mut p);
    role::plan_destroy(t, &live.role, opts, &mut p);
    boundary::plan_destroy(t, &live.boundary, opts, &mut p);
    queues::plan_destroy(t, &live.queues, opts, &mut p);
    tables::plan_destroy(t, &live.tables, opts, &mut p);
    secrets::plan_destroy(t, &live.secrets, opts, &mut p);
    p
}

/// Deletes what a destroy plan lists, in reverse dependency order.
pub async fn destroy(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &ApplyProgress,
) -> anyhow::Result<()> {
    let cx = &Ctx {
        aws,
        target: t,
        progress,
    };
    mapping::delete(cx, &live.mapping, plan).await?;
    // The API, the alarms and the function are independent of each other.
    let (a, b, c, d) = futures::join!(
        api::delete(cx, &live.api, plan),
        alarms::delete(cx, &live.alarms, plan),
        function::delete(cx, &live.function, plan),
        dashboard::delete(cx, &live.dashboard, plan),
    );
    all(vec![a, b, c, d])?;
    concurrency::delete(cx, &live.concurrency, plan).await?;
    function_url::delete(cx, &live.function_url, plan).await?;
    permissions::delete(cx, &live.permissions, plan).await?;
    log_group::delete(cx, &live.log_groups, plan).await?;
    role::delete(cx, &live.role, plan).await?;
    boundary::delete(cx, &live.boundary, plan).await?;
    queues::delete(cx, &live.queues, plan).await?;
    tables::delete(cx, &live.tables, plan).await?;
    secrets::delete(cx, &live.secrets, plan).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
