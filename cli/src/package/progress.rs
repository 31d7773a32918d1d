//! Build progress on stderr: a spinner on a terminal, plain lines otherwise (CI
//! logs keep every step, a terminal keeps one line).

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How to show build progress (the deploy's per-resource spinners are `aws::progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildProgress {
    /// A spinner when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Plain lines.
    Plain,
    /// Nothing (library callers that print their own).
    Quiet,
}

/// Shows steps and the tool's own output lines.
pub struct Reporter {
    bar: Option<ProgressBar>,
    plain: bool,
    verbose: bool,
}

impl Reporter {
    pub fn new(mode: BuildProgress, verbose: bool) -> Reporter {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            BuildProgress::Auto if terminal => {
                let bar = ProgressBar::new_spinner();
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(120));
                Reporter {
                    bar: Some(bar),
                    plain: false,
                    verbose,
                }
            }
            BuildProgress::Auto | BuildProgress::Plain => Reporter {
                bar: None,
                plain: true,
                verbose,
            },
            BuildProgress::Quiet => Reporter {
                bar: None,
                plain: false,
                verbose: false,
            },
        }
    }

    /// A step, such as "building agent-fn for arm64".
    pub fn step(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
            if self.verbose {
                bar.println(msg);
            }
        } else if self.plain {
            eprintln!("{msg}");
        }
    }

    /// Detail shown with -v.
    pub fn detail(&self, msg: &str) {
        if !self.verbose {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.println(msg);
        } else if self.plain {
            eprintln!("{msg}");
        }
    }

    /// A line of cargo's output: the spinner shows the latest one; plain mode
    /// prints them with -v only (CI logs stay short unless asked).
    pub fn tool_line(&self, line: &str) {
        if let Some(bar) = &self.bar {
            let trimmed = line.trim();
            if !trimmed.is_empty() {
                let short: String = trimmed.chars().take(100).collect();
                bar.set_message(short);
            }
            if self.verbose {
                bar.println(line);
            }
        } else if self.plain && self.verbose {
            eprintln!("{line}");
        }
    }

    /// Clears the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish();
    }
}
