//! `[alerts]`: where escalation alerts go and when repeated events raise one.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{duration, ConfigError};

/// `[alerts]`: sinks and thresholds of escalation alerts. Every alert is also an audit
/// record, whether or not any sink is configured.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Write each alert to the diagnostic log (`[log]`).
    pub log: bool,
    /// Alerts that may wait for delivery per sink; when full, new alerts for that sink are
    /// dropped and counted as undelivered.
    pub queue_capacity: usize,
    /// Roles whose grant raises a critical alert instead of a warning.
    pub admin_roles: Vec<String>,
    /// Failed logins from one user name or one address within `window` that raise an alert.
    pub failed_login_threshold: u32,
    /// Denied statements of one user within `window` that raise an alert.
    pub denial_threshold: u32,
    /// Window over which failed logins and denials are counted.
    #[serde(with = "duration")]
    pub window: Duration,
    /// HTTP webhooks, each `[[alerts.webhook]]`.
    pub webhook: Vec<WebhookConfig>,
    /// Syslog receiver (RFC 5424).
    pub syslog: Option<SyslogConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            log: true,
            queue_capacity: 1024,
            admin_roles: vec!["admin".to_string()],
            failed_login_threshold: 5,
            denial_threshold: 20,
            window: Duration::from_secs(5 * 60),
            webhook: Vec::new(),
            syslog: None,
        }
    }
}

/// `[[alerts.webhook]]`: an HTTP endpoint that receives each alert as a signed JSON POST.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Endpoint URL; `https://`, or `http://` to a loopback address.
    pub url: String,
    /// Environment variable holding the shared HMAC secret.
    pub secret_env: Option<String>,
    /// File holding the shared HMAC secret (mode 0600).
    pub secret_file: Option<PathBuf>,
    /// Time allowed for one delivery attempt.
    #[serde(default = "default_webhook_timeout", with = "duration")]
    pub timeout: Duration,
    /// Delivery attempts per alert before it is given up and counted as undelivered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry; each later retry waits twice as long.
    #[serde(default = "default_initial_backoff", with = "duration")]
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    #[serde(default = "default_max_backoff", with = "duration")]
    pub max_backoff: Duration,
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_max_attempts() -> u32 {
    10
}

fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}

fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}

/// Transport to a syslog receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    /// One datagram per message (RFC 5426).
    #[default]
    Udp,
    /// A stream with octet-counting framing (RFC 6587).
    Tcp,
}

/// `[alerts.syslog]`: a syslog receiver that gets each alert as an RFC 5424 message.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `HOST:PORT` of the receiver.
    pub address: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: SyslogTransport,
    /// APP-NAME field of each message.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// Syslog facility: `auth`, `authpriv` (default), `security` or `local0` to `local7`.
    #[serde(default = "default_facility")]
    pub facility: String,
}

fn default_app_name() -> String {
    "portcullis".to_string()
}

fn default_facility() -> String {
    "authpriv".to_string()
}

/// Returns the numeric syslog facility (RFC 5424, section 6.2.1) for a facility name.
pub fn syslog_facility_code(name: &str) -> Option<u8> {
    match name {
        "auth" => Some(4),
        "authpriv" => Some(10),
        "security" => Some(13),
        _ => {
            let digit = name.strip_prefix("local")?.parse::<u8>().ok()?;
            (digit <= 7).then_some(16 + digit)
        }
    }
}

pub(super) fn validate_alerts(alerts: &AlertsConfig) -> Result<(), ConfigError> {
    if alerts.queue_capacity == 0 {
        return Err(ConfigError::invalid("alerts.queue_capacity", 0, "at least 1"));
    }
    if alerts.window.is_zero() {
        return Err(ConfigError::invalid("alerts.window", "0s", "a positive duration such as \"5m\""));
    }
    for (index, webhook) in alerts.webhook.iter().enumerate() {
        validate_webhook(index, webhook)?;
    }
    if let Some(syslog) = &alerts.syslog {
        if syslog_facility_code(&syslog.facility).is_none() {
            return Err(ConfigError::invalid(
                "alerts.syslog.facility",
                format!("\"{}\"", syslog.facility),
                "auth, authpriv, security or local0 to local7",
            ));
        }
        let app_name_valid = !syslog.app_name.is_empty()
            && syslog.app_name.len() <= 48
            && syslog.app_name.bytes().all(|byte| (33..=126).contains(&byte));
        if !app_name_valid {
            return Err(ConfigError::invalid(
                "alerts.syslog.app_name",
                format!("\"{}\"", syslog.app_name),
                "1 to 48 printable ASCII characters without spaces",
            ));
        }
    }
    Ok(())
}

fn validate_webhook(index: usize, webhook: &WebhookConfig) -> Result<(), ConfigError> {
    let key = |field: &str| format!("alerts.webhook[{index}].{field}");
    if webhook.secret_env.is_some() == webhook.secret_file.is_some() {
        return Err(ConfigError::invalid(
            &key("secret_env"),
            webhook.secret_env.clone().unwrap_or_else(|| "(unset)".to_string()),
            "exactly one of secret_env or secret_file, naming where the shared HMAC secret is",
        ));
    }
    let loopback_http = ["http://127.0.0.1", "http://[::1]", "http://localhost"]
        .iter()
        .any(|prefix| webhook.url.starts_with(prefix));
    if !webhook.url.starts_with("https://") && !loopback_http {
        return Err(ConfigError::invalid(
            &key("url"),
            format!("\"{}\"", webhook.url),
            "an https:// URL, or http:// to 127.0.0.1, [::1] or localhost",
        ));
    }
    if webhook.max_attempts == 0 {
        return Err(ConfigError::invalid(&key("max_attempts"), 0, "at least 1"));
    }
    if webhook.timeout.is_zero() || webhook.initial_backoff.is_zero() {
        return Err(ConfigError::invalid(&key("timeout"), "0s", "timeout and initial_backoff longer than zero"));
    }
    Ok(())
}
