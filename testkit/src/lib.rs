//! Test support shared by claw's crates (the way cargo shares `cargo-test-support`).
//!
//! - [`moto`]: a moto server per test, with its request recorder;
//! - [`mock_model`]: a scripted stand-in for the Anthropic Messages API;
//! - [`fault_proxy`]: an HTTP proxy that injects AWS faults in front of moto;
//! - [`realism`]: the proxy's answers where AWS differs from moto (asynchronous
//!   states, eventual consistency, quotas, name reuse, paging, tag rules);
//! - [`fuzz`]: a small mutation fuzzer for parsers;
//! - [`http`]: a thread-per-connection HTTP/1.1 server for test doubles;
//! - [`claw`]: the `claw` binary under test, run hermetically, and its [`Output`];
//! - [`fixtures`]: the repository root, the root agent.yaml and edits of it, a
//!   function zip, the secrets the root config needs;
//! - [`iam`]: policy documents as IAM returns them (URL-encoded);
//! - `authz` (feature `snapshot`): the IAM authorizations each recorded AWS call
//!   needs (`testkit/authz/operations.json`), and a second IAM evaluator;
//! - `sdk` (feature `sdk`): an AWS SDK config pointed at moto;
//! - `snapshot` (feature `snapshot`): a whole deployed stack read through the SDK.
//!
//! Every server a fixture starts listens on 127.0.0.1 and stops when dropped. This
//! crate does not depend on `claw` or `agent-fn`: their tests depend on it, and a
//! dependency back would build a second copy of them.

#[cfg(feature = "snapshot")]
pub mod authz;
pub mod claw;
pub mod fault_proxy;
pub mod fixtures;
pub mod fuzz;
pub mod http;
#[cfg(feature = "snapshot")]
pub mod iam;
pub mod mock_model;
pub mod moto;
pub mod realism;
#[cfg(feature = "sdk")]
pub mod sdk;
#[cfg(feature = "snapshot")]
pub mod snapshot;

pub use claw::{Claw, Output};
pub use fixtures::repo_root;
#[cfg(feature = "snapshot")]
pub use snapshot::StackSnapshot;

/// The region every test runs in (the root agent.yaml's).
pub const REGION: &str = "ap-southeast-2";
