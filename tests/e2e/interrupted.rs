//! A deploy killed part-way converges when run again.

use std::time::Duration;

use claw_testkit::StackSnapshot;
use claw_testkit::realism::Realism;

use crate::support::{Env, async_config};

/// A deploy killed after its Nth mutating call, for every N, then run
/// again, converges to the same state as a clean deploy: no duplicate API, no
/// duplicate permission statement, nothing missing. The kill points are shared
/// out among three tests (N mod 3), each with its own moto, so they run side by
/// side.
#[tokio::test(flavor = "multi_thread")]
async fn interrupted_deploy_converges_at_every_point_1_of_3() {
    converges_when_killed(0, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_deploy_converges_at_every_point_2_of_3() {
    converges_when_killed(1, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_deploy_converges_at_every_point_3_of_3() {
    converges_when_killed(2, 3).await;
}

/// Kills the deploy after each mutating call N with `N % parts == part`.
async fn converges_when_killed(part: usize, parts: usize) {
    // Every AWS behaviour of the realism layer, on a shorter clock than the
    // other tests': each part deploys some twenty-five times.
    let env = Env::with_realism(Realism {
        lambda_settle: (Duration::from_millis(200), Duration::from_millis(600)),
        iam_propagation: Duration::from_millis(800),
        queue_name_reuse: Duration::from_millis(800),
        ..Realism::default()
    });
    let aws = env.aws().await;
    env.set_config(&async_config());
    let mut clean = None;
    let total = env
        .mutations_during(|| clean = Some(env.deploy().ok()))
        .len();
    assert!(
        total > 20,
        "a clean deploy made only {total} mutating calls"
    );
    let want = StackSnapshot::read(&aws.sdk, &env.names()).await;
    eprintln!(
        "interrupted deploy: {total} mutating calls from scratch; killing after each call N \
         with N % {parts} == {part}"
    );

    for n in (1..=total).filter(|n| n % parts == part) {
        env.moto.reset();
        env.set_secrets();
        let killed = env
            .command()
            .args(["deploy", "--yes", "--zip", &env.zip_arg()])
            .env(claw::ABORT_AFTER_ENV, n.to_string())
            .run();
        assert_eq!(
            killed.code, 137,
            "with abort after {n}: exit {}\n{}\n{}",
            killed.code, killed.stdout, killed.stderr
        );
        // A process killed between taking the deploy lock and its first heartbeat
        // leaves a lock that names no holder; it clears 90 s after its stream was
        // created (later killed processes are seen dead at once): the re-run waits.
        let again = env.claw(&[
            "deploy",
            "--yes",
            "--zip",
            &env.zip_arg(),
            "--lock-timeout",
            "150s",
        ]);
        assert_eq!(
            again.code, 0,
            "re-run after abort at {n} failed:\n{}\n{}",
            again.stdout, again.stderr
        );
        let got = StackSnapshot::read(&aws.sdk, &env.names()).await;
        assert_eq!(got, want, "after an abort at mutating call {n} of {total}");
        // And the converged stack is stable.
        let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
        assert_eq!(plan.code, 0, "after abort at {n}:\n{}", plan.stdout);
    }
}
