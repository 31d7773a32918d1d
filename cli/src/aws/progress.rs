//! One line per resource while applying: an indicatif spinner per resource on a
//! terminal, plain lines otherwise (CI logs stay readable).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Where progress goes. Plain lines go to stdout for text output and to stderr
/// when stdout carries JSON.
#[derive(Clone)]
pub struct ApplyProgress {
    multi: Option<MultiProgress>,
    to_stderr: bool,
}

impl ApplyProgress {
    /// Spinners when stderr is a terminal, plain lines otherwise.
    pub fn new(json: bool) -> ApplyProgress {
        let multi = if std::io::stderr().is_terminal() {
            Some(MultiProgress::new())
        } else {
            None
        };
        ApplyProgress {
            multi,
            to_stderr: json,
        }
    }

    /// Starts one resource's step; `what` is `execution role crm-leads-dev-exec`.
    pub fn start(&self, verb: &str, what: &str) -> Step {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {msg} {elapsed:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(format!("{verb} {what}"));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Step {
            bar,
            what: what.to_string(),
            started: Instant::now(),
            to_stderr: self.to_stderr,
        }
    }
}

/// One resource being changed.
pub struct Step {
    bar: Option<ProgressBar>,
    what: String,
    started: Instant,
    to_stderr: bool,
}

impl Step {
    /// Ends the step: `created execution role x (0.2 s)`.
    pub fn done(self, verb: &str) {
        let line = format!(
            "  {verb} {} ({:.1} s)",
            self.what,
            self.started.elapsed().as_secs_f64()
        );
        self.finish(line);
    }

    /// Ends the step as failed; the caller reports the error itself.
    pub fn failed(self) {
        let line = format!("  FAILED {}", self.what);
        self.finish(line);
    }

    fn finish(self, line: String) {
        match &self.bar {
            Some(bar) => {
                // The finished line drops the spinner and the running clock.
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                bar.finish_with_message(line);
            }
            None if self.to_stderr => eprintln!("{line}"),
            None => println!("{line}"),
        }
    }
}

/// Runs `fut` as one step: prints `done` on success, marks it failed otherwise.
pub async fn step<T, F>(
    progress: &ApplyProgress,
    verb: &str,
    done: &str,
    what: &str,
    fut: F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let s = progress.start(verb, what);
    match fut.await {
        Ok(v) => {
            s.done(done);
            Ok(v)
        }
        Err(e) => {
            s.failed();
            Err(e)
        }
    }
}
