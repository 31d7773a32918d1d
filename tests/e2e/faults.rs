//! claw under AWS faults: a loopback proxy between claw and moto throttles (HTTP
//! 400 and 429), fails (500, 503), slows and drops requests at fixed rates. A deploy
//! and a destroy through it must succeed and leave the same state as a clean run
//! (compared with the SDK); a fault that never clears must stop claw with a message
//! naming the resource and the AWS error, and a later run must converge.

use std::path::Path;
use std::time::Duration;

use claw_spec::Names;
use claw_testkit::fault_proxy::{FaultProxy, Faults};
use claw_testkit::fixtures::{ROOT_SECRETS, root_config, workdir};
use claw_testkit::moto::Moto;
use claw_testkit::snapshot::load_config;
use claw_testkit::{Output, StackSnapshot};

use crate::support::claw;

fn set_secrets(dir: &Path, endpoint: &str) {
    claw_testkit::claw::set_secrets(&claw(dir, endpoint), ROOT_SECRETS, "dummy");
}

fn deploy(dir: &Path, endpoint: &str) -> Output {
    claw(dir, endpoint)
        .args(["deploy", "--yes", "--zip", "function.zip"])
        .run()
}

/// The stack behind `endpoint`, as the SDK sees it.
async fn state(dir: &Path, endpoint: &str) -> StackSnapshot {
    let names = Names::new(&load_config(&dir.join("agent.yaml")));
    let sdk = claw_testkit::sdk::config(endpoint).await;
    StackSnapshot::read(&sdk, &names).await
}

fn noisy() -> Faults {
    Faults {
        seed: 0x5eed_f417,
        throttle_400: 0.10,
        throttle_429: 0.10,
        error_500: 0.05,
        error_503: 0.05,
        slow: 0.05,
        slow_delay: Duration::from_millis(150),
        reset: 0.02,
        sticky: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_and_destroy_survive_throttling_errors_and_resets() {
    let clean = Moto::realistic();
    let faulty = Moto::realistic();
    let dir = workdir(&root_config(), "faults");
    let dir = dir.path();
    set_secrets(dir, &clean.endpoint());
    set_secrets(dir, &faulty.endpoint());
    deploy(dir, &clean.endpoint()).ok();
    let want = state(dir, &clean.direct_endpoint()).await;
    assert!(want.function.is_some(), "{want:#?}");

    let proxy = FaultProxy::start(&faulty.endpoint(), noisy());
    deploy(dir, &proxy.endpoint()).ok();
    let after_deploy = proxy.counts.summary();
    assert!(
        proxy.counts.injected() > 10,
        "too few faults to mean anything: {after_deploy}"
    );
    let got = state(dir, &faulty.direct_endpoint()).await;
    assert_eq!(
        got, want,
        "the stack deployed through faults differs from a clean one"
    );
    claw(dir, &faulty.endpoint())
        .args(["plan", "--detailed-exitcode", "--zip", "function.zip"])
        .run()
        .code(0);

    claw(dir, &proxy.endpoint())
        .args(["destroy", "--yes"])
        .run()
        .ok();
    let gone = state(dir, &faulty.direct_endpoint()).await;
    assert_eq!(gone.function, None, "{gone:#?}");
    assert_eq!(gone.apis_named_like_the_function, 0, "{gone:#?}");
    assert_eq!(gone.role, None, "{gone:#?}");
    assert!(gone.alarms.is_empty(), "{gone:#?}");
    eprintln!(
        "faults: deploy: {after_deploy}; deploy+destroy: {}",
        proxy.counts.summary()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_that_never_clears_names_the_resource_and_a_rerun_converges() {
    let moto = Moto::realistic();
    let dir = workdir(&root_config(), "faults");
    let dir = dir.path();
    set_secrets(dir, &moto.endpoint());
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        Faults {
            sticky: vec!["PutMetricAlarm".into()],
            ..Faults::default()
        },
    );
    let failed = deploy(dir, &proxy.endpoint()).code(1);
    let all = failed.all();
    for needle in ["PutMetricAlarm", "crm-leads-dev-", "Rate exceeded"] {
        assert!(
            all.contains(needle),
            "`{needle}` not in the failure:\n{all}"
        );
    }
    assert!(!all.contains("panicked"), "{all}");

    proxy.set_faults(Faults::default());
    deploy(dir, &proxy.endpoint()).ok();
    claw(dir, &moto.endpoint())
        .args(["plan", "--detailed-exitcode", "--zip", "function.zip"])
        .run()
        .code(0);
    let s = state(dir, &moto.direct_endpoint()).await;
    assert_eq!(s.alarms.len(), 7, "{s:#?}");
    assert_eq!(s.permissions.len(), 1, "{s:#?}");
}
