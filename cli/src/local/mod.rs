//! Running the packaged function on this machine under an embedded Lambda Runtime API.
//!
//! [`Package::open`] checks and extracts a `function.zip`; [`LocalFunction::start`]
//! starts its `bootstrap` the way Lambda does (environment, working directory,
//! Runtime API address), through qemu-user when the package is for another CPU;
//! [`LocalFunction::invoke`] sends one event and waits for the result under the
//! configured timeout. One started function serves any number of invocations, so
//! warm invocations can be measured.

pub mod runtime_api;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use claw_spec::model::Architecture;
use claw_spec::{Config, Names};

use crate::package::{archive, elf};
pub use runtime_api::{ApiEvent, FunctionError, MAX_PAYLOAD_BYTES};
use runtime_api::{Invocation, RuntimeApi};

/// Environment variables passed from claw's own environment to the function, as
/// Lambda passes the execution role's credentials. Nothing else is inherited.
pub const PASSTHROUGH_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "ANTHROPIC_BASE_URL",
];

/// Service-specific endpoint overrides (`AWS_ENDPOINT_URL_DYNAMODB`, …) pass too.
const PASSTHROUGH_PREFIX: &str = "AWS_ENDPOINT_URL_";

/// Lambda gives a function this long to initialise before it counts the time
/// against the first invocation's timeout.
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// An extracted, checked package.
#[derive(Debug)]
pub struct Package {
    dir: tempfile::TempDir,
    /// The architecture the bootstrap is built for (from its ELF header).
    pub arch: Architecture,
    /// The `agent.json` inside the package, if any.
    pub agent_json: Option<Vec<u8>>,
}

impl Package {
    /// Reads `zip`, checks that it holds an ELF `bootstrap` for a CPU Lambda runs
    /// (and for `expected`, when given), and extracts it to a private temporary
    /// directory that lives as long as the returned value.
    pub fn open(zip: &Path, expected: Option<Architecture>) -> anyhow::Result<Package> {
        let bytes = std::fs::read(zip).with_context(|| format!("cannot read {}", zip.display()))?;
        let entries = archive::read_zip(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{} cannot be run: {e}. Rebuild it with `claw build`.",
                zip.display()
            )
        })?;
        let Some(bootstrap) = entries.iter().find(|e| e.name == "bootstrap") else {
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            anyhow::bail!(
                "{} has no `bootstrap` at its root (it holds: {}). A custom-runtime Lambda \
                 package starts the executable named bootstrap; rebuild it with `claw build`.",
                zip.display(),
                if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names.join(", ")
                }
            );
        };
        let info = elf::inspect(&bootstrap.data).map_err(|e| {
            anyhow::anyhow!(
                "the bootstrap in {} cannot run on Lambda: {e}. Rebuild it with `claw build`.",
                zip.display()
            )
        })?;
        let Some(arch) = info.arch else {
            anyhow::bail!(
                "the bootstrap in {} is built for {}, which Lambda does not run (it runs x86_64 \
                 and arm64). Rebuild it with `claw build`.",
                zip.display(),
                info.machine_name()
            );
        };
        if let Some(want) = expected
            && want != arch
        {
            anyhow::bail!(
                "the bootstrap in {} is built for {}, but this package should be {}: the zip \
                 is in the wrong place or was built wrongly. Rebuild it with \
                 `claw build --arch {}`.",
                zip.display(),
                arch.lambda_name(),
                want.lambda_name(),
                want.lambda_name()
            );
        }

        let dir = tempfile::Builder::new()
            .prefix("claw-local-")
            .tempdir()
            .context("cannot create a temporary directory for the package")?;
        for e in &entries {
            let path = dir.path().join(&e.name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, &e.data)
                .with_context(|| format!("cannot extract {}", path.display()))?;
            let mode = if e.name == "bootstrap" { 0o755 } else { e.mode };
            set_mode(&path, mode)?;
        }
        let agent_json = entries
            .iter()
            .find(|e| e.name == "agent.json")
            .map(|e| e.data.clone());
        Ok(Package {
            dir,
            arch,
            agent_json,
        })
    }

    /// The extracted package: `LAMBDA_TASK_ROOT`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn bootstrap(&self) -> PathBuf {
        self.dir.path().join("bootstrap")
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

/// Where the function's own stdout and stderr go.
#[derive(Debug, Clone, Default)]
pub enum LogSink {
    /// To claw's stderr, line by line, as written.
    #[default]
    Stderr,
    /// Kept in memory; read them with [`LocalFunction::logs`].
    Capture,
    /// Dropped.
    Discard,
}

/// How to run the function: Lambda's settings for it.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub function_name: String,
    pub region: String,
    pub account: String,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub log_group: String,
    /// `function.environment`.
    pub environment: BTreeMap<String, String>,
    /// Variables taken from claw's environment ([`PASSTHROUGH_ENV`]).
    pub passthrough: Vec<(String, OsString)>,
    pub logs: LogSink,
}

impl LocalOptions {
    /// Lambda's settings from the config, credentials and endpoints from claw's
    /// environment.
    pub fn from_config(config: &Config) -> LocalOptions {
        let names = Names::new(config);
        LocalOptions {
            function_name: names.function,
            region: config.region.clone(),
            account: config.account.clone(),
            memory_mb: config.function.memory_mb,
            timeout: Duration::from_secs(u64::from(config.function.timeout_s)),
            log_group: names.log_group,
            environment: config.function.environment.clone(),
            passthrough: passthrough_from(std::env::vars_os()),
            logs: LogSink::Stderr,
        }
    }

    fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account, self.function_name
        )
    }
}

/// Picks the pass-through variables out of an environment.
pub fn passthrough_from(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(String, OsString)> {
    let mut out: Vec<(String, OsString)> = vars
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let pass = PASSTHROUGH_ENV.contains(&k.as_str())
                || (k.starts_with(PASSTHROUGH_PREFIX) && k.len() > PASSTHROUGH_PREFIX.len());
            (pass && !v.is_empty()).then_some((k, v))
        })
        .collect();
    out.sort();
    out
}

/// How a process for `arch` is started on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// The host runs the binary itself.
    Native,
    /// Through qemu user-mode emulation, with the guest's glibc under `ld_prefix`.
    Qemu { qemu: PathBuf, ld_prefix: PathBuf },
}

/// The host's architecture, if Lambda has it.
pub fn host_arch() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

impl Launcher {
    /// Native on the same CPU; otherwise qemu-user (`qemu-aarch64-static` for arm64
    /// packages on x86_64 hosts). The error says what to install.
    pub fn for_arch(arch: Architecture) -> anyhow::Result<Launcher> {
        if host_arch() == Some(arch) {
            return Ok(Launcher::Native);
        }
        let (qemu_names, ld_prefix, cross_libc) = match arch {
            Architecture::Arm64 => (
                ["qemu-aarch64-static", "qemu-aarch64"],
                "/usr/aarch64-linux-gnu",
                "libc6-arm64-cross",
            ),
            Architecture::X86_64 => (
                ["qemu-x86_64-static", "qemu-x86_64"],
                "/usr/x86_64-linux-gnu",
                "libc6-amd64-cross",
            ),
        };
        let path = std::env::var_os("PATH").unwrap_or_default();
        let qemu = qemu_names.iter().find_map(|name| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        });
        let Some(qemu) = qemu else {
            anyhow::bail!(
                "this package is for {} and this machine is {}; running it needs {} \
                 (`apt-get install qemu-user-static {cross_libc}`, or `bash scripts/setup`), \
                 which is not on PATH. Or build for this machine: `claw build --arch {}`.",
                arch.lambda_name(),
                std::env::consts::ARCH,
                qemu_names[0],
                host_arch().map(|a| a.lambda_name()).unwrap_or("x86_64")
            );
        };
        let ld_prefix = PathBuf::from(ld_prefix);
        if !ld_prefix.join("lib").is_dir() {
            anyhow::bail!(
                "qemu needs the {} C library at {} to run this package's bootstrap: \
                 `apt-get install {cross_libc}` (or `bash scripts/setup`)",
                arch.lambda_name(),
                ld_prefix.display()
            );
        }
        Ok(Launcher::Qemu { qemu, ld_prefix })
    }
}

/// What became of one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this payload.
    Response(Vec<u8>),
    /// The function reported an error.
    FunctionError(FunctionError),
    /// The function failed to initialise.
    InitError(FunctionError),
    /// The timeout passed; the process was killed.
    TimedOut { timeout: Duration },
    /// The process exited without answering.
    Exited { status: String },
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Response(_))
    }

    /// Lambda's error type and message for a failed outcome.
    pub fn error(&self, request_id: &str) -> Option<(String, String)> {
        match self {
            Outcome::Response(_) => None,
            Outcome::FunctionError(e) => Some((e.error_type.clone(), e.error_message.clone())),
            Outcome::InitError(e) => Some((
                e.error_type.clone(),
                format!("the function failed to initialise: {}", e.error_message),
            )),
            Outcome::TimedOut { timeout } => Some((
                "Sandbox.Timedout".into(),
                format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                ),
            )),
            Outcome::Exited { status } => Some((
                "Runtime.ExitError".into(),
                format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
            )),
        }
    }
}

/// One invocation's result and figures.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub request_id: String,
    pub outcome: Outcome,
    /// From handing the event to the function until its answer (Lambda's Duration).
    pub duration: Duration,
    /// From [`LocalFunction::invoke`] being called until it returned.
    pub round_trip: Duration,
    /// Spawn until the first `next` poll; set on a process's first invocation.
    pub init_duration: Option<Duration>,
    /// Peak resident memory of the process so far (VmHWM), in KiB.
    pub max_memory_kib: Option<u64>,
    pub memory_size_mb: u32,
}

impl InvokeResult {
    /// Whole milliseconds billed, rounded up: duration plus init on a cold start.
    pub fn billed_ms(&self) -> u64 {
        let total = self.duration + self.init_duration.unwrap_or_default();
        (total.as_secs_f64() * 1000.0).ceil() as u64
    }

    /// Lambda's REPORT line.
    pub fn report_line(&self) -> String {
        let mut s = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id,
            self.duration.as_secs_f64() * 1000.0,
            self.billed_ms(),
            self.memory_size_mb,
            self.max_memory_kib.map(|k| k.div_ceil(1024)).unwrap_or(0),
        );
        if let Some(init) = self.init_duration {
            s.push_str(&format!(
                "\tInit Duration: {:.2} ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        if let Outcome::TimedOut { .. } = self.outcome {
            s.push_str("\tStatus: timeout");
        } else if let Outcome::Exited { .. } = self.outcome {
            s.push_str("\tStatus: error\tError Type: Runtime.ExitError");
        }
        s
    }
}

/// A started function: its process, the Runtime API it talks to, and its logs.
pub struct LocalFunction {
    api: RuntimeApi,
    child: Option<Child>,
    pid: u32,
    spawned_at: Instant,
    /// Set when the first `next` poll arrives.
    ready_at: Option<Instant>,
    init_reported: bool,
    /// The last VmHWM read while the process ran, in KiB.
    last_hwm: Option<u64>,
    /// Why initialisation failed, for the next invocation to report.
    init_failed: Option<Outcome>,
    /// The process was killed or exited; no more invocations.
    dead: Option<String>,
    opts: LocalOptions,
    readers: Vec<JoinHandle<()>>,
    captured: Arc<Mutex<Vec<String>>>,
    launcher: Launcher,
    counter: u64,
}

impl LocalFunction {
    /// Starts the package's bootstrap under a new Runtime API. Returns once the
    /// process is spawned; initialisation is awaited by the first invocation (or
    /// [`LocalFunction::wait_ready`]).
    pub fn start(package: &Package, opts: &LocalOptions) -> anyhow::Result<LocalFunction> {
        let launcher = Launcher::for_arch(package.arch)?;
        let api = RuntimeApi::start()?;
        let env = lambda_env(opts, package.dir(), api.address());
        let bootstrap = package.bootstrap();
        let mut cmd = match &launcher {
            Launcher::Native => Command::new(&bootstrap),
            Launcher::Qemu { qemu, .. } => {
                let mut c = Command::new(qemu);
                c.arg(&bootstrap);
                c
            }
        };
        // Its own process group, so stopping it also stops anything it started.
        use std::os::unix::process::CommandExt as _;
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(package.dir())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Launcher::Qemu { ld_prefix, .. } = &launcher {
            cmd.env("QEMU_LD_PREFIX", ld_prefix);
        }
        let spawned_at = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bootstrap.display()))?;
        let pid = child.id();
        let captured = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(forward(out, opts.logs.clone(), Arc::clone(&captured)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(forward(err, opts.logs.clone(), Arc::clone(&captured)));
        }
        Ok(LocalFunction {
            api,
            child: Some(child),
            pid,
            spawned_at,
            ready_at: None,
            init_reported: false,
            init_failed: None,
            last_hwm: None,
            dead: None,
            opts: opts.clone(),
            readers,
            captured,
            launcher,
            counter: 0,
        })
    }

    /// The process id (of qemu, when emulated).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn launcher(&self) -> &Launcher {
        &self.launcher
    }

    /// The Runtime API address given to the function.
    /// Invocations sent so far.
    pub fn invocations(&self) -> u64 {
        self.counter
    }

    pub fn runtime_api(&self) -> std::net::SocketAddr {
        self.api.address()
    }

    /// The captured log lines (with [`LogSink::Capture`]).
    pub fn logs(&self) -> Vec<String> {
        self.captured.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the function polls for its first event; returns the init
    /// duration. An init error or an early exit is an `Err` carrying the outcome.
    pub fn wait_ready(&mut self) -> Result<Duration, Outcome> {
        if let Some(at) = self.ready_at {
            return Ok(at - self.spawned_at);
        }
        let limit = INIT_LIMIT.max(self.opts.timeout);
        let deadline = self.spawned_at + limit;
        loop {
            match self.next_event(deadline) {
                Waited::Event(ApiEvent::Next { at }) => {
                    self.ready_at = Some(at);
                    return Ok(at - self.spawned_at);
                }
                Waited::Event(ApiEvent::InitError { error, .. }) => {
                    self.kill("the function failed to initialise");
                    return Err(self.init_failure(Outcome::InitError(error)));
                }
                Waited::Event(ApiEvent::Rejected { reason, .. }) => self.protocol_note(&reason),
                Waited::Event(_) => {}
                Waited::Exited(status) => {
                    return Err(self.init_failure(Outcome::Exited { status }));
                }
                Waited::Deadline => {
                    self.kill("init timed out");
                    return Err(self.init_failure(Outcome::TimedOut { timeout: limit }));
                }
            }
        }
    }

    fn init_failure(&mut self, outcome: Outcome) -> Outcome {
        self.init_failed = Some(outcome.clone());
        outcome
    }

    /// Sends one event and waits for the function's answer, its error, its exit or
    /// the timeout (after which the process is killed, as Lambda does).
    pub fn invoke(&mut self, payload: &[u8]) -> anyhow::Result<InvokeResult> {
        self.invoke_as(&new_request_id(), payload)
    }

    /// [`LocalFunction::invoke`] with a request id chosen by the caller (to print
    /// Lambda's `START RequestId:` line before the function's output).
    pub fn invoke_as(&mut self, request_id: &str, payload: &[u8]) -> anyhow::Result<InvokeResult> {
        if self.dead.is_some() && self.init_reported {
            let why = self.dead.as_deref().unwrap_or_default();
            anyhow::bail!("the local function is no longer running ({why}); start it again");
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            anyhow::bail!(
                "the payload is {} bytes; Lambda accepts at most {MAX_PAYLOAD_BYTES} for a \
                 synchronous invocation",
                payload.len()
            );
        }
        let called = Instant::now();
        self.counter += 1;
        let request_id = request_id.to_string();
        let mut result = InvokeResult {
            request_id: request_id.clone(),
            outcome: Outcome::Exited {
                status: String::new(),
            },
            duration: Duration::ZERO,
            round_trip: Duration::ZERO,
            init_duration: None,
            max_memory_kib: None,
            memory_size_mb: self.opts.memory_mb,
        };
        let ready = match self.init_failed.take() {
            Some(outcome) => Err(outcome),
            None => self.wait_ready(),
        };
        if !self.init_reported {
            self.init_reported = true;
            result.init_duration = self.ready_at.map(|at| at - self.spawned_at);
        }
        if let Err(outcome) = ready {
            result.outcome = outcome;
            result.round_trip = called.elapsed();
            result.max_memory_kib = self.sample_rss();
            return Ok(result);
        }

        self.api.queue(Invocation {
            request_id: request_id.clone(),
            payload: payload.to_vec(),
            timeout: self.opts.timeout,
            function_arn: self.opts.function_arn(),
            trace_id: trace_id(),
        });
        // Until delivery the clock has not started; allow the timeout for it too.
        let mut delivered: Option<Instant> = None;
        let mut deadline = Instant::now() + self.opts.timeout;
        let outcome = loop {
            match self.next_event(deadline) {
                Waited::Event(ApiEvent::Delivered {
                    request_id: id, at, ..
                }) if id == request_id => {
                    delivered = Some(at);
                    deadline = at + self.opts.timeout;
                }
                Waited::Event(ApiEvent::Response {
                    request_id: id,
                    body,
                    at,
                }) if id == request_id => {
                    result.duration = at - delivered.unwrap_or(at);
                    break Outcome::Response(body);
                }
                Waited::Event(ApiEvent::Error {
                    request_id: id,
                    error,
                    at,
                }) if id == request_id => {
                    result.duration = at - delivered.unwrap_or(at);
                    break Outcome::FunctionError(error);
                }
                Waited::Event(ApiEvent::InitError { error, .. }) => {
                    self.kill("the function reported an init error");
                    break Outcome::InitError(error);
                }
                Waited::Event(ApiEvent::Rejected { reason, .. }) => self.protocol_note(&reason),
                Waited::Event(_) => {}
                Waited::Exited(status) => {
                    result.duration = delivered.map(|d| d.elapsed()).unwrap_or_default();
                    break Outcome::Exited { status };
                }
                Waited::Deadline => {
                    result.duration = self.opts.timeout;
                    result.max_memory_kib = self.sample_rss();
                    self.kill("timed out");
                    break Outcome::TimedOut {
                        timeout: self.opts.timeout,
                    };
                }
            }
        };
        if result.max_memory_kib.is_none() {
            result.max_memory_kib = self.sample_rss();
        }
        result.outcome = outcome;
        result.round_trip = called.elapsed();
        Ok(result)
    }

    /// Waits (up to `limit`) for the function to poll for its next event, which it
    /// does once it has finished with the previous one, so its output is flushed.
    pub fn wait_idle(&mut self, limit: Duration) -> bool {
        if self.dead.is_some() {
            return false;
        }
        let deadline = Instant::now() + limit;
        loop {
            match self.next_event(deadline) {
                Waited::Event(ApiEvent::Next { .. }) => return true,
                Waited::Event(_) => {}
                Waited::Exited(_) | Waited::Deadline => return false,
            }
        }
    }

    /// Peak resident set size so far (VmHWM of the process; of qemu and the guest
    /// together when emulated), in KiB. After the process is gone, the last value
    /// read while it ran.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let now = read_hwm(self.pid).filter(|_| self.child.is_some());
        now.max(self.last_hwm)
    }

    /// Reads VmHWM (a high-water mark kept by the kernel, so a sample is exact up
    /// to that moment) and remembers it for after the process ends.
    fn sample_rss(&mut self) -> Option<u64> {
        if self.child.is_some() {
            self.last_hwm = read_hwm(self.pid).max(self.last_hwm);
        }
        self.last_hwm
    }

    /// Stops the process and waits (briefly) for its output to drain.
    pub fn stop(mut self) -> Vec<String> {
        self.kill("stopped");
        self.join_readers();
        self.logs()
    }

    /// Waits for the output readers, which end when every writer of the pipes is
    /// gone. A stray process that kept them open does not hold claw up: after a
    /// second the readers are left to finish on their own.
    fn join_readers(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && self.readers.iter().any(|r| !r.is_finished()) {
            std::thread::sleep(Duration::from_millis(2));
        }
        for r in self.readers.drain(..) {
            if r.is_finished() {
                let _ = r.join();
            }
        }
    }

    fn kill(&mut self, why: &str) {
        if self.dead.is_none() {
            self.dead = Some(why.to_string());
        }
        if let Some(mut child) = self.child.take() {
            kill_group(self.pid);
            let _ = child.kill();
            let _ = child.wait();
        } else {
            // It exited by itself; whatever it started may still be running.
            kill_group(self.pid);
        }
    }

    fn protocol_note(&self, reason: &str) {
        if matches!(self.opts.logs, LogSink::Stderr) {
            eprintln!("claw: runtime API: {reason}");
        }
    }

    /// The next API event, the process's exit, or the deadline.
    fn next_event(&mut self, deadline: Instant) -> Waited {
        // The process is checked between short waits; events arrive without delay.
        const SLICE: Duration = Duration::from_millis(25);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Waited::Deadline;
            }
            match self.api.recv_timeout((deadline - now).min(SLICE)) {
                Ok(event) => {
                    if matches!(event, ApiEvent::Delivered { .. } | ApiEvent::Next { .. }) {
                        // Off the measured path: the function is busy or idle.
                        self.sample_rss();
                    }
                    return Waited::Event(event);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Waited::Exited("the Runtime API stopped".into());
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            self.sample_rss();
            let Some(child) = self.child.as_mut() else {
                return Waited::Exited(self.dead.clone().unwrap_or_default());
            };
            if let Ok(Some(status)) = child.try_wait() {
                // Take what it said before it went.
                if let Ok(event) = self.api.recv_timeout(Duration::from_millis(50)) {
                    return Waited::Event(event);
                }
                self.child = None;
                let status = describe_exit(status);
                self.dead = Some(format!("the process exited ({status})"));
                return Waited::Exited(status);
            }
        }
    }
}

impl Drop for LocalFunction {
    fn drop(&mut self) {
        self.kill("dropped");
        self.join_readers();
    }
}

fn read_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// SIGKILL to the process group the function leads (see [`LocalFunction::start`]).
pub fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

enum Waited {
    Event(ApiEvent),
    Exited(String),
    Deadline,
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {sig}"),
        _ => status.to_string(),
    }
}

fn forward(
    stream: impl std::io::Read + Send + 'static,
    sink: LogSink,
    captured: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            match &sink {
                LogSink::Stderr => eprintln!("{line}"),
                LogSink::Capture => {
                    if let Ok(mut c) = captured.lock() {
                        c.push(line.to_string());
                    }
                }
                LogSink::Discard => {}
            }
        }
    })
}

/// Lambda's environment for a custom runtime. Nothing is inherited from claw's
/// own environment except [`LocalOptions::passthrough`].
pub fn lambda_env(
    opts: &LocalOptions,
    task_root: &Path,
    api: std::net::SocketAddr,
) -> Vec<(String, OsString)> {
    let mut env: BTreeMap<String, OsString> = BTreeMap::new();
    for (k, v) in &opts.environment {
        env.insert(k.clone(), v.into());
    }
    let stream = log_stream_name();
    let lambda: [(&str, OsString); 17] = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string().into()),
        (
            "AWS_LAMBDA_FUNCTION_NAME",
            opts.function_name.clone().into(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            opts.memory_mb.to_string().into(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", opts.log_group.clone().into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream.into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("LAMBDA_TASK_ROOT", task_root.as_os_str().to_owned()),
        ("LAMBDA_RUNTIME_DIR", task_root.as_os_str().to_owned()),
        ("_HANDLER", "bootstrap".into()),
        ("AWS_REGION", opts.region.clone().into()),
        ("AWS_DEFAULT_REGION", opts.region.clone().into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        // Lambda has no instance metadata service; do not let SDKs wait for one.
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into()),
    ];
    for (k, v) in lambda {
        env.insert(k.to_string(), v);
    }
    for (k, v) in &opts.passthrough {
        env.insert(k.clone(), v.clone());
    }
    env.into_iter().collect()
}

/// `2025/01/31/[$LATEST]<32 hex>`, Lambda's log stream name form.
fn log_stream_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}/{m:02}/{d:02}/[$LATEST]{}", random_hex(32))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Random lowercase hex from the OS's randomness (via the std hasher's keys).
fn random_hex(len: usize) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut out = String::with_capacity(len + 16);
    let mut i = 0u64;
    while out.len() < len {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    out.truncate(len);
    out
}

/// A random UUID-shaped (version 4) request id, as Lambda's are.
pub fn new_request_id() -> String {
    let r = random_hex(32);
    format!(
        "{}-{}-4{}-8{}-{}",
        &r[0..8],
        &r[8..12],
        &r[13..16],
        &r[17..20],
        &r[20..32]
    )
}

/// An X-Ray trace header, `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        random_hex(24),
        random_hex(16)
    )
}

#[cfg(test)]
mod tests;
