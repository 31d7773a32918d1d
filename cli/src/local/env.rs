//! Lambda's environment for a custom runtime, as the function sees it in AWS.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use super::ids::log_stream_name;
use super::launcher::LocalOptions;

/// Lambda's environment for a custom runtime. Nothing is inherited from claw's
/// own environment except [`LocalOptions::passthrough`].
pub fn lambda_env(
    opts: &LocalOptions,
    task_root: &Path,
    api: std::net::SocketAddr,
    xray_daemon: std::net::SocketAddr,
) -> Vec<(String, OsString)> {
    let mut env: BTreeMap<String, OsString> = BTreeMap::new();
    for (k, v) in &opts.environment {
        env.insert(k.clone(), v.into());
    }
    let stream = log_stream_name();
    let lambda: [(&str, OsString); 18] = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string().into()),
        (
            "AWS_LAMBDA_FUNCTION_NAME",
            opts.function_name.clone().into(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            opts.memory_mb.to_string().into(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", opts.log_group.clone().into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream.into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("LAMBDA_TASK_ROOT", task_root.as_os_str().to_owned()),
        ("LAMBDA_RUNTIME_DIR", task_root.as_os_str().to_owned()),
        ("_HANDLER", "bootstrap".into()),
        ("AWS_REGION", opts.region.clone().into()),
        ("AWS_DEFAULT_REGION", opts.region.clone().into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        // Lambda has no instance metadata service; do not let SDKs wait for one.
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        // Lambda's X-Ray variables ("Using AWS X-Ray" in the Lambda developer
        // guide, https://docs.aws.amazon.com/lambda/latest/dg/lambda-x-ray.html):
        // the daemon's `IP:PORT`, and what SDKs do without a trace context.
        // `_X_AMZN_TRACE_ID` is per invocation: the runtime sets it from the
        // `Lambda-Runtime-Trace-Id` header.
        ("AWS_XRAY_DAEMON_ADDRESS", xray_daemon.to_string().into()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into()),
    ];
    for (k, v) in lambda {
        env.insert(k.to_string(), v);
    }
    for (k, v) in &opts.passthrough {
        env.insert(k.clone(), v.clone());
    }
    env.into_iter().collect()
}
