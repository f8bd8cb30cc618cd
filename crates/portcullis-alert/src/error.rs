//! Errors of raising and delivering alerts.

/// Starting the sinks or raising an alert failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("cannot read the webhook secret of {key}: {reason}; set it or fix the path")]
    Secret { key: String, reason: String },
    #[error("cannot set up the HTTP client of {key}: {reason}")]
    HttpClient { key: String, reason: String },
    #[error("invalid alerts.syslog.{key}: {reason}")]
    Syslog { key: &'static str, reason: String },
    /// The alert went to the sinks, but its audit record was not written.
    #[error("the audit record of the {kind} alert was not written: {source}; the alert was still sent to the sinks")]
    Audit {
        kind: &'static str,
        #[source]
        source: portcullis_audit::AuditError,
    },
}

/// One failed delivery attempt.
#[derive(Debug, Clone)]
pub struct DeliveryError {
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

impl DeliveryError {
    pub(crate) fn retryable(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            message: message.into(),
            retryable: true,
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            message: message.into(),
            retryable: false,
        }
    }
}
