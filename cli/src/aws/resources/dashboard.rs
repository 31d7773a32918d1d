//! The stack's CloudWatch dashboard, `{app}-{stage}`: the figures `claw status`
//! shows (`aws::figures`), as graphs, and the state of claw's alarms.
//!
//! A dashboard has no tags (CloudWatch tags alarms, Contributor Insights rules
//! and metric streams, not dashboards: CloudWatch API Reference, TagResource),
//! and its name is the account's, not a Region's. So its first widget, a text
//! widget, carries claw's marker (`claw:app=… claw:stage=… claw:region=…`):
//! claw updates and deletes only a dashboard whose marker names this stack.
//! The body is compared as JSON: a deploy with nothing changed makes no call, a
//! hand edit is drift that the next deploy replaces.

use serde_json::{Value, json};

use super::{Ctx, DestroyOptions};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::figures::{self, Figure, Series, Unit};
use crate::aws::ownership::{TAG_APP, TAG_STAGE, foreign_blocker, is_ours, untagged_note};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

/// The marker's Region key (beside the tag keys for app and stage).
const MARK_REGION: &str = "claw:region";

#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub body: Value,
}

pub type Found = Option<Live>;

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let name = &t.names.dashboard;
    let Some(o) = aws
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
        .ctx("GetDashboard", name)
        .optional()?
    else {
        return Ok(None);
    };
    // A body that is not JSON is not claw's: its marker cannot be read.
    let body = serde_json::from_str(o.dashboard_body().unwrap_or_default()).unwrap_or(Value::Null);
    Ok(Some(Live { body }))
}

/// The marker a body carries, as (app, stage, region).
fn marker(body: &Value) -> Option<(String, String, String)> {
    let text = body["widgets"].as_array()?.first()?["properties"]["markdown"].as_str()?;
    let line = text.lines().find(|l| l.contains(TAG_APP))?;
    let get = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.trim_matches('`').strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    Some((get(TAG_APP)?, get(TAG_STAGE)?, get(MARK_REGION)?))
}

/// Whether a live dashboard is this stack's: its marker names the app, stage
/// and Region.
fn ours(t: &Target, l: &Live) -> bool {
    marker(&l.body).is_some_and(|(app, stage, region)| {
        let tags = [(TAG_APP.to_string(), app), (TAG_STAGE.to_string(), stage)].into();
        is_ours(&tags, &t.config) && region == t.names.region
    })
}

/// One series as a dashboard metric row, with its own options.
fn row(s: &Series, options: Value) -> Value {
    let mut r = vec![json!(s.namespace), json!(s.metric)];
    for (k, v) in &s.dimensions {
        r.push(json!(k));
        r.push(json!(v));
    }
    let mut options = options;
    options["stat"] = json!(s.stat);
    r.push(options);
    Value::Array(r)
}

/// A figure's rows: its series, or for a sum of several, the hidden series and
/// one `SUM` expression (cost scaled to dollars).
fn figure_rows(f: &Figure, n: usize) -> Vec<Value> {
    if f.series.len() == 1 && f.unit != Unit::Usd {
        return vec![row(&f.series[0], json!({"label": f.label}))];
    }
    let ids: Vec<String> = (0..f.series.len()).map(|i| format!("m{n}_{i}")).collect();
    let mut rows: Vec<Value> = f
        .series
        .iter()
        .zip(&ids)
        .map(|(s, id)| row(s, json!({"id": id, "visible": false})))
        .collect();
    let sum = format!("SUM([{}])", ids.join(","));
    let (expression, label) = match f.unit {
        Unit::Usd => (format!("{sum}/1000000"), format!("{} (USD)", f.label)),
        _ => (sum, f.label.to_string()),
    };
    rows.push(json!([{"expression": expression, "label": label, "id": format!("e{n}")}]));
    rows
}

fn graph(t: &Target, title: &str, y: u32, x: u32, rows: Vec<Value>) -> Value {
    json!({
        "type": "metric",
        "x": x, "y": y, "width": 12, "height": 6,
        "properties": {
            "title": title,
            "region": t.names.region,
            "view": "timeSeries",
            "stacked": false,
            "period": 300,
            "metrics": rows,
        }
    })
}

/// The alarms agent.yaml asks for (the optional ones only when configured).
fn alarm_arns(t: &Target) -> Vec<String> {
    let a = &t.config.alarms;
    let mut suffixes = vec!["errors", "agent-errors", "throttles", "duration-p99"];
    if a.invocations_per_5min.is_some() {
        suffixes.push("invocations-per-5min");
    }
    if a.output_tokens_per_hour.is_some() {
        suffixes.push("output-tokens-per-hour");
    }
    if a.cost_usd_per_day.is_some() {
        suffixes.push("cost-per-day");
    }
    suffixes.iter().map(|s| t.names.alarm_arn(s)).collect()
}

/// The body claw wants: the marker, the alarms, one graph per figure pair, and
/// the tools' calls and latency.
pub fn body(t: &Target) -> Value {
    let n = &t.names;
    let mut widgets = vec![
        json!({
            "type": "text",
            "x": 0, "y": 0, "width": 24, "height": 2,
            "properties": {"markdown": format!(
                "## {} {} ({})\nKept by `claw deploy` from agent.yaml: edits here are replaced by the next deploy; `claw status` shows the same figures.\n`{TAG_APP}={}` `{TAG_STAGE}={}` `{MARK_REGION}={}`",
                n.app, n.stage, n.region, n.app, n.stage, n.region
            )}
        }),
        json!({
            "type": "alarm",
            "x": 0, "y": 2, "width": 24, "height": 3,
            "properties": {"title": "Alarms", "alarms": alarm_arns(t)}
        }),
    ];
    let figs = figures::figures(t);
    let by = |k: &str| figs.iter().position(|f| f.key == k);
    let groups: [(&str, &[&str]); 4] = [
        (
            "Invocations and errors",
            &["invocations", "errors", "agent_errors", "throttles"],
        ),
        ("Duration p99 (ms)", &["duration_p99"]),
        ("Output tokens", &["output_tokens"]),
        ("Cost (USD)", &["cost_usd"]),
    ];
    for (i, (title, keys)) in groups.iter().enumerate() {
        let rows = keys
            .iter()
            .filter_map(|k| by(k))
            .flat_map(|p| figure_rows(&figs[p], p))
            .collect();
        widgets.push(graph(
            t,
            title,
            5 + 6 * (i as u32 / 2),
            12 * (i as u32 % 2),
            rows,
        ));
    }
    let tools = figures::tools(t);
    if !tools.is_empty() {
        let rows = |pick: fn(&figures::ToolFigures) -> &Series| {
            tools
                .iter()
                .map(|f| row(pick(f), json!({"label": format!("{}/{}", f.agent, f.tool)})))
                .collect()
        };
        widgets.push(graph(t, "Tool calls", 17, 0, rows(|f| &f.calls)));
        widgets.push(graph(
            t,
            "Tool latency, average (ms)",
            17,
            12,
            rows(|f| &f.latency),
        ));
    }
    json!({ "widgets": widgets })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Body,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        "body".into()
    }
}

fn widgets(body: &Value) -> usize {
    body["widgets"].as_array().map_or(0, Vec::len)
}

pub fn plan(t: &Target, live: &Found, plan: &mut Plan) {
    let name = &t.names.dashboard;
    let want = body(t);
    let action = match live {
        None => Action::Create,
        Some(l) if !ours(t, l) => {
            plan.blockers.push(foreign_blocker(
                &format!(
                    "CloudWatch dashboard {name} exists (dashboards are the account's, not a Region's; its first widget has no claw marker for {} {} in {})",
                    t.config.app, t.config.stage, t.names.region
                ),
                &t.config,
            ));
            return;
        }
        Some(l) if l.body == want => Action::NoChange,
        Some(l) => update_of(&[Changed::new(
            Field::Body,
            format!("{} widgets (edited or older)", widgets(&l.body)),
            format!("{} widgets", widgets(&want)),
        )]),
    };
    plan.push(ResourceChange::new(ResourceKind::Dashboard, name, action));
}

async fn put(aws: &Aws, t: &Target) -> anyhow::Result<()> {
    let name = &t.names.dashboard;
    let out = aws
        .cloudwatch
        .put_dashboard()
        .dashboard_name(name)
        .dashboard_body(body(t).to_string())
        .send()
        .await
        .ctx("PutDashboard", name)?;
    // PutDashboard keeps a body with problems and lists them: a problem is a bug
    // in claw's body, reported rather than left silent.
    let problems: Vec<String> = out
        .dashboard_validation_messages()
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m.data_path().unwrap_or("body"),
                m.message().unwrap_or_default()
            )
        })
        .collect();
    if !problems.is_empty() {
        anyhow::bail!(
            "PutDashboard {name}: CloudWatch kept the dashboard but reported: {}",
            problems.join("; ")
        );
    }
    Ok(())
}

pub async fn apply(cx: &Ctx<'_>, _: &Found, plan: &Plan) -> anyhow::Result<()> {
    let name = &cx.target.names.dashboard;
    let what = format!("{} {name}", ResourceKind::Dashboard.label());
    // PutDashboard creates and replaces alike.
    let (doing, done) = match plan.action(ResourceKind::Dashboard, name) {
        Action::Create => ("creating", "created"),
        Action::Update { .. } => ("updating", "updated"),
        _ => return Ok(()),
    };
    step(cx.progress, doing, done, &what, put(cx.aws, cx.target)).await
}

pub fn plan_destroy(t: &Target, live: &Found, _: DestroyOptions, p: &mut Plan) {
    let name = &t.names.dashboard;
    match live {
        Some(l) if ours(t, l) => p.push(ResourceChange::new(
            ResourceKind::Dashboard,
            name,
            Action::Delete,
        )),
        Some(_) => p.notes.push(untagged_note(
            &format!("dashboard {name} (no claw marker)"),
            &t.config,
        )),
        None => {}
    }
}

pub async fn delete(cx: &Ctx<'_>, _: &Found, plan: &Plan) -> anyhow::Result<()> {
    let name = cx.target.names.dashboard.clone();
    cx.delete_step(plan, ResourceKind::Dashboard, &name, async {
        cx.aws
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(&name)
            .send()
            .await
            .ctx("DeleteDashboards", &name)
            .ignore_missing()?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    #[test]
    fn the_body_carries_the_marker_and_is_ours_until_edited() {
        let t = testing::target();
        let want = body(&t);
        assert_eq!(
            marker(&want),
            Some((
                t.config.app.clone(),
                t.config.stage.clone(),
                t.names.region.clone()
            ))
        );
        let mut p = testing::plan(&t);
        plan(&t, &None, &mut p);
        assert_eq!(
            p.action(ResourceKind::Dashboard, &t.names.dashboard),
            Action::Create
        );

        let same = Some(Live { body: want.clone() });
        let mut p = testing::plan(&t);
        plan(&t, &same, &mut p);
        assert_eq!(
            p.action(ResourceKind::Dashboard, &t.names.dashboard),
            Action::NoChange
        );

        let mut edited = want.clone();
        edited["widgets"].as_array_mut().unwrap().pop();
        let mut p = testing::plan(&t);
        plan(&t, &Some(Live { body: edited }), &mut p);
        assert!(matches!(
            p.action(ResourceKind::Dashboard, &t.names.dashboard),
            Action::Update { .. }
        ));
        assert!(p.blockers.is_empty());
    }

    #[test]
    fn a_dashboard_without_this_stacks_marker_is_never_touched() {
        let t = testing::target();
        let mut other_region = body(&t);
        let text = other_region["widgets"][0]["properties"]["markdown"]
            .as_str()
            .unwrap()
            .replace(&t.names.region, "eu-west-1");
        other_region["widgets"][0]["properties"]["markdown"] = json!(text);
        for foreign in [json!({"widgets": []}), Value::Null, other_region] {
            let live = Some(Live { body: foreign });
            let mut p = testing::plan(&t);
            plan(&t, &live, &mut p);
            assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
            assert!(p.blockers[0].contains("no claw marker"));
            let mut d = testing::plan(&t);
            plan_destroy(&t, &live, DestroyOptions::default(), &mut d);
            assert_eq!(
                d.action(ResourceKind::Dashboard, &t.names.dashboard),
                Action::NoChange
            );
            assert_eq!(d.notes.len(), 1);
        }
    }

    #[test]
    fn a_sum_of_agents_is_hidden_series_and_one_expression() {
        let t = testing::target();
        let b = body(&t);
        let all = b.to_string();
        assert!(all.contains("SUM([m6_0"), "{all}");
        assert!(all.contains("/1000000"), "cost in dollars: {all}");
        // Every hidden id an expression names is defined once.
        for w in b["widgets"].as_array().unwrap() {
            let Some(rows) = w["properties"]["metrics"].as_array() else {
                continue;
            };
            let ids: Vec<&str> = rows
                .iter()
                .filter_map(|r| r.as_array()?.last()?["id"].as_str())
                .collect();
            for r in rows {
                if let Some(e) = r[0]["expression"].as_str() {
                    let inner = e.trim_start_matches("SUM([").split("])").next().unwrap();
                    for id in inner.split(',') {
                        assert!(ids.contains(&id), "{id} in {e}");
                    }
                }
            }
        }
    }
}
