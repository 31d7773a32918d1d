//! The `claw` binary under test, run hermetically, and the one type for what a run
//! produced.
//!
//! Only the claw package's tests know where the binary is
//! (`env!("CARGO_BIN_EXE_claw")`), so the caller passes it in. A [`Claw`] is a
//! recipe (cloneable); [`Claw::run`] runs it and returns an [`Output`].

use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::REGION;

/// How to run `claw` once: binary, directory, arguments, environment and stdin.
#[derive(Debug, Clone)]
pub struct Claw {
    bin: PathBuf,
    dir: PathBuf,
    args: Vec<OsString>,
    /// Applied in order after the hermetic base; `None` removes the variable.
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    limits: Option<Limits>,
}

/// A memory limit and a watchdog, for inputs that could make claw run away.
#[derive(Debug, Clone, Copy)]
struct Limits {
    address_space_kib: u64,
    timeout: Duration,
}

impl Claw {
    /// `bin` run from `dir` with an environment that ignores the machine's own AWS
    /// profile, credentials files, endpoint and claw settings: test credentials, the
    /// test region, no endpoint (see [`Claw::endpoint`]), stdin closed.
    pub fn new(bin: impl AsRef<Path>, dir: impl AsRef<Path>) -> Claw {
        let dir = dir.as_ref().to_path_buf();
        let mut c = Claw {
            bin: bin.as_ref().to_path_buf(),
            dir: dir.clone(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            limits: None,
        };
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            c = c.env(k, v);
        }
        c = c.env("AWS_CONFIG_FILE", dir.join("no-aws-config")).env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        );
        for k in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "ANTHROPIC_BASE_URL",
            "CLAW_CONFIG",
            "CLAW_STAGE",
        ] {
            c = c.env_remove(k);
        }
        c
    }

    /// Sends every AWS call to `url` (moto, or a proxy in front of it).
    pub fn endpoint(self, url: &str) -> Claw {
        self.env("AWS_ENDPOINT_URL", url)
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Claw {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Claw
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Claw {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Claw {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// Writes `data` to claw's stdin, then closes it.
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Claw {
        self.stdin = Some(data.into());
        self
    }

    /// Runs under a 1 GiB address-space limit and fails the test when claw has not
    /// finished within 20 s: for input that could make it run away.
    pub fn limited(mut self) -> Claw {
        self.limits = Some(Limits {
            address_space_kib: 1024 * 1024,
            timeout: Duration::from_secs(20),
        });
        self
    }

    /// `claw ARGS` as a person would type it, for failure messages.
    pub fn describe(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("claw {}", args.join(" "))
    }

    /// The process to start, stdout and stderr piped.
    pub fn command(&self) -> Command {
        let mut c = match self.limits {
            Some(l) => {
                let mut script = format!("ulimit -v {}; exec \"$0\"", l.address_space_kib);
                for i in 1..=self.args.len() {
                    script.push_str(&format!(" \"${i}\""));
                }
                let mut c = Command::new("sh");
                c.arg("-c").arg(script).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        c.args(&self.args).current_dir(&self.dir);
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        c
    }

    /// Starts claw and feeds its stdin; the caller waits (for runs side by side).
    pub fn spawn(&self) -> Child {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        if let Some(data) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin
                .write_all(data)
                .unwrap_or_else(|e| panic!("writing stdin of {}: {e}", self.describe()));
        }
        child
    }

    /// Runs claw to the end.
    pub fn run(&self) -> Output {
        let mut child = self.spawn();
        // Drain both pipes while waiting, so a chatty claw cannot block on a full pipe.
        let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let out = drain(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        );
        let err = drain(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        );
        let status = match self.limits {
            Some(l) => {
                let started = Instant::now();
                loop {
                    if let Some(status) = child.try_wait().expect("waiting for claw") {
                        break status;
                    }
                    if started.elapsed() > l.timeout {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!("{} did not finish within {:?}", self.describe(), l.timeout);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            None => child.wait().expect("waiting for claw"),
        };
        Output {
            command: self.describe(),
            code: status.code().unwrap_or(-1),
            stdout: out.join().expect("reading claw's stdout"),
            stderr: err.join().expect("reading claw's stderr"),
        }
    }
}

/// What one claw run produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for failure messages.
    pub command: String,
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Fails the test, showing both streams, unless claw exited 0.
    #[track_caller]
    pub fn ok(self) -> Output {
        assert_eq!(
            self.code, 0,
            "{} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.stdout, self.stderr
        );
        self
    }

    /// Fails the test unless claw exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Output {
        assert_eq!(
            self.code, code,
            "{} exited {}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout parsed as exactly one JSON document; fails the test when it is not
    /// JSON or holds more than one document (the README promises one).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let mut docs = serde_json::Deserializer::from_str(&self.stdout).into_iter();
        let first: serde_json::Value = match docs.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => panic!(
                "{}: stdout is not JSON ({e}):\n{}",
                self.command, self.stdout
            ),
            None => panic!(
                "{}: stdout is empty; stderr:\n{}",
                self.command, self.stderr
            ),
        };
        if let Some(next) = docs.next() {
            panic!(
                "{}: stdout holds more than one JSON document (next: {next:?}):\n{}",
                self.command, self.stdout
            );
        }
        first
    }

    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// stdout then stderr, for searching everything claw said.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The bar for bad input: exit 1, no panic or backtrace, one short paragraph
    /// (1 to 8 lines) on stderr that says `error` and names every one of `mentions`.
    #[track_caller]
    pub fn refused(&self, mentions: &[&str]) -> &Output {
        let o = self;
        assert_eq!(o.code, 1, "exit code {}\nstderr:\n{}", o.code, o.stderr);
        assert!(!o.stderr.contains("panicked"), "panic:\n{}", o.stderr);
        assert!(!o.stderr.contains("RUST_BACKTRACE"), "{}", o.stderr);
        let lines = o.stderr.lines().filter(|l| !l.trim().is_empty()).count();
        assert!(
            (1..=8).contains(&lines),
            "expected one short paragraph, got {lines} lines:\n{}",
            o.stderr
        );
        assert!(o.stderr.contains("error"), "{}", o.stderr);
        for m in mentions {
            assert!(o.stderr.contains(m), "`{m}` not in:\n{}", o.stderr);
        }
        self
    }
}

/// Sets each of `names` to `value` with `claw secrets set` (reading stdin), through
/// `claw`'s endpoint and environment.
#[track_caller]
pub fn set_secrets(claw: &Claw, names: &[&str], value: &str) {
    for name in names {
        claw.clone()
            .args(["secrets", "set", name])
            .stdin(value.as_bytes())
            .run()
            .ok();
    }
}
