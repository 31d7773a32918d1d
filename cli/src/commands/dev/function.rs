//! The one warm function `claw dev` runs: packaged from the current agent.yaml
//! as `claw invoke --local` packages it (`package::ensure_built`), started under
//! claw's embedded Runtime API with the configured timeout and memory, and
//! started again after a timeout, a crash or a change of config or source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, SystemTime};

use claw_spec::Config;
use claw_spec::model::Architecture;

use crate::local::{
    InvocationReport, InvocationResult, LocalFunction, LocalOptions, LogSink, Package,
};
use crate::package::{self, BuildParams, Source};

/// Where the function comes from (the command line's `--arch`, `--zip`,
/// `--from-source`).
#[derive(Debug, Clone)]
pub struct Origin {
    pub config_path: PathBuf,
    pub arch: Option<Architecture>,
    pub zip: Option<PathBuf>,
    pub from_source: bool,
}

pub struct Warm {
    package: Package,
    opts: LocalOptions,
    running: Option<LocalFunction>,
    /// The running process's id, for Ctrl-C.
    pid: Arc<AtomicU32>,
    /// The agent-fn sources' fingerprint when packaged from a claw checkout.
    source_stamp: Option<(PathBuf, SystemTime)>,
}

impl Warm {
    /// Packages `config` and prepares (not yet starts) the function.
    pub fn new(
        config: &Config,
        origin: &Origin,
        logs: Sender<String>,
        pid: Arc<AtomicU32>,
    ) -> anyhow::Result<Warm> {
        let (package, source_stamp) = package_for(config, origin)?;
        let mut opts = LocalOptions::from_config(config);
        opts.logs = LogSink::Channel(logs);
        Ok(Warm {
            package,
            opts,
            running: None,
            pid,
            source_stamp,
        })
    }

    pub fn arch(&self) -> Architecture {
        self.package.arch
    }

    pub fn timeout(&self) -> Duration {
        self.opts.timeout
    }

    /// Whether the function sends its X-Ray subsegments (`function.tracing: active`).
    pub fn traced(&self) -> bool {
        self.opts.tracing
    }

    pub fn memory_mb(&self) -> u32 {
        self.opts.memory_mb
    }

    /// Whether agent-fn's sources changed since packaging (claw checkouts only).
    pub fn source_changed(&self) -> bool {
        self.source_stamp
            .as_ref()
            .is_some_and(|(root, at)| newest_source(root) != Some(*at))
    }

    /// Starts the function now (so the first request does not wait for init).
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.running.is_none() {
            let f = LocalFunction::start(&self.package, &self.opts)?;
            self.pid.store(f.pid(), Ordering::SeqCst);
            self.running = Some(f);
        }
        Ok(())
    }

    /// One invocation; a streamed answer's prelude goes to `on_start`, its
    /// chunks to `on_chunk` as they arrive. After a timeout, an exit or an init failure the process is gone,
    /// and the next invocation starts a new one, as Lambda does.
    pub fn invoke(
        &mut self,
        request_id: &str,
        payload: &[u8],
        on_start: &mut dyn FnMut(Option<&serde_json::Value>),
        on_chunk: &mut dyn FnMut(&[u8]),
    ) -> anyhow::Result<InvocationReport> {
        self.start()?;
        let f = self.running.as_mut().expect("started above");
        let report = f.invoke_streaming_with(request_id, payload, on_start, on_chunk)?;
        match report.outcome {
            InvocationResult::TimedOut { .. }
            | InvocationResult::Exited { .. }
            | InvocationResult::InitError(_) => self.stop(),
            _ => {
                // Its post-invocation output (the audit line) is written before
                // it polls for the next event.
                f.wait_idle(Duration::from_secs(2));
            }
        }
        Ok(report)
    }

    /// Stops the process, if one runs.
    pub fn stop(&mut self) {
        if let Some(f) = self.running.take() {
            self.pid.store(0, Ordering::SeqCst);
            drop(f.stop());
        }
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The package for `config`: `--zip`, or packaged now as `claw build` would.
fn package_for(
    config: &Config,
    origin: &Origin,
) -> anyhow::Result<(Package, Option<(PathBuf, SystemTime)>)> {
    if let Some(zip) = &origin.zip {
        return Ok((Package::open(zip, origin.arch)?, None));
    }
    let params = BuildParams::new(config, &origin.config_path, origin.arch, origin.from_source)?;
    let stamp = match &params.source {
        Source::Workspace(ws) => newest_source(&ws.root).map(|t| (ws.root.clone(), t)),
        Source::Prebuilt { .. } => None,
    };
    let built = package::ensure_built(&params)?;
    Ok((Package::open(&built.zip_path, Some(built.arch))?, stamp))
}

/// The newest modification time under the function's sources (agent-fn and
/// the crates it uses): a cheap "did anything change" before each request.
fn newest_source(root: &Path) -> Option<SystemTime> {
    fn walk(dir: &Path, newest: &mut Option<SystemTime>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                walk(&e.path(), newest);
            } else if let Ok(m) = meta.modified() {
                *newest = (*newest).max(Some(m));
            }
        }
    }
    let mut newest = None;
    for d in ["agent-fn", "spec/src", "jobs/src"] {
        walk(&root.join(d), &mut newest);
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touched_source_file_changes_the_stamp() {
        let root = tempfile::tempdir().unwrap();
        let src = root.path().join("agent-fn/src");
        std::fs::create_dir_all(&src).unwrap();
        assert_eq!(newest_source(root.path()), None);
        std::fs::write(src.join("main.rs"), "fn main() {}").unwrap();
        let before = newest_source(root.path()).unwrap();
        let later = before + Duration::from_secs(5);
        let f = std::fs::File::options()
            .append(true)
            .open(src.join("main.rs"))
            .unwrap();
        f.set_modified(later).unwrap();
        assert_eq!(newest_source(root.path()), Some(later));
        // The crates the function uses count too.
        std::fs::create_dir_all(root.path().join("spec/src")).unwrap();
        let spec = root.path().join("spec/src/lib.rs");
        std::fs::write(&spec, "").unwrap();
        let newer = later + Duration::from_secs(5);
        std::fs::File::options()
            .append(true)
            .open(&spec)
            .unwrap()
            .set_modified(newer)
            .unwrap();
        assert_eq!(newest_source(root.path()), Some(newer));
    }
}
