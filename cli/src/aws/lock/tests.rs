use std::collections::BTreeMap;

use claw_testkit::moto::Moto;

use super::*;

/// A pid no process has (Linux's maximum is 4,194,304).
const DEAD_PID: u32 = 99_999_999;

fn holder(host: &str, pid: u32) -> Holder {
    Holder {
        command: "deploy".into(),
        host: host.into(),
        pid,
        since_ms: now_ms(),
        released_ms: None,
    }
}

#[test]
fn stream_numbers_round_trip_and_other_streams_are_not_the_lock() {
    assert_eq!(stream_name(0), "lock");
    assert_eq!(stream_name(7), "lock-7");
    for n in [0, 1, 42, u64::MAX] {
        assert_eq!(generation(&stream_name(n)), Some(n));
    }
    for other in ["lockx", "lock-", "lock-01", "lock-+1", "lock-a", "locks-1"] {
        assert_eq!(generation(other), None, "{other}");
    }
}

/// Staleness: 90 s without a sign of life (a lock with no visible heartbeat yet
/// dates from its stream's creation, so ingestion lag cannot make a fresh lock
/// look stale), or a dead process of this machine; never a holder whose host is
/// unknown.
#[test]
fn a_lock_is_stale_only_after_90_s_of_silence_or_with_a_dead_holder_here() {
    let now = now_ms();
    let silent = |secs: i64| State::Held {
        holder: None,
        last_sign_ms: Some(now - secs * 1000),
    };
    assert!(!silent(10).is_stale(now), "the old 10 s grace is gone");
    assert!(!silent(60).is_stale(now));
    assert!(silent(91).is_stale(now));
    let here = host::hostname().unwrap();
    let with = |h: Holder| State::Held {
        holder: Some(h),
        last_sign_ms: Some(now),
    };
    assert!(with(holder(&here, DEAD_PID)).is_stale(now));
    assert!(!with(holder(&here, std::process::id())).is_stale(now));
    assert!(!with(holder(host::UNKNOWN_HOST, DEAD_PID)).is_stale(now));
    assert!(!with(holder("another-host", DEAD_PID)).is_stale(now));
    assert!(State::Free.is_stale(now));
}

async fn setup() -> (Moto, Aws, Names) {
    let moto = Moto::start();
    let aws = Aws::from_shared(&claw_testkit::sdk::config(&moto.endpoint()).await);
    let names = Names::for_stack("lk", "dev", "ap-southeast-2", "123456789012");
    (moto, aws, names)
}

async fn stream_names(aws: &Aws, n: &Names) -> Vec<String> {
    streams(aws, &n.lock_group)
        .await
        .unwrap()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

/// Two runs that find the same stale lock both try to take it; CreateLogStream
/// of the next number lets exactly one through, and the other sees a live lock.
/// (Before, both deleted and recreated `lock`, and the second delete removed the
/// first run's fresh lock.)
#[tokio::test(flavor = "multi_thread")]
async fn two_contenders_racing_a_stale_lock_exactly_one_wins() {
    let (_moto, aws, n) = setup().await;
    let group = &n.lock_group;
    let here = host::hostname().unwrap();
    let tags = BTreeMap::new();
    ensure_group(&aws, group, &tags).await.unwrap();
    aws.logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name("lock-3")
        .send()
        .await
        .unwrap();
    let mut top = "lock-3".to_string();
    for round in 0..3 {
        // The holder died on this machine.
        put(&aws, group, &top, &holder(&here, DEAD_PID))
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            acquire(&aws, &n, "deploy", &tags, Duration::ZERO),
            acquire(&aws, &n, "deploy", &tags, Duration::ZERO),
        );
        let (won, lost) = match (a, b) {
            (Ok(l), Err(e)) | (Err(e), Ok(l)) => (l, e),
            (Ok(_), Ok(_)) => panic!("round {round}: both contenders took the lock"),
            (Err(a), Err(b)) => panic!("round {round}: neither took the lock: {a:#}; {b:#}"),
        };
        assert!(lost.downcast_ref::<Held>().is_some(), "{lost:#}");
        // The winner holds the next number; the lower ones are gone.
        assert_eq!(won.stream, format!("lock-{}", 4 + round));
        assert_eq!(stream_names(&aws, &n).await, vec![won.stream.clone()]);
        top = won.stream.clone();
        won.heartbeat.abort();
    }
}

/// A released lock is free; the next holder takes the next number (numbers only
/// grow), and `claw unlock` releases a lock whose holder is stuck.
#[tokio::test(flavor = "multi_thread")]
async fn release_and_unlock_free_the_lock_and_numbers_only_grow() {
    let (_moto, aws, n) = setup().await;
    let tags = BTreeMap::new();
    assert_eq!(force_unlock(&aws, &n).await.unwrap(), Unlocked::NotLocked);
    let first = acquire(&aws, &n, "deploy", &tags, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(first.stream, "lock-1");
    let held = acquire(&aws, &n, "deploy", &tags, Duration::ZERO).await;
    assert!(held.err().unwrap().downcast_ref::<Held>().is_some());
    first.release().await.unwrap();
    assert_eq!(
        stream_names(&aws, &n).await,
        ["lock-1"],
        "release keeps the stream"
    );

    let second = acquire(&aws, &n, "destroy", &tags, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(second.stream, "lock-2");
    assert_eq!(stream_names(&aws, &n).await, ["lock-2"]);
    second.heartbeat.abort();
    let Unlocked::Cleared(Some(h)) = force_unlock(&aws, &n).await.unwrap() else {
        panic!("the held lock was not cleared");
    };
    assert_eq!((h.command.as_str(), h.pid), ("destroy", std::process::id()));
    let third = acquire(&aws, &n, "deploy", &tags, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(third.stream, "lock-3");
    third.release().await.unwrap();
}

/// A `lock` stream left by an earlier claw is lock number 0: a live one is
/// respected, and it is replaced once free.
#[tokio::test(flavor = "multi_thread")]
async fn an_earlier_claws_lock_stream_counts_as_number_zero() {
    let (_moto, aws, n) = setup().await;
    let group = &n.lock_group;
    let tags = BTreeMap::new();
    ensure_group(&aws, group, &tags).await.unwrap();
    aws.logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(STREAM)
        .send()
        .await
        .unwrap();
    let here = host::hostname().unwrap();
    put(&aws, group, STREAM, &holder(&here, std::process::id()))
        .await
        .unwrap();
    let held = acquire(&aws, &n, "deploy", &tags, Duration::ZERO).await;
    assert!(held.err().unwrap().downcast_ref::<Held>().is_some());
    put(&aws, group, STREAM, &holder(&here, DEAD_PID))
        .await
        .unwrap();
    let lock = acquire(&aws, &n, "deploy", &tags, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(lock.stream, "lock-1");
    assert_eq!(stream_names(&aws, &n).await, ["lock-1"]);
    lock.release().await.unwrap();
}
