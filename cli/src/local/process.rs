//! The started function: its process (in its own process group), the Runtime API
//! it talks to, its output, and the supervision that turns API events, exits and
//! deadlines into [`InvocationResult`]s, sampling the process's peak memory off
//! the measured path.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::child::{describe_exit, forward, kill_group, read_hwm};
use super::env::lambda_env;
use super::ids::{new_request_id, trace_header};
use super::launcher::{Launcher, LocalOptions, LogSink};
use super::package::Package;
use super::report::{InvocationReport, InvocationResult};
use super::runtime_api::{ApiEvent, Invocation, MAX_PAYLOAD_BYTES, RuntimeApi};
use super::xray::Collector;

/// Lambda gives a function this long to initialise before it counts the time
/// against the first invocation's timeout.
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// How long after an answer to wait for more X-Ray datagrams. The function sends
/// them before it answers, so they are normally already there.
const TRACE_QUIET: Duration = Duration::from_millis(50);

/// A started function: its process, the Runtime API it talks to, and its logs.
pub struct LocalFunction {
    api: RuntimeApi,
    xray: Collector,
    child: Option<Child>,
    pid: u32,
    spawned_at: Instant,
    /// Set when the first `next` poll arrives.
    ready_at: Option<Instant>,
    init_reported: bool,
    /// The last VmHWM read while the process ran, in KiB.
    last_hwm: Option<u64>,
    /// Why initialisation failed, for the next invocation to report.
    init_failed: Option<InvocationResult>,
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
        let xray = Collector::start()?;
        let env = lambda_env(opts, package.dir(), api.address(), xray.address());
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
            xray,
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

    /// Invocations sent so far.
    pub fn invocations(&self) -> u64 {
        self.counter
    }

    /// The Runtime API address given to the function.
    pub fn runtime_api(&self) -> std::net::SocketAddr {
        self.api.address()
    }

    /// The captured log lines (with [`LogSink::Capture`]).
    pub fn logs(&self) -> Vec<String> {
        self.captured.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the function polls for its first event; returns the init
    /// duration. An init error or an early exit is an `Err` carrying the outcome.
    pub fn wait_ready(&mut self) -> Result<Duration, InvocationResult> {
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
                    return Err(self.init_failure(InvocationResult::InitError(error)));
                }
                Waited::Event(ApiEvent::Rejected { reason, .. }) => self.protocol_note(&reason),
                Waited::Event(_) => {}
                Waited::Exited(status) => {
                    return Err(self.init_failure(InvocationResult::Exited { status }));
                }
                Waited::Deadline => {
                    self.kill("init timed out");
                    return Err(self.init_failure(InvocationResult::TimedOut { timeout: limit }));
                }
            }
        }
    }

    fn init_failure(&mut self, outcome: InvocationResult) -> InvocationResult {
        self.init_failed = Some(outcome.clone());
        outcome
    }

    /// Sends one event and waits for the function's answer, its error, its exit or
    /// the timeout (after which the process is killed, as Lambda does).
    pub fn invoke(&mut self, payload: &[u8]) -> anyhow::Result<InvocationReport> {
        self.invoke_as(&new_request_id(), payload)
    }

    /// [`LocalFunction::invoke`] with a request id chosen by the caller (to print
    /// Lambda's `START RequestId:` line before the function's output).
    pub fn invoke_as(
        &mut self,
        request_id: &str,
        payload: &[u8],
    ) -> anyhow::Result<InvocationReport> {
        self.invoke_streaming(request_id, payload, &mut |_| {})
    }

    /// [`LocalFunction::invoke_as`], handing each piece of a streamed response
    /// to `on_chunk` as it arrives (a buffered response never calls it).
    pub fn invoke_streaming(
        &mut self,
        request_id: &str,
        payload: &[u8],
        on_chunk: &mut dyn FnMut(&[u8]),
    ) -> anyhow::Result<InvocationReport> {
        self.invoke_streaming_with(request_id, payload, &mut |_| {}, on_chunk)
    }

    /// [`LocalFunction::invoke_streaming`], also handing the stream's HTTP
    /// prelude (`None` when it sent none) to `on_start` before the first chunk.
    pub fn invoke_streaming_with(
        &mut self,
        request_id: &str,
        payload: &[u8],
        on_start: &mut dyn FnMut(Option<&serde_json::Value>),
        on_chunk: &mut dyn FnMut(&[u8]),
    ) -> anyhow::Result<InvocationReport> {
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
        let mut result = InvocationReport {
            request_id: request_id.clone(),
            outcome: InvocationResult::Exited {
                status: String::new(),
            },
            duration: Duration::ZERO,
            round_trip: Duration::ZERO,
            init_duration: None,
            max_memory_kib: None,
            memory_size_mb: self.opts.memory_mb,
            spans: Vec::new(),
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

        let (trace_id, trace_root) = trace_header(self.opts.tracing);
        self.api.queue(Invocation {
            request_id: request_id.clone(),
            payload: payload.to_vec(),
            timeout: self.opts.timeout,
            function_arn: self.opts.function_arn(),
            trace_id,
        });
        // Until delivery the clock has not started; allow the timeout for it too.
        let mut delivered: Option<Instant> = None;
        let mut prelude = None;
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
                    break InvocationResult::Response(body);
                }
                Waited::Event(ApiEvent::Error {
                    request_id: id,
                    error,
                    at,
                }) if id == request_id => {
                    result.duration = at - delivered.unwrap_or(at);
                    break InvocationResult::FunctionError(error);
                }
                Waited::Event(ApiEvent::StreamStart {
                    request_id: id,
                    prelude: p,
                    ..
                }) if id == request_id => {
                    on_start(p.as_ref());
                    prelude = p;
                }
                Waited::Event(ApiEvent::StreamChunk {
                    request_id: id,
                    bytes,
                    ..
                }) if id == request_id => on_chunk(&bytes),
                Waited::Event(ApiEvent::StreamEnd {
                    request_id: id,
                    bytes,
                    error,
                    at,
                }) if id == request_id => {
                    result.duration = at - delivered.unwrap_or(at);
                    break match error {
                        Some(e) => InvocationResult::FunctionError(e),
                        None => InvocationResult::Streamed {
                            bytes,
                            prelude: prelude.take(),
                        },
                    };
                }
                Waited::Event(ApiEvent::InitError { error, .. }) => {
                    self.kill("the function reported an init error");
                    break InvocationResult::InitError(error);
                }
                Waited::Event(ApiEvent::Rejected { reason, .. }) => self.protocol_note(&reason),
                Waited::Event(_) => {}
                Waited::Exited(status) => {
                    result.duration = delivered.map(|d| d.elapsed()).unwrap_or_default();
                    break InvocationResult::Exited { status };
                }
                Waited::Deadline => {
                    result.duration = self.opts.timeout;
                    result.max_memory_kib = self.sample_rss();
                    self.kill("timed out");
                    break InvocationResult::TimedOut {
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
        if self.opts.tracing {
            result.spans = self.xray.spans_of(&trace_root, TRACE_QUIET);
        }
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

enum Waited {
    Event(ApiEvent),
    Exited(String),
    Deadline,
}
