//! What one local invocation came to ([`InvocationResult`]) and its figures
//! ([`InvocationReport`]), rendered as Lambda's `REPORT` line.

use std::time::Duration;

use super::runtime_api::FunctionError;
use super::xray::TraceSpan;

/// What became of one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    /// The function returned this payload.
    Response(Vec<u8>),
    /// The function streamed its answer (passed to the caller as it came):
    /// this many bytes after the prelude, if it sent one.
    Streamed {
        bytes: u64,
        prelude: Option<serde_json::Value>,
    },
    /// The function reported an error.
    FunctionError(FunctionError),
    /// The function failed to initialise.
    InitError(FunctionError),
    /// The timeout passed; the process was killed.
    TimedOut { timeout: Duration },
    /// The process exited without answering.
    Exited { status: String },
}

impl InvocationResult {
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            InvocationResult::Response(_) | InvocationResult::Streamed { .. }
        )
    }

    /// Lambda's error type and message for a failed outcome.
    pub fn error(&self, request_id: &str) -> Option<(String, String)> {
        match self {
            InvocationResult::Response(_) | InvocationResult::Streamed { .. } => None,
            InvocationResult::FunctionError(e) => {
                Some((e.error_type.clone(), e.error_message.clone()))
            }
            InvocationResult::InitError(e) => Some((
                e.error_type.clone(),
                format!("the function failed to initialise: {}", e.error_message),
            )),
            InvocationResult::TimedOut { timeout } => Some((
                "Sandbox.Timedout".into(),
                format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                ),
            )),
            InvocationResult::Exited { status } => Some((
                "Runtime.ExitError".into(),
                format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
            )),
        }
    }
}

/// One invocation's result and the figures of its REPORT line.
#[derive(Debug, Clone)]
pub struct InvocationReport {
    pub request_id: String,
    pub outcome: InvocationResult,
    /// From handing the event to the function until its answer (Lambda's Duration).
    pub duration: Duration,
    /// From [`LocalFunction::invoke`](super::LocalFunction::invoke) being called until it returned.
    pub round_trip: Duration,
    /// Spawn until the first `next` poll; set on a process's first invocation.
    pub init_duration: Option<Duration>,
    /// Peak resident memory of the process so far (VmHWM), in KiB.
    pub max_memory_kib: Option<u64>,
    pub memory_size_mb: u32,
    /// The X-Ray subsegments the function sent for this invocation, in order.
    pub spans: Vec<TraceSpan>,
}

impl InvocationReport {
    /// Whole milliseconds billed, rounded up: duration plus init on a cold start.
    pub fn billed_ms(&self) -> u64 {
        let total = self.duration + self.init_duration.unwrap_or_default();
        (total.as_secs_f64() * 1000.0).ceil() as u64
    }

    /// Lambda's REPORT line.
    pub fn report_line(&self) -> String {
        let mut s = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id,
            self.duration.as_secs_f64() * 1000.0,
            self.billed_ms(),
            self.memory_size_mb,
            self.max_memory_kib.map(|k| k.div_ceil(1024)).unwrap_or(0),
        );
        if let Some(init) = self.init_duration {
            s.push_str(&format!(
                "\tInit Duration: {:.2} ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        if let InvocationResult::TimedOut { .. } = self.outcome {
            s.push_str("\tStatus: timeout");
        } else if let InvocationResult::Exited { .. } = self.outcome {
            s.push_str("\tStatus: error\tError Type: Runtime.ExitError");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: InvocationResult, init: Option<Duration>) -> InvocationReport {
        InvocationReport {
            request_id: "r-1".into(),
            outcome,
            duration: Duration::from_micros(12_345),
            round_trip: Duration::from_millis(20),
            init_duration: init,
            max_memory_kib: Some(30 * 1024 + 1),
            memory_size_mb: 256,
            spans: Vec::new(),
        }
    }

    #[test]
    fn the_report_line_is_lambdas() {
        let warm = report(InvocationResult::Response(b"{}".to_vec()), None);
        assert_eq!(
            warm.report_line(),
            "REPORT RequestId: r-1\tDuration: 12.35 ms\tBilled Duration: 13 ms\t\
             Memory Size: 256 MB\tMax Memory Used: 31 MB"
        );
        let cold = report(
            InvocationResult::TimedOut {
                timeout: Duration::from_secs(3),
            },
            Some(Duration::from_micros(40_500)),
        );
        assert_eq!(cold.billed_ms(), 53);
        assert!(
            cold.report_line()
                .ends_with("\tInit Duration: 40.50 ms\tStatus: timeout"),
            "{}",
            cold.report_line()
        );
        let exited = report(
            InvocationResult::Exited {
                status: "exit status 3".into(),
            },
            None,
        );
        assert!(
            exited
                .report_line()
                .ends_with("\tStatus: error\tError Type: Runtime.ExitError")
        );
        assert_eq!(
            exited.outcome.error("r-1"),
            Some((
                "Runtime.ExitError".into(),
                "RequestId: r-1 Error: Runtime exited with error: exit status 3".into()
            ))
        );
    }
}
