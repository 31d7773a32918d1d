//! `claw test --junit FILE`: the results in the JUnit XML format CI systems read
//! (one `testsuite`, a `testcase` per case, `failure` or `skipped` inside).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::run::{Outcome, Status};

pub fn write(path: &Path, outcomes: &[Outcome]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, render(outcomes)).with_context(|| format!("writing {}", path.display()))
}

pub fn render(outcomes: &[Outcome]) -> String {
    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    let time: f64 = outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites><testsuite name=\"claw test\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">",
        outcomes.len(),
        count(Status::Failed),
        count(Status::Skipped)
    );
    for o in outcomes {
        let _ = write!(
            x,
            "  <testcase classname=\"tests.agents\" name=\"{}\" time=\"{:.3}\"",
            esc(&o.name),
            o.duration.as_secs_f64()
        );
        match o.status {
            Status::Passed => x.push_str("/>\n"),
            Status::Skipped => {
                let _ = writeln!(x, "><skipped message=\"{}\"/></testcase>", esc(&o.summary));
            }
            Status::Failed => {
                let mut body = String::new();
                if let Some(d) = &o.divergence {
                    body.push_str(&d.detail);
                }
                for f in &o.failures {
                    let _ = writeln!(body, "{}: {}: {}", f.file, f.rule, f.message);
                }
                for l in &o.log {
                    let _ = writeln!(body, "{l}");
                }
                let _ = writeln!(
                    x,
                    "><failure message=\"{}\">{}</failure></testcase>",
                    esc(&o.summary),
                    esc(&body)
                );
            }
        }
    }
    x.push_str("</testsuite></testsuites>\n");
    x
}

/// XML text and attribute escaping; control characters XML 1.0 forbids are dropped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
