//! The HTTP messages the realism layer reads and writes: requests as the proxy
//! received them, responses parsed from moto's bytes, and AWS error bodies in
//! each protocol's shape.

use std::collections::BTreeMap;
use std::io::BufRead;

/// One request, as the proxy read it.
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn method(&self) -> &str {
        self.head.split_whitespace().next().unwrap_or_default()
    }

    /// The path, URL-decoded segment by segment, without the query.
    pub fn segments(&self) -> Vec<String> {
        let target = self.head.split_whitespace().nth(1).unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default();
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| url_decode(&s.replace('+', "%2B")))
            .collect()
    }

    /// The query string's parameters.
    pub fn query(&self) -> BTreeMap<String, String> {
        let target = self.head.split_whitespace().nth(1).unwrap_or_default();
        target
            .split_once('?')
            .map(|(_, q)| form(q))
            .unwrap_or_default()
    }

    /// The signing name of the service, from the SigV4 credential scope
    /// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
    pub fn service(&self) -> String {
        let auth = self.header("authorization").unwrap_or_default();
        auth.split("Credential=")
            .nth(1)
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or_default()
            .to_string()
    }

    /// The operation for RPC protocols: the JSON target or the query `Action`.
    pub fn action(&self) -> Option<String> {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().map(str::to_string);
        }
        self.form().remove("Action")
    }

    /// The operation name, whichever protocol carries it; for REST protocols,
    /// the request line stands for it.
    pub fn operation(&self) -> String {
        self.action()
            .unwrap_or_else(|| self.head.lines().next().unwrap_or_default().to_string())
    }

    pub fn is_form(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.contains("x-www-form-urlencoded"))
    }

    /// The body's parameters, for the query protocol.
    pub fn form(&self) -> BTreeMap<String, String> {
        if self.is_form() {
            form(&String::from_utf8_lossy(&self.body))
        } else {
            BTreeMap::new()
        }
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A request to the same upstream: `method path` with this one's headers
    /// (signature included; moto does not check it) and no body.
    pub fn sibling(&self, method: &str, path: &str) -> Request {
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        for line in self.head.lines().skip(1) {
            let lower = line.to_ascii_lowercase();
            if !lower.starts_with("content-length:")
                && !lower.starts_with("content-type:")
                && !lower.starts_with("transfer-encoding:")
                && !line.trim().is_empty()
            {
                head.push_str(line);
                head.push_str("\r\n");
            }
        }
        Request {
            head,
            body: Vec::new(),
        }
    }
}

pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (!k.is_empty()).then(|| (url_decode(k), url_decode(v)))
        })
        .collect()
}

/// Reads one request from a connection: `None` when the client closed it
/// before sending another. A body comes by `Content-Length` or chunked.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
        if head.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head too large"));
        }
    }
    let mut req = Request {
        head,
        body: Vec::new(),
    };
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        req.body.resize(len, 0);
        reader.read_exact(&mut req.body)?;
    } else if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some(req))
}

/// A response, parsed from the upstream's bytes or made here.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&bytes[..end]);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        let raw = &bytes[end + 4..];
        let chunked = headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        let body = if chunked { dechunk(raw)? } else { raw.to_vec() };
        Some(Response {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    pub fn with_json(self, value: &serde_json::Value) -> Response {
        self.with_body(serde_json::to_vec(value).unwrap_or_default())
    }

    /// The bytes to send back: this response with its length, closing the
    /// connection as the proxy does for every answer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            let lower = k.to_ascii_lowercase();
            if !matches!(
                lower.as_str(),
                "content-length" | "transfer-encoding" | "connection" | "keep-alive"
            ) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line_end]).ok()?;
        let n = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if n == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..n)?);
        raw = raw.get(n + 2..)?;
    }
}

/// The reason phrase of a status (RFC 9110, section 15).
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        // 529 (Anthropic's "overloaded") and anything else: the phrase is
        // informative only (RFC 9112, section 4).
        _ => "Status",
    }
}

/// An AWS error in the shape of the request's protocol: query (XML
/// `ErrorResponse`), JSON-RPC (`__type`, plus SQS's `x-amzn-query-error`), or
/// REST-JSON (`x-amzn-ErrorType` and a `message`).
pub fn error(req: &Request, status: u16, code: &str, message: &str) -> Response {
    let message = xml_escape(message);
    let mut headers = vec![
        ("x-amzn-RequestId".to_string(), "realism".to_string()),
        ("x-amzn-ErrorType".to_string(), code.to_string()),
    ];
    let body = if req.is_form() {
        headers.push(("Content-Type".into(), "text/xml".into()));
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>realism</RequestId></ErrorResponse>"
        )
    } else if let Some(ctype) = req
        .header("content-type")
        .filter(|c| c.contains("x-amz-json"))
    {
        headers.push(("Content-Type".into(), ctype.to_string()));
        if req.service() == "sqs" {
            headers.push((
                "x-amzn-query-error".into(),
                format!("AWS.SimpleQueueService.{code};Sender"),
            ));
            format!("{{\"__type\":\"com.amazonaws.sqs#{code}\",\"message\":\"{message}\"}}")
        } else {
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}")
        }
    } else {
        headers.push(("Content-Type".into(), "application/json".into()));
        format!("{{\"Type\":\"User\",\"message\":\"{message}\"}}")
    };
    Response {
        status,
        headers,
        body: body.into_bytes(),
    }
}

/// A 200 JSON answer made by the proxy itself.
pub fn json_ok(value: &serde_json::Value) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("x-amzn-RequestId".into(), "realism".into()),
        ],
        body: serde_json::to_vec(value).unwrap_or_default(),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "'")
}

/// The text of the first `<tag>…</tag>` in an XML document.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_paths_queries_and_chunked_bodies() {
        assert_eq!(url_decode("a%3Ab+c%2F"), "a:b c/");
        assert_eq!(url_decode("100%"), "100%");
        let r = Response::parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        let req = Request {
            head: "GET /2015-03-31/functions/arn%3Aaws%3Alambda/policy?Marker=x%3D&MaxItems=1 HTTP/1.1\r\n".into(),
            body: vec![],
        };
        assert_eq!(req.segments()[2], "arn:aws:lambda");
        assert_eq!(req.query()["Marker"], "x=");
    }
}
