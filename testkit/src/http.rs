//! A small HTTP/1.1 server for test doubles: one thread per connection, kept
//! alive between requests as real APIs do, each request answered by a handler.
//!
//! tiny_http 0.12 hands accepted connections to a pool that can leave one in its
//! queue with no thread to serve it when several arrive at once (its count of
//! idle threads still includes threads already woken for earlier connections):
//! a client that opened eight connections together then waited, without an
//! answer, until another connection closed. A thread per connection cannot do
//! that, and a handler may simply sleep to play a slow server.
//!
//! Dropping the [`Server`] closes every open connection and stops accepting.

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use crate::realism::wire::{Request, Response};
use crate::realism::wire::{read_request, reason};

type Handler = dyn Fn(Request) -> Reply + Send + Sync;

/// What a handler answers: a whole response, or one sent in chunks as they
/// come (`Transfer-Encoding: chunked`), each after its wait: a server that
/// streams.
pub enum Reply {
    Whole(Response),
    Chunked {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<(Duration, Vec<u8>)>,
        /// Told the index of each chunk and when it was written (flushed).
        on_sent: Option<OnSent>,
    },
}

/// See [`Reply::Chunked`].
pub type OnSent = Box<dyn FnMut(usize, Instant) + Send>;

impl From<Response> for Reply {
    fn from(r: Response) -> Reply {
        Reply::Whole(r)
    }
}

/// A running server on 127.0.0.1; stopped on drop.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on an ephemeral loopback port and answers every request with
    /// `handler`, called on the connection's own thread.
    pub fn start(handler: impl Fn(Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("test server: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("test server: local address");
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let (stop, open) = (Arc::clone(&stop), Arc::clone(&open));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Ok(clone) = stream.try_clone() {
                        lock(&open).push(clone);
                    }
                    let handler = Arc::clone(&handler);
                    thread::spawn(move || {
                        let _ = serve(stream, &*handler);
                    });
                }
            })
        };
        Server {
            addr,
            stop,
            open,
            accept: Some(accept),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with one last connection, which it drops.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for stream in lock(&self.open).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking handler must not stop the other connections.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves one connection until the client closes it or asks to.
fn serve(stream: TcpStream, handler: &Handler) -> std::io::Result<()> {
    // As API servers do: a small write (a streamed event) goes out at once
    // instead of waiting for the peer's delayed ACK of the one before.
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head_only = req.method() == "HEAD";
        match handler(req) {
            Reply::Whole(response) => {
                let mut bytes = head_bytes(
                    response.status,
                    &response.headers,
                    Some(response.body.len()),
                    close,
                );
                if !head_only {
                    bytes.extend_from_slice(&response.body);
                }
                writer.write_all(&bytes)?;
            }
            Reply::Chunked {
                status,
                headers,
                chunks,
                mut on_sent,
            } => {
                let bytes = head_bytes(status, &headers, None, close);
                writer.write_all(&bytes)?;
                writer.flush()?;
                for (i, (wait, chunk)) in chunks.into_iter().enumerate() {
                    if !wait.is_zero() {
                        thread::sleep(wait);
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    // One write per chunk: its framing and data leave together.
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(&chunk);
                    framed.extend_from_slice(b"\r\n");
                    writer.write_all(&framed)?;
                    writer.flush()?;
                    if let Some(f) = on_sent.as_mut() {
                        f(i, Instant::now());
                    }
                }
                writer.write_all(b"0\r\n\r\n")?;
            }
        }
        writer.flush()?;
        if close {
            break;
        }
    }
    Ok(())
}

/// The status line and headers; `length` `None` frames the body as chunked.
fn head_bytes(
    status: u16,
    headers: &[(String, String)],
    length: Option<usize>,
    close: bool,
) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
    for (k, v) in headers {
        let lower = k.to_ascii_lowercase();
        if !matches!(
            lower.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive"
        ) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    match length {
        Some(n) => out.push_str(&format!("Content-Length: {n}\r\n")),
        None => out.push_str("Transfer-Encoding: chunked\r\n"),
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}
