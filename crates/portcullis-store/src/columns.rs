//! Conversions between domain values and column values shared by both backends.

use std::net::IpAddr;

use portcullis_core::{AccountKind, TokenHash, UserId};
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
