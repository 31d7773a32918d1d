//! The deploy lock: a held lock stops a deploy, `claw unlock` clears it, and
//! deploys racing each other take turns.

use claw_testkit::fixtures::edit;

use crate::support::Env;

/// Concurrent deploys of one app and stage take turns through the deploy lock: a
/// held lock stops a deploy with a message naming the holder (nothing changed),
/// `claw unlock` clears it, and deploys racing each other leave one clean stack.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deploys_take_turns_and_corrupt_nothing() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let n = env.names();
    // A live holder: this test process, on this host, in the `lock` stream an
    // earlier claw used (lock number 0 of today's `lock-<n>`).
    let logs = &aws.logs;
    let group = format!("/claw/locks/{}", n.function);
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("lock")
        .send()
        .await
        .unwrap();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let holder = serde_json::json!({
        "command": "deploy",
        "host": host.trim(),
        "pid": std::process::id(),
        "since_ms": 1_795_000_000_000i64,
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("lock")
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now)
                .message(holder.to_string())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let mut refused = None;
    let mutations = env.mutations_during(|| refused = Some(env.deploy()));
    let refused = refused.unwrap();
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("holds the deploy lock")
            && refused
                .stderr
                .contains(&format!("pid {}", std::process::id()))
            && refused.stderr.contains("claw unlock"),
        "{}",
        refused.stderr
    );
    // Only the failed lock attempt was written; the stack was not touched.
    let touched: Vec<_> = mutations
        .iter()
        .filter(|c| c.action != "CreateLogStream")
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
    assert!(!aws.function_exists(&n.function).await);

    let unlocked = env.claw(&["unlock"]).ok();
    assert!(
        unlocked.stdout.contains("cleared the deploy lock"),
        "{}",
        unlocked.stdout
    );
    env.deploy().ok();

    // Two deploys at once, with a change to apply: both finish (the second waits
    // for the lock, then re-reads and applies what is left), one clean stack.
    env.set_config(&edit(
        &env.config_text(),
        "memory_mb: 256",
        "memory_mb: 384",
    ));
    let spawn = || {
        env.command()
            .args([
                "deploy",
                "--yes",
                "--zip",
                &env.zip_arg(),
                "--lock-timeout",
                "60s",
            ])
            .spawn()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent deploy failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert_eq!(aws.permission_statements(&n.function).await.len(), 1);
    assert!(aws.api_id(&n.api).await.is_some());
    let memory = aws
        .lambda
        .get_function_configuration()
        .function_name(&n.function)
        .send()
        .await
        .unwrap()
        .memory_size();
    assert_eq!(memory, Some(384));
}
