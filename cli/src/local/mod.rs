//! Running the packaged function on this machine under an embedded Lambda Runtime API.
//!
//! [`Package::open`] checks and extracts a `function.zip`; [`LocalFunction::start`]
//! starts its `bootstrap` the way Lambda does (environment, working directory,
//! Runtime API address), through qemu-user when the package is for another CPU;
//! [`LocalFunction::invoke`] sends one event and waits for the result under the
//! configured timeout. One started function serves any number of invocations, so
//! warm invocations can be measured.
//!
//! - `package`: reading, checking and extracting the zip;
//! - `launcher`: Lambda's settings, the pass-through variables, native or qemu;
//! - `env`: the environment the function starts with;
//! - `process`: the process, its supervision and its peak memory;
//! - `runtime_api`: the Runtime API server the function polls;
//! - `report`: what an invocation came to, and Lambda's REPORT line;
//! - `ids`: request ids, trace headers, log stream names;
//! - `xray`: the X-Ray daemon stand-in that collects the function's subsegments
//!   and renders their timeline.

mod child;
mod env;
mod ids;
mod launcher;
mod package;
mod process;
mod report;
mod runtime_api;
mod xray;

pub use child::kill_group;
pub use ids::new_request_id;
pub use launcher::{Launcher, LocalOptions, LogSink, PASSTHROUGH_ENV};
pub use package::Package;
pub use process::LocalFunction;
pub use report::{InvocationReport, InvocationResult};
pub use runtime_api::FunctionError;
pub use xray::{TraceSpan, timeline};

#[cfg(test)]
mod tests;
