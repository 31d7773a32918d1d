//! What the supervisor does to and reads from the function's process: its peak
//! memory, its process group's end, its exit status in words, and its output
//! lines forwarded where the caller wants them.

use std::io::{BufRead as _, BufReader};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::launcher::LogSink;

pub(super) fn read_hwm(pid: u32) -> Option<u64> {
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

pub(super) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {sig}"),
        _ => status.to_string(),
    }
}

pub(super) fn forward(
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
                LogSink::Channel(tx) => {
                    let _ = tx.send(line.to_string());
                }
            }
        }
    })
}
