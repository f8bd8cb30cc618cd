//! Target databases: the upstream servers that the gateway connects to on behalf of
//! users, with credentials only the gateway holds.
//!
//! A [`Target`] never contains the upstream password. The store keeps the password
//! sealed with the master key's target-credentials sub-key, apart from this type, so
//! the password cannot reach logs or API output through `Debug` or serde.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{TargetId, UserId};
use crate::names::TargetName;

/// TLS towards a target, named after libpq's `sslmode` values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum TargetTls {
    /// No TLS (only for servers on the same host or a trusted network).
    Disable,
    /// TLS without checking the server certificate.
    Require,
    /// TLS with the certificate checked against the CA file and the host name.
    VerifyFull {
        /// PEM file with the CA certificates to trust.
        ca_file: PathBuf,
    },
}

impl TargetTls {
    /// Returns the libpq `sslmode` name: `disable`, `require` or `verify-full`.
    pub fn mode_name(&self) -> &'static str {
        match self {
            TargetTls::Disable => "disable",
            TargetTls::Require => "require",
            TargetTls::VerifyFull { .. } => "verify-full",
        }
    }

    /// Returns the CA file of `verify-full`, or `None` for the other modes.
    pub fn ca_file(&self) -> Option<&PathBuf> {
        match self {
            TargetTls::VerifyFull { ca_file } => Some(ca_file),
            TargetTls::Disable | TargetTls::Require => None,
        }
    }
}

/// A target database as stored, without its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Identifier.
    pub id: TargetId,
    /// Unique name; clients send it as the PostgreSQL database name.
    pub name: TargetName,
    /// Host name or IP address of the server.
    pub host: String,
    /// TCP port of the server.
    pub port: u16,
    /// Database name on the server.
    pub database: String,
    /// Role the gateway logs in as.
    pub user: String,
    /// TLS towards the server.
    pub tls: TargetTls,
    /// Idle timeout of sessions on this target, replacing the listener's. The store
    /// keeps whole seconds and rounds a fraction up.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::config::duration::optional"
    )]
    pub idle_timeout: Option<Duration>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Administrator who created the target, or `None` when it was created without
    /// one (for example from the configuration file).
    pub created_by: Option<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> Target {
        Target {
            id: TargetId::new_random(),
            name: TargetName::new("ehr-prod").expect("valid name"),
            host: "db.example.internal".to_owned(),
            port: 5432,
            database: "ehr".to_owned(),
            user: "portcullis_gateway".to_owned(),
            tls: TargetTls::VerifyFull {
                ca_file: PathBuf::from("/etc/portcullis/ehr-ca.pem"),
            },
            idle_timeout: Some(Duration::from_secs(900)),
            created_at: datetime!(2030-01-01 00:00 UTC),
            created_by: None,
        }
    }

    #[test]
    fn target_serializes_tls_and_timeout() {
        let target = sample();
        let json = serde_json::to_value(&target).expect("serialize");
        assert_eq!(json["tls"]["mode"], "verify-full");
        assert_eq!(json["tls"]["ca_file"], "/etc/portcullis/ehr-ca.pem");
        assert_eq!(json["idle_timeout"], "15m");
        assert_eq!(json["created_at"], "2030-01-01T00:00:00Z");

        let back: Target = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, target);
    }

    #[test]
    fn target_without_timeout_round_trips() {
        let target = Target {
            tls: TargetTls::Disable,
            idle_timeout: None,
            ..sample()
        };
        let json = serde_json::to_value(&target).expect("serialize");
        assert!(json.get("idle_timeout").is_none(), "{json}");
        assert_eq!(json["tls"], serde_json::json!({"mode": "disable"}));
        let back: Target = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, target);
    }

    #[test]
    fn tls_mode_names_match_sslmode() {
        assert_eq!(TargetTls::Disable.mode_name(), "disable");
        assert_eq!(TargetTls::Require.mode_name(), "require");
        assert_eq!(sample().tls.mode_name(), "verify-full");
        assert_eq!(TargetTls::Require.ca_file(), None);
    }
}
