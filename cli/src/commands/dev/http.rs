//! The HTTP side of the local server: a request read from tiny_http, and a
//! response written straight to the connection, whole (with its length) or
//! streamed (chunked, each piece flushed as the function sends it, so
//! server-sent events arrive as they are made).

use std::io::{Read as _, Write};

use super::event::{HttpIn, HttpOut};

/// Largest request body read: API Gateway's HTTP API payload quota (10 MB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// The request's parts, and tiny_http's request to answer through.
pub fn read(mut req: tiny_http::Request) -> (HttpIn, Responder, bool) {
    let url = req.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url, String::new()),
    };
    let headers = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let too_big = req
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map(|n| n > MAX_BODY)
        .unwrap_or(true);
    let http = HttpIn {
        method: req.method().as_str().to_string(),
        path,
        query,
        headers,
        body,
        source_ip: req
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
    };
    let responder = Responder {
        out: req.into_writer(),
        chunked: false,
        status: None,
    };
    (http, responder, too_big)
}

/// Writes one response; a client that went away is not an error to claw.
pub struct Responder {
    out: Box<dyn Write + Send>,
    chunked: bool,
    /// The status sent, once the head is written.
    pub status: Option<u16>,
}

impl Responder {
    /// A whole response.
    pub fn send(&mut self, r: &HttpOut) {
        if self.status.is_some() {
            return;
        }
        let mut head = head(r.status, &r.headers);
        head.push_str(&format!("content-length: {}\r\n\r\n", r.body.len()));
        let _ = self.out.write_all(head.as_bytes());
        let _ = self.out.write_all(&r.body);
        let _ = self.out.flush();
        self.status = Some(r.status);
    }

    /// Starts a streamed response: the head now, the body in [`Responder::chunk`]s.
    pub fn start_stream(&mut self, status: u16, headers: &[(String, String)]) {
        if self.status.is_some() {
            return;
        }
        let mut head = head(status, headers);
        head.push_str("transfer-encoding: chunked\r\n\r\n");
        let _ = self.out.write_all(head.as_bytes());
        let _ = self.out.flush();
        self.chunked = true;
        self.status = Some(status);
    }

    pub fn chunk(&mut self, bytes: &[u8]) {
        if !self.chunked || bytes.is_empty() {
            return;
        }
        let _ = write!(self.out, "{:x}\r\n", bytes.len());
        let _ = self.out.write_all(bytes);
        let _ = self.out.write_all(b"\r\n");
        let _ = self.out.flush();
    }

    /// Ends a streamed response.
    pub fn finish(&mut self) {
        if self.chunked {
            let _ = self.out.write_all(b"0\r\n\r\n");
            let _ = self.out.flush();
            self.chunked = false;
        }
    }
}

fn head(status: u16, headers: &[(String, String)]) -> String {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        // Header values from the function cannot end the head early.
        if !k.contains(['\r', '\n']) && !v.contains(['\r', '\n']) {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    s.push_str("connection: close\r\n");
    s
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}
