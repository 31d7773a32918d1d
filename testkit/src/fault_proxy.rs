//! A fault-injecting HTTP proxy for AWS calls, between claw and moto.
//!
//! Point `AWS_ENDPOINT_URL` at [`FaultProxy::endpoint`]. Each request is either
//! forwarded to the upstream (moto) or answered with a fault chosen by a seeded
//! RNG: throttling (HTTP 400 with the protocol's throttling error, or 429), a 500
//! or 503, a slow response, or a connection closed before any answer. Faults are
//! injected *before* the request reaches moto, so they model failures the SDK may
//! safely retry; a "sticky" rule fails one operation every time, to model a fault
//! that never clears. Loopback only; the listener stops when the proxy is dropped.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::realism::wire::{Request, read_request};
use crate::realism::{RealAws, Realism};

/// Fault rates, each the probability that one request gets that fault.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub seed: u64,
    /// HTTP 400 with the protocol's throttling error code.
    pub throttle_400: f64,
    /// HTTP 429 Too Many Requests (with a throttling error code).
    pub throttle_429: f64,
    /// HTTP 500 InternalFailure.
    pub error_500: f64,
    /// HTTP 503 ServiceUnavailable.
    pub error_503: f64,
    /// Forward, but only after this delay.
    pub slow: f64,
    pub slow_delay: Duration,
    /// Close the connection without answering.
    pub reset: f64,
    /// Operations (e.g. `PutMetricAlarm`) that always get a 400 throttling error.
    pub sticky: Vec<String>,
}

/// What was injected, by kind.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub forwarded: AtomicU64,
    pub throttle_400: AtomicU64,
    pub throttle_429: AtomicU64,
    pub error_500: AtomicU64,
    pub error_503: AtomicU64,
    pub slow: AtomicU64,
    pub reset: AtomicU64,
    pub sticky: AtomicU64,
}

impl Counts {
    pub fn injected(&self) -> u64 {
        self.throttle_400.load(Ordering::Relaxed)
            + self.throttle_429.load(Ordering::Relaxed)
            + self.error_500.load(Ordering::Relaxed)
            + self.error_503.load(Ordering::Relaxed)
            + self.reset.load(Ordering::Relaxed)
            + self.sticky.load(Ordering::Relaxed)
    }

    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} requests: {} forwarded ({} slowed), {} throttled (400), {} throttled (429), {} HTTP 500, {} HTTP 503, {} resets, {} sticky",
            g(&self.requests),
            g(&self.forwarded),
            g(&self.slow),
            g(&self.throttle_400),
            g(&self.throttle_429),
            g(&self.error_500),
            g(&self.error_503),
            g(&self.reset),
            g(&self.sticky)
        )
    }
}

pub struct FaultProxy {
    addr: SocketAddr,
    pub counts: Arc<Counts>,
    faults: Arc<Mutex<Faults>>,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
    /// AWS's behaviour where moto's differs, when on (see [`crate::realism`]).
    pub realism: Option<Arc<RealAws>>,
}

/// A small deterministic generator (splitmix64), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (such as `http://127.0.0.1:5000`).
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        FaultProxy::start_with(upstream, faults, None)
    }

    /// A proxy that also answers as AWS does where moto does not.
    pub fn realistic(upstream: &str, faults: Faults, realism: Realism) -> FaultProxy {
        FaultProxy::start_with(upstream, faults, Some(Arc::new(RealAws::new(realism))))
    }

    fn start_with(upstream: &str, faults: Faults, realism: Option<Arc<RealAws>>) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream must be http://IP:PORT");
        assert!(
            upstream.ip().is_loopback(),
            "the proxy only forwards to loopback"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let counts = Arc::new(Counts::default());
        let rng = Arc::new(Mutex::new(Rng(faults.seed)));
        let faults = Arc::new(Mutex::new(faults));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, f, s, real) = (
            counts.clone(),
            faults.clone(),
            stop.clone(),
            realism.clone(),
        );
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (c, f, r, real) = (c.clone(), f.clone(), rng.clone(), real.clone());
                        thread::spawn(move || {
                            let _ = serve(stream, upstream, &c, &f, &r, real.as_deref());
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        FaultProxy {
            addr,
            counts,
            faults,
            stop,
            handle: Some(handle),
            realism,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the fault rates (for a later, clean run through the same proxy).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn fault_response(req: &Request, status: u16, code: &str, message: &str) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    let content_type = req.header("content-type").unwrap_or_default().to_string();
    let (ctype, body) = if content_type.contains("x-www-form-urlencoded") {
        (
            "text/xml".to_string(),
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        )
    } else if content_type.contains("x-amz-json") {
        (
            content_type.clone(),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        )
    } else {
        (
            "application/json".to_string(),
            format!("{{\"message\":\"{message}\"}}"),
        )
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nx-amzn-ErrorType: {code}\r\nx-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn forward(req: &Request, upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = String::new();
    for (i, line) in req.head.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0
            && (lower.starts_with("connection:")
                || lower.starts_with("keep-alive:")
                || lower.starts_with("transfer-encoding:")
                || lower.starts_with("content-length:"))
        {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    // Make the client open a new connection for its next request, as we do.
    let text_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..text_end]).to_string();
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0 && (lower.starts_with("connection:") || lower.starts_with("keep-alive:")) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n");
    let mut bytes = out.into_bytes();
    // What follows the head is "\r\n\r\n" + body; the head lines above already
    // end in "\r\n", so one "\r\n" (the blank line) and the body remain.
    match response.get(text_end + 2..) {
        Some(rest) => bytes.extend_from_slice(rest),
        None => bytes.extend_from_slice(b"\r\n"),
    }
    Ok(bytes)
}

fn serve(
    stream: TcpStream,
    upstream: SocketAddr,
    counts: &Counts,
    faults: &Mutex<Faults>,
    rng: &Mutex<Rng>,
    realism: Option<&RealAws>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let f = faults.lock().unwrap().clone();
    let op = req.operation();
    if f.sticky.iter().any(|s| op.contains(s.as_str())) {
        counts.sticky.fetch_add(1, Ordering::Relaxed);
        writer.write_all(&fault_response(
            &req,
            400,
            "ThrottlingException",
            "Rate exceeded (injected, sticky)",
        ))?;
        return Ok(());
    }
    let roll = rng.lock().unwrap().next_f64();
    let mut edge = 0.0;
    let mut hit = |p: f64| {
        edge += p;
        roll < edge
    };
    if hit(f.throttle_400) {
        counts.throttle_400.fetch_add(1, Ordering::Relaxed);
        let code = if req
            .header("content-type")
            .unwrap_or_default()
            .contains("x-www-form-urlencoded")
        {
            "Throttling"
        } else {
            "ThrottlingException"
        };
        writer.write_all(&fault_response(&req, 400, code, "Rate exceeded (injected)"))?;
    } else if hit(f.throttle_429) {
        counts.throttle_429.fetch_add(1, Ordering::Relaxed);
        writer.write_all(&fault_response(
            &req,
            429,
            "TooManyRequestsException",
            "Too many requests (injected)",
        ))?;
    } else if hit(f.error_500) {
        counts.error_500.fetch_add(1, Ordering::Relaxed);
        writer.write_all(&fault_response(
            &req,
            500,
            "InternalFailure",
            "Internal failure (injected)",
        ))?;
    } else if hit(f.error_503) {
        counts.error_503.fetch_add(1, Ordering::Relaxed);
        writer.write_all(&fault_response(
            &req,
            503,
            "ServiceUnavailable",
            "Service unavailable (injected)",
        ))?;
    } else if hit(f.reset) {
        counts.reset.fetch_add(1, Ordering::Relaxed);
        writer.shutdown(Shutdown::Both)?;
    } else {
        if hit(f.slow) {
            counts.slow.fetch_add(1, Ordering::Relaxed);
            thread::sleep(f.slow_delay);
        }
        let response = match realism {
            Some(real) => real.handle(&req, &|r| forward(r, upstream))?,
            None => forward(&req, upstream)?,
        };
        counts.forwarded.fetch_add(1, Ordering::Relaxed);
        writer.write_all(&response)?;
    }
    writer.flush()?;
    Ok(())
}
