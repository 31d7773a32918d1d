//! The text screen of `claw status`.

use std::fmt::Write as _;

use super::view::Status;
use crate::aws::figures::Unit;

/// At most this many tools are listed (JSON output has them all).
const TOP_TOOLS: usize = 10;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per point, scaled from 0 to the largest value; a blank where
/// CloudWatch has no data point.
pub fn sparkline(points: &[Option<f64>]) -> String {
    let max = points.iter().flatten().fold(0.0_f64, |m, v| m.max(*v));
    points
        .iter()
        .map(|p| match p {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(v) => {
                let i = ((v / max) * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            }
        })
        .collect()
}

/// A count with thousands separators, a duration in ms, or dollars.
fn value(unit: Unit, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".into();
    };
    match unit {
        Unit::Count => grouped(v.round() as i64),
        Unit::Milliseconds => format!("{} ms", grouped(v.round() as i64)),
        Unit::Usd => format!("${v:.4}"),
    }
}

fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn span(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    }
}

pub fn render(s: &Status) -> String {
    let mut o = String::new();
    let w = &s.window;
    let _ = writeln!(
        o,
        "{} {} ({}): the last {}, {} points of {}",
        s.app,
        s.stage,
        s.region,
        span(w.end - w.start),
        w.points,
        span(w.period_s as i64)
    );
    let _ = writeln!(o);
    let in_sync = s.resources.iter().filter(|r| r.state == "in_sync").count();
    let _ = writeln!(
        o,
        "resources   {in_sync} of {} in sync{}",
        s.resources.len(),
        if s.code_compared {
            ""
        } else {
            " (code not compared: no package at hand; run `claw build`)"
        }
    );
    for r in s.resources.iter().filter(|r| r.state != "in_sync") {
        let fields: Vec<String> = r
            .changes
            .iter()
            .map(|c| format!("{} {} → {}", c.field, c.from, c.to))
            .collect();
        let _ = writeln!(
            o,
            "  {:<8} {} {}{}",
            r.state,
            r.label,
            r.name,
            if fields.is_empty() {
                String::new()
            } else {
                format!(" ({})", fields.join(", "))
            }
        );
    }
    for p in &s.problems {
        let _ = writeln!(o, "  problem  {p}");
    }
    if let Some(e) = &s.endpoint {
        let _ = writeln!(o, "endpoint    {e}");
    }
    if let Some(u) = &s.function_url {
        let _ = writeln!(o, "stream url  {u}");
    }
    if let Some(d) = &s.dashboard {
        let _ = writeln!(o, "dashboard   {d}");
    }
    if let Some(a) = &s.alias {
        let _ = match a.shifting_to {
            Some((v, p)) => writeln!(
                o,
                "alias live  version {} {:.0}%, version {v} {p:.0}% (rolling out: `claw rollout status`)",
                a.version,
                100.0 - p
            ),
            None => writeln!(o, "alias live  version {} (all traffic)", a.version),
        };
    }
    let ok = s.alarms.iter().filter(|a| a.state == "OK").count();
    let _ = writeln!(
        o,
        "alarms      {} in ALARM, {ok} OK, {} without data",
        s.alarming.len(),
        s.alarms.len() - ok - s.alarming.len()
    );
    for a in s.alarms.iter().filter(|a| a.state == "ALARM") {
        let _ = writeln!(o, "  ALARM    {}", a.name);
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<16}{:>14}  per {}",
        "",
        "total",
        span(w.period_s as i64)
    );
    for f in &s.figures.figures {
        let _ = writeln!(
            o,
            "{:<16}{:>14}  {}",
            f.label,
            value(f.unit, f.total),
            sparkline(&f.points)
        );
    }
    let _ = writeln!(o);
    if s.figures.tools.is_empty() {
        let _ = writeln!(o, "tools       no tool calls in this window");
    } else {
        let _ = writeln!(
            o,
            "{:<28}{:>8}{:>10}{:>8}  calls per {}",
            "top tools",
            "calls",
            "avg ms",
            "errors",
            span(w.period_s as i64)
        );
        for t in s.figures.tools.iter().take(TOP_TOOLS) {
            let _ = writeln!(
                o,
                "  {:<26}{:>8}{:>10}{:>8}  {}",
                format!("{}/{}", t.agent, t.tool),
                grouped(t.calls.round() as i64),
                t.latency_ms
                    .map(|l| grouped(l.round() as i64))
                    .unwrap_or_else(|| "-".into()),
                grouped(t.errors.round() as i64),
                sparkline(&t.calls_points)
            );
        }
    }
    for n in &s.figures.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_the_largest_point_and_leaves_gaps_blank() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(1.0), None, Some(4.0), Some(2.0)]),
            "▁▃ █▅"
        );
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)]), "▁▁");
        assert_eq!(sparkline(&[None, None]), "  ");
    }

    #[test]
    fn values_read_as_counts_milliseconds_and_dollars() {
        assert_eq!(value(Unit::Count, Some(1_234_567.0)), "1,234,567");
        assert_eq!(value(Unit::Milliseconds, Some(812.4)), "812 ms");
        assert_eq!(value(Unit::Usd, Some(1.23456)), "$1.2346");
        assert_eq!(value(Unit::Count, None), "-");
        assert_eq!(grouped(-1000), "-1,000");
        assert_eq!(grouped(999), "999");
    }
}
