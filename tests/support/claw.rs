//! The `claw` binary under test, with an environment that reaches only the given
//! AWS endpoint (moto or a proxy in front of it) and ignores the machine's own AWS
//! profile, credentials files and claw settings.

use std::path::Path;
use std::process::{Command, Stdio};

pub const REGION: &str = "ap-southeast-2";

/// `claw` run from `dir` against `endpoint`; stdin closed unless the caller opens it.
pub fn command(dir: &Path, endpoint: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_claw"));
    c.current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("CLAW_CONFIG")
        .env_remove("CLAW_STAGE")
        .stdin(Stdio::null());
    c
}
