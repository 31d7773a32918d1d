//! Files the tests start from: the repository's own agent.yaml, edits of it that
//! fail loudly when the text they edit is gone, and a small function package.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The secrets the root agent.yaml names.
pub const ROOT_SECRETS: &[&str] = &[
    "production/ai-agent/anthropic-api-key",
    "production/ai-agent/crm-token",
];

/// The repository root (this crate lives one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ lives one level below the repository root")
        .to_path_buf()
}

/// The root agent.yaml, which the end-to-end tests start from.
pub fn root_config() -> String {
    let path = repo_root().join("agent.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `text` with the first `from` replaced by `to`; fails loudly when `from` is not
/// there, so a change to the root agent.yaml cannot silently turn a test into a
/// no-op.
pub fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "agent.yaml no longer contains {from:?}; update this test"
    );
    text.replacen(from, to, 1)
}

/// A function package: a zip holding an executable `bootstrap` that echoes `tag`
/// (so two tags give two code hashes). Enough for moto, which never runs it.
pub fn write_zip(path: &Path, tag: &str) {
    let file =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    z.start_file("bootstrap", opts)
        .expect("starting the zip entry");
    z.write_all(format!("#!/bin/sh\necho {tag}\n").as_bytes())
        .expect("writing the zip entry");
    z.finish().expect("finishing the zip");
}

/// A temporary work directory holding `agent.yaml` (the given text) and
/// `function.zip` (see [`write_zip`]).
pub fn workdir(config: &str, zip_tag: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    std::fs::write(dir.path().join("agent.yaml"), config).expect("writing agent.yaml");
    write_zip(&dir.path().join("function.zip"), zip_tag);
    dir
}

/// The event Lambda's SQS event source mapping delivers for one message of the
/// queue `queue` (in ap-southeast-2, account 123456789012, where the test
/// configs live).
pub fn sqs_event(queue: &str, message_id: &str, body: &str) -> serde_json::Value {
    serde_json::json!({"Records": [{
        "messageId": message_id, "receiptHandle": "rh",
        "body": body, "attributes": {}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:ap-southeast-2:123456789012:{queue}"),
        "awsRegion": "ap-southeast-2"
    }]})
}
