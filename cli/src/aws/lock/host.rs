//! Who a lock holder is, and whether it is a dead process on this machine.

/// What a holder whose host could not be read calls itself. Never taken for this
/// host: two machines that cannot read their names would take each other's locks.
pub const UNKNOWN_HOST: &str = "unknown-host";

/// This machine's name, from gethostname(2); `None` when it cannot be read.
pub fn hostname() -> Option<String> {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h != UNKNOWN_HOST)
}

/// Whether process `pid` exists on this machine, by `kill(pid, 0)`: ESRCH means
/// there is no such process; EPERM means there is one that belongs to someone
/// else. Where that cannot be asked, every process counts as alive.
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    // 0 and negative pids name process groups, not a process.
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    if raw <= 0 {
        return true;
    }
    !matches!(kill(Pid::from_raw(raw), None), Err(Errno::ESRCH))
}

#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> bool {
    true
}

/// Whether a holder recorded as `host`/`pid` is a process of this machine that no
/// longer runs. A holder on an unknown host is never this machine's.
pub fn dead_here(host: &str, pid: u32, this_host: Option<&str>) -> bool {
    match this_host {
        Some(me) => host != UNKNOWN_HOST && host == me && !process_alive(pid),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_comes_from_kill_zero_and_unknown_hosts_are_never_ours() {
        let me = std::process::id();
        assert!(process_alive(me));
        // PID 1 runs as another user or as root: EPERM or Ok, alive either way.
        assert!(process_alive(1));
        // A pid beyond the kernel's maximum (4,194,304 on Linux) does not exist.
        assert!(!process_alive(99_999_999));
        assert!(
            process_alive(0),
            "0 names a process group, not a dead process"
        );

        let host = hostname().expect("gethostname(2) works here");
        assert!(dead_here(&host, 99_999_999, Some(&host)));
        assert!(!dead_here(&host, me, Some(&host)));
        assert!(!dead_here("another-host", 99_999_999, Some(&host)));
        assert!(!dead_here(UNKNOWN_HOST, 99_999_999, Some(UNKNOWN_HOST)));
        assert!(!dead_here(UNKNOWN_HOST, 99_999_999, None));
        assert!(!dead_here(&host, 99_999_999, None));
    }
}
