//! End-to-end tests of the `claw` binary: one test binary (so the AWS SDK is linked
//! once), one module per behaviour. Most tests start their own moto server, drive
//! the real binary against it, and check the result with the AWS SDK directly
//! (never through claw). Fixtures come from `claw-testkit`; every server they
//! start listens on 127.0.0.1 and stops when the test is done.

mod support;

mod accounts;
mod agent_tests;
mod approval;
mod async_mode;
mod bad_input;
mod bootstrap;
mod build_local;
mod canary;
mod cargo_lambda;
mod deploy;
mod deployer_policy;
mod destroy;
mod dev;
mod drift;
mod faults;
mod from_scratch;
mod function_faults;
mod function_url;
mod harness;
mod inference_profiles;
mod init;
mod interrupted;
mod jwt;
mod lock;
mod migrations;
mod network;
mod output;
mod prebuilt;
mod realism;
mod realism_layer;
mod rollout;
mod stages;
mod status;
mod streaming;
