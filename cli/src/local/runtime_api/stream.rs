//! A streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`),
//! read as it arrives: the HTTP-integration prelude up to its 8 NUL bytes when
//! there is one, then every read passed on. Nothing is kept but the prelude, so
//! a long stream costs no memory here.

use std::io::Read;

/// Largest streamed response (200 MB,
/// https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html).
pub const MAX_STREAM_BYTES: u64 = 200 * 1024 * 1024;

/// The most bytes a prelude may take before the stream is judged malformed.
const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// What the reader saw, in order: one `Start`, any `Chunk`s, one `End`.
#[derive(Debug)]
pub enum Piece {
    Start(Option<serde_json::Value>),
    Chunk(Vec<u8>),
    /// The bytes after the prelude, or why the stream failed (Lambda's error
    /// type and message).
    End {
        bytes: u64,
        error: Option<(&'static str, String)>,
    },
}

pub fn read(reader: &mut dyn Read, has_prelude: bool, emit: &mut dyn FnMut(Piece)) {
    let mut head: Option<Vec<u8>> = has_prelude.then(Vec::new);
    if !has_prelude {
        emit(Piece::Start(None));
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    let error = loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) => break Some(("Runtime.StreamError", format!("the stream broke: {e}"))),
        };
        let data = &buf[..n];
        if let Some(h) = head.as_mut() {
            h.extend_from_slice(data);
            let Some(end) = h.windows(8).position(|w| w == [0u8; 8]) else {
                if h.len() > MAX_PRELUDE_BYTES {
                    break Some((
                        "Runtime.InvalidStreamingResponse",
                        format!(
                            "no prelude end (8 NUL bytes) in the first {MAX_PRELUDE_BYTES} bytes"
                        ),
                    ));
                }
                continue;
            };
            let Ok(prelude) = serde_json::from_slice(&h[..end]) else {
                break Some((
                    "Runtime.InvalidStreamingResponse",
                    "the prelude is not JSON".into(),
                ));
            };
            emit(Piece::Start(Some(prelude)));
            let rest = h[end + 8..].to_vec();
            head = None;
            if !rest.is_empty() {
                total += rest.len() as u64;
                emit(Piece::Chunk(rest));
            }
            continue;
        }
        total += data.len() as u64;
        if total > MAX_STREAM_BYTES {
            let _ = std::io::copy(reader, &mut std::io::sink());
            break Some((
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_STREAM_BYTES} bytes)."
                ),
            ));
        }
        emit(Piece::Chunk(data.to_vec()));
    };
    let error = error.or_else(|| {
        head.is_some().then(|| {
            (
                "Runtime.InvalidStreamingResponse",
                "the stream ended inside its prelude".into(),
            )
        })
    });
    emit(Piece::End {
        bytes: total,
        error,
    });
}
