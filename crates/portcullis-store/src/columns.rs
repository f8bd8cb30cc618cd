//! Conversions between domain values and column values shared by both backends.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_core::scram::SCRAM_SALT_LEN;
use portcullis_core::{AccountKind, ScramKeys, TargetTls, TokenHash, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;

/// Converts a time to UTC unix microseconds, the stored form of every timestamp.
pub(crate) fn to_micros(at: OffsetDateTime) -> i64 {
    // i64 microseconds cover ±292,000 years, beyond the `time` crate's default range.
    (at.unix_timestamp_nanos() / 1_000) as i64
}

/// Converts stored unix microseconds back to a UTC time.
pub(crate) fn from_micros(column: &'static str, micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).map_err(|error| {
        StoreError::Corrupt {
            column,
            detail: error.to_string(),
        }
    })
}

/// Converts an optional stored timestamp.
pub(crate) fn from_micros_opt(
    column: &'static str,
    micros: Option<i64>,
) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(|micros| from_micros(column, micros)).transpose()
}

/// Converts a TOTP time step to a column value. Steps are below 2^63 until far beyond
/// the range of `time`, so saturating never happens in practice.
pub(crate) fn step_to_column(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// Converts a stored TOTP time step.
pub(crate) fn step_from_column(step: Option<i64>) -> Result<Option<u64>, StoreError> {
    step.map(|step| {
        u64::try_from(step).map_err(|_| StoreError::Corrupt {
            column: "totp_last_step",
            detail: format!("negative step {step}"),
        })
    })
    .transpose()
}

/// Stored text of an account kind.
pub(crate) fn kind_to_column(kind: &AccountKind) -> &'static str {
    match kind {
        AccountKind::Human => "human",
        AccountKind::Service { .. } => "service",
    }
}

/// Rebuilds an account kind from its stored text and owner column.
pub(crate) fn kind_from_columns(
    kind: &str,
    owner: Option<Uuid>,
) -> Result<AccountKind, StoreError> {
    match (kind, owner) {
        ("human", None) => Ok(AccountKind::Human),
        ("service", Some(owner)) => Ok(AccountKind::Service {
            owner: UserId(owner),
        }),
        _ => Err(StoreError::Corrupt {
            column: "kind",
            detail: format!("kind `{kind}` with owner {owner:?}"),
        }),
    }
}

/// Rebuilds a token hash from its stored bytes.
pub(crate) fn hash_from_column(bytes: &[u8]) -> Result<TokenHash, StoreError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        column: "hash",
        detail: format!("{} bytes instead of 32", bytes.len()),
    })?;
    Ok(TokenHash(array))
}

/// Converts stored bytes to a fixed-size array, reporting another length as corrupt.
fn array_from_column<const N: usize>(
    column: &'static str,
    bytes: &[u8],
) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        column,
        detail: format!("{} bytes instead of {N}", bytes.len()),
    })
}

/// Rebuilds a user's SCRAM salt from its stored bytes.
pub(crate) fn salt_from_column(bytes: &[u8]) -> Result<[u8; SCRAM_SALT_LEN], StoreError> {
    array_from_column("scram_salt", bytes)
}

/// Rebuilds a token's SCRAM keys from their stored bytes.
pub(crate) fn scram_keys_from_columns(
    stored_key: &[u8],
    server_key: &[u8],
) -> Result<ScramKeys, StoreError> {
    Ok(ScramKeys {
        stored_key: array_from_column("scram_stored_key", stored_key)?,
        server_key: array_from_column("scram_server_key", server_key)?,
    })
}

/// Converts a stored PBKDF2 iteration count.
pub(crate) fn iterations_from_column(iterations: i64) -> Result<u32, StoreError> {
    u32::try_from(iterations)
        .ok()
        .filter(|iterations| *iterations >= 1)
        .ok_or_else(|| StoreError::Corrupt {
            column: "scram_iterations",
            detail: format!("count {iterations} is outside 1 to {}", u32::MAX),
        })
}

/// Converts a stored TCP port.
pub(crate) fn port_from_column(port: i64) -> Result<u16, StoreError> {
    u16::try_from(port)
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| StoreError::Corrupt {
            column: "port",
            detail: format!("port {port} is outside 1 to 65535"),
        })
}

/// Converts an idle timeout to whole seconds, rounding a fraction up so that a
/// timeout never becomes shorter than configured.
pub(crate) fn timeout_to_column(timeout: Duration) -> i64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Converts a stored idle timeout in seconds.
pub(crate) fn timeout_from_column(seconds: Option<i64>) -> Result<Option<Duration>, StoreError> {
    seconds
        .map(|seconds| {
            u64::try_from(seconds)
                .ok()
                .filter(|seconds| *seconds > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| StoreError::Corrupt {
                    column: "idle_timeout_secs",
                    detail: format!("{seconds} is not a positive number of seconds"),
                })
        })
        .transpose()
}

/// Converts a CA file path to its stored text.
pub(crate) fn path_to_column(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::InvalidValue {
        column: "ca_file",
        detail: format!(
            "the path {} is not valid UTF-8; move the CA file to a UTF-8 path",
            path.display()
        ),
    })
}

/// Rebuilds a target's TLS setting from its stored mode and CA file.
pub(crate) fn tls_from_columns(
    mode: &str,
    ca_file: Option<String>,
) -> Result<TargetTls, StoreError> {
    match (mode, ca_file) {
        ("disable", None) => Ok(TargetTls::Disable),
        ("require", None) => Ok(TargetTls::Require),
        ("verify-full", Some(ca_file)) => Ok(TargetTls::VerifyFull {
            ca_file: PathBuf::from(ca_file),
        }),
        (mode, ca_file) => Err(StoreError::Corrupt {
            column: "tls_mode",
            detail: format!("mode `{mode}` with CA file {ca_file:?}"),
        }),
    }
}

/// Parses a stored source address.
pub(crate) fn address_from_column(text: Option<String>) -> Result<Option<IpAddr>, StoreError> {
    text.map(|text| {
        text.parse().map_err(|_| StoreError::Corrupt {
            column: "source_addr",
            detail: format!("`{text}` is not an IP address"),
        })
    })
    .transpose()
}

/// Converts a stored failure count.
pub(crate) fn count_from_column(count: i64) -> Result<u32, StoreError> {
    u32::try_from(count).map_err(|_| StoreError::Corrupt {
        column: "failures",
        detail: format!("count {count} out of range"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_round_trip() {
        let at = datetime!(2024-02-29 23:59:59.123456 UTC);
        assert_eq!(from_micros("t", to_micros(at)).expect("valid"), at);
        assert_eq!(to_micros(datetime!(1970-01-01 00:00:01 UTC)), 1_000_000);
    }

    #[test]
    fn timeout_rounds_fraction_up() {
        assert_eq!(timeout_to_column(Duration::from_secs(900)), 900);
        assert_eq!(timeout_to_column(Duration::from_millis(1_500)), 2);
        assert_eq!(timeout_to_column(Duration::from_millis(1)), 1);
        assert_eq!(
            timeout_from_column(Some(900)).expect("valid"),
            Some(Duration::from_secs(900))
        );
        assert!(timeout_from_column(Some(0)).is_err());
        assert_eq!(timeout_from_column(None).expect("valid"), None);
    }

    #[test]
    fn tls_columns_round_trip() {
        let verify = TargetTls::VerifyFull {
            ca_file: PathBuf::from("/etc/ca.pem"),
        };
        for tls in [TargetTls::Disable, TargetTls::Require, verify] {
            let ca_file = tls.ca_file().map(|path| path.display().to_string());
            assert_eq!(
                tls_from_columns(tls.mode_name(), ca_file).expect("valid"),
                tls
            );
        }
        assert!(tls_from_columns("verify-full", None).is_err());
        assert!(tls_from_columns("require", Some("/etc/ca.pem".to_owned())).is_err());
        assert!(tls_from_columns("prefer", None).is_err());
    }

    #[test]
    fn numeric_columns_reject_out_of_range() {
        assert_eq!(port_from_column(5432).expect("valid"), 5432);
        assert!(port_from_column(0).is_err());
        assert!(port_from_column(65_536).is_err());
        assert_eq!(iterations_from_column(4096).expect("valid"), 4096);
        assert!(iterations_from_column(0).is_err());
        assert!(iterations_from_column(i64::from(u32::MAX) + 1).is_err());
        assert!(salt_from_column(&[0; 15]).is_err());
    }

    #[test]
    fn kind_columns_round_trip() {
        let owner = UserId::new_random();
        let service = AccountKind::Service { owner };
        assert_eq!(
            kind_from_columns(kind_to_column(&service), Some(owner.0)).expect("valid"),
            service
        );
        assert!(kind_from_columns("service", None).is_err());
        assert!(kind_from_columns("human", Some(owner.0)).is_err());
    }
}
