//! One error type for every failed AWS call. The SDK error is classified once,
//! here, by its code against one table, so callers ask "is this not-found?"
//! with [`AwsError::kind`] or the [`AwsErrorExt`] helpers instead of matching each
//! service's own error variants.

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata};

/// What kind of failure an AWS error code means, as far as claw branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The resource does not exist (or no longer does).
    NotFound,
    /// The caller's permissions refuse the call.
    AccessDenied,
    /// The service asked the caller to slow down.
    Throttled,
    /// The resource is busy or in a state that refuses the change.
    Conflict,
    Other,
}

/// Error codes by kind, across the services claw calls. IAM and SQS (query
/// protocol) name their errors without the `Exception` suffix.
const CODES: &[(&str, AwsErrorKind)] = &[
    ("NoSuchEntity", AwsErrorKind::NotFound),
    ("ResourceNotFoundException", AwsErrorKind::NotFound),
    ("ResourceNotFound", AwsErrorKind::NotFound),
    ("NotFoundException", AwsErrorKind::NotFound),
    ("QueueDoesNotExist", AwsErrorKind::NotFound),
    (
        "AWS.SimpleQueueService.NonExistentQueue",
        AwsErrorKind::NotFound,
    ),
    ("AccessDenied", AwsErrorKind::AccessDenied),
    ("AccessDeniedException", AwsErrorKind::AccessDenied),
    ("UnauthorizedOperation", AwsErrorKind::AccessDenied),
    ("Throttling", AwsErrorKind::Throttled),
    ("ThrottlingException", AwsErrorKind::Throttled),
    ("TooManyRequestsException", AwsErrorKind::Throttled),
    ("RequestLimitExceeded", AwsErrorKind::Throttled),
    (
        "ProvisionedThroughputExceededException",
        AwsErrorKind::Throttled,
    ),
    ("ResourceConflictException", AwsErrorKind::Conflict),
    ("ConflictException", AwsErrorKind::Conflict),
    ("DeleteConflict", AwsErrorKind::Conflict),
    ("ResourceInUseException", AwsErrorKind::Conflict),
    ("ConcurrentModification", AwsErrorKind::Conflict),
];

impl AwsErrorKind {
    /// The kind of an AWS error code; codes not in the table are `Other`.
    pub fn of(code: Option<&str>) -> AwsErrorKind {
        code.and_then(|c| CODES.iter().find(|(k, _)| *k == c))
            .map(|(_, kind)| *kind)
            .unwrap_or(AwsErrorKind::Other)
    }
}

/// An AWS call that failed, named by operation and resource:
/// `"<Operation> on <resource>: <code>: <message>"`.
#[derive(Debug, thiserror::Error)]
#[error(
    "{operation} on {resource}: {}{message}",
    code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default()
)]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: String,
    /// The AWS error code (`NoSuchEntity`, `ResourceNotFoundException`, …), when the
    /// service sent one.
    pub code: Option<String>,
    /// The code's kind, computed once from `code`.
    pub kind: AwsErrorKind,
    pub message: String,
}

impl AwsError {
    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }
}

/// Renders any SDK error as an [`AwsError`]. Service errors keep their code and
/// message; transport errors (no code) keep the whole cause chain, so "connection
/// refused" or a timeout is visible.
pub fn aws_error<E>(operation: &'static str, resource: impl Into<String>, err: E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_string);
    let message = match (err.code(), err.message()) {
        (Some(_), Some(m)) => m.to_string(),
        (Some(_), None) => DisplayErrorContext(&err).to_string(),
        // Transport errors: the cause chain in words ("dispatch failure: io error:
        // … Connection refused"), without the Debug dump DisplayErrorContext adds.
        (None, _) => {
            let mut parts: Vec<String> = Vec::new();
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            while let Some(e) = cur {
                let text = e.to_string();
                if !parts.iter().any(|p| p.contains(&text)) {
                    parts.push(text);
                }
                cur = e.source();
            }
            parts.join(": ")
        }
    };
    AwsError {
        operation,
        resource: resource.into(),
        kind: AwsErrorKind::of(code.as_deref()),
        code,
        message,
    }
}

/// An error of a step the deployer policy leaves to an administrator: creating
/// the execution role, changing its trust or boundary, deleting it, and every
/// change to the boundary. Refused as AccessDenied, it says who must run it.
pub fn administrators(e: AwsError, step: &str) -> anyhow::Error {
    if e.kind != AwsErrorKind::AccessDenied {
        return e.into();
    }
    anyhow::anyhow!(
        "{e}\n{step} is the administrator's: the deployer policy does not allow it, so that a CI credential can neither change who may assume the execution role nor loosen its boundary. Run this command once with administrator credentials; deploys that change neither run as the deployer."
    )
}

/// Whether an error is AWS refusing the caller's permissions.
pub fn is_access_denied(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<AwsError>()
            .is_some_and(|a| a.kind == AwsErrorKind::AccessDenied)
    })
}

/// `result.map_err(aws_error(...))` without the closure noise.
pub trait AwsResultExt<T> {
    fn ctx(self, operation: &'static str, resource: impl Into<String>) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, E>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn ctx(self, operation: &'static str, resource: impl Into<String>) -> Result<T, AwsError> {
        self.map_err(|e| aws_error(operation, resource, e))
    }
}

/// The two ways claw treats "it is not there": a read finds nothing, a delete has
/// nothing left to do.
pub trait AwsErrorExt<T> {
    /// Not-found becomes `Ok(None)`; other errors stay errors.
    fn optional(self) -> Result<Option<T>, AwsError>;
    /// Not-found counts as done (the thing to delete is already gone).
    fn ignore_missing(self) -> Result<(), AwsError>;
}

impl<T> AwsErrorExt<T> for Result<T, AwsError> {
    fn optional(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn ignore_missing(self) -> Result<(), AwsError> {
        self.optional().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: Option<&str>) -> AwsError {
        AwsError {
            operation: "GetRole",
            resource: "r".into(),
            code: code.map(str::to_string),
            kind: AwsErrorKind::of(code),
            message: "m".into(),
        }
    }

    #[test]
    fn an_administrators_step_refused_says_who_must_run_it() {
        let refused =
            administrators(err(Some("AccessDenied")), "Creating the execution role").to_string();
        assert!(
            refused.starts_with("GetRole on r: AccessDenied: m"),
            "{refused}"
        );
        assert!(refused.contains("Creating the execution role is the administrator's"));
        assert!(refused.contains("administrator credentials"));
        let other = administrators(err(Some("Throttling")), "x").to_string();
        assert_eq!(other, "GetRole on r: Throttling: m");
    }

    #[test]
    fn codes_are_classified_once_and_render_as_before() {
        assert_eq!(err(Some("NoSuchEntity")).kind, AwsErrorKind::NotFound);
        assert_eq!(
            err(Some("AWS.SimpleQueueService.NonExistentQueue")).kind,
            AwsErrorKind::NotFound
        );
        assert_eq!(err(Some("AccessDenied")).kind, AwsErrorKind::AccessDenied);
        assert_eq!(
            err(Some("ThrottlingException")).kind,
            AwsErrorKind::Throttled
        );
        assert_eq!(
            err(Some("ResourceConflictException")).kind,
            AwsErrorKind::Conflict
        );
        assert_eq!(err(Some("ValidationError")).kind, AwsErrorKind::Other);
        assert_eq!(err(None).kind, AwsErrorKind::Other);
        assert_eq!(
            err(Some("NoSuchEntity")).to_string(),
            "GetRole on r: NoSuchEntity: m"
        );
        assert_eq!(err(None).to_string(), "GetRole on r: m");
        assert!(is_access_denied(&anyhow::Error::from(err(Some(
            "AccessDeniedException"
        )))));
    }

    #[test]
    fn not_found_is_none_for_reads_and_done_for_deletes() {
        let missing: Result<u8, AwsError> = Err(err(Some("ResourceNotFoundException")));
        assert!(matches!(missing.optional(), Ok(None)));
        let missing: Result<u8, AwsError> = Err(err(Some("NotFoundException")));
        assert!(missing.ignore_missing().is_ok());
        let other: Result<u8, AwsError> = Err(err(Some("AccessDenied")));
        assert!(other.optional().is_err());
        assert!(matches!(Ok::<u8, AwsError>(1).optional(), Ok(Some(1))));
    }
}
