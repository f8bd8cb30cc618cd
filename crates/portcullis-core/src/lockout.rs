//! Lockout after repeated failed logins, counted per user and per source address.
//!
//! The functions here are pure: the store keeps one [`FailureRecord`] per key and
//! applies [`LockoutPolicy::record_failure`] inside a transaction.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::saturating_add;
use crate::names::UserName;

/// When failed attempts lock a key, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within `window` that cause a lockout; 0 is treated as 1.
    pub max_failures: u32,
    /// Period over which failures are counted, starting at the first failure.
    pub window: Duration,
    /// How long a lockout lasts.
    pub lockout: Duration,
}

/// Failed attempts recorded for one key, such as `user:alice` or `addr:192.0.2.7`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    /// Counted subject, built by [`user_key`] or [`address_key`].
    pub key: String,
    /// Failures in the current window.
    pub failures: u32,
    /// Time of the first failure in the current window.
    pub window_started_at: OffsetDateTime,
    /// Time of the latest failure.
    pub last_failure_at: OffsetDateTime,
    /// End of the current lockout, if one was imposed.
    pub locked_until: Option<OffsetDateTime>,
}

/// Whether a new attempt may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptDecision {
    /// The attempt may proceed.
    Allowed,
    /// The key is locked; attempts are rejected until the given time.
    Locked {
        /// End of the lockout.
        until: OffsetDateTime,
    },
}

impl LockoutPolicy {
    /// Decides whether an attempt at `now` may proceed, given the key's record.
    pub fn check(&self, record: Option<&FailureRecord>, now: OffsetDateTime) -> AttemptDecision {
        match record.and_then(|record| record.locked_until) {
            Some(until) if now < until => AttemptDecision::Locked { until },
            _ => AttemptDecision::Allowed,
        }
    }

    /// Returns the key's record after one more failure at `now`, with `locked_until`
    /// set when the failure reaches `max_failures` within the window.
    ///
    /// A failure after the window has passed, or after a lockout has ended, starts a
    /// new window with a count of one.
    pub fn record_failure(
        &self,
        key: &str,
        previous: Option<FailureRecord>,
        now: OffsetDateTime,
    ) -> FailureRecord {
        let mut record = match previous {
            Some(record) if !self.starts_new_window(&record, now) => record,
            _ => FailureRecord {
                key: key.to_owned(),
                failures: 0,
                window_started_at: now,
                last_failure_at: now,
                locked_until: None,
            },
        };

        record.failures = record.failures.saturating_add(1);
        record.last_failure_at = now;
        if record.failures >= self.max_failures.max(1) {
            record.locked_until = Some(saturating_add(now, self.lockout));
        }
        record
    }

    fn starts_new_window(&self, record: &FailureRecord, now: OffsetDateTime) -> bool {
        let window_over = now >= saturating_add(record.window_started_at, self.window);
        let lockout_over = record.locked_until.is_some_and(|until| now >= until);
        window_over || lockout_over
    }
}

/// Failure key of a user name. Names that match no account are counted too, so the
/// lockout behaves the same whether or not a user exists.
pub fn user_key(name: &UserName) -> String {
    format!("user:{name}")
}

/// Failure key of a source address. IPv4-mapped IPv6 addresses count as their IPv4
/// address, and other IPv6 addresses count by their /64 prefix, because one client
/// is usually assigned a whole /64.
pub fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => format!("addr:{}/64", prefix_64(v6)),
        },
    }
}

fn prefix_64(address: Ipv6Addr) -> Ipv6Addr {
    let bits = u128::from(address) & !u128::from(u64::MAX);
    Ipv6Addr::from(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failures: 3,
        window: Duration::from_secs(600),
        lockout: Duration::from_secs(900),
    };

    fn fail_times(policy: &LockoutPolicy, times: &[OffsetDateTime]) -> FailureRecord {
        let mut record = None;
        for at in times {
            record = Some(policy.record_failure("user:alice", record, *at));
        }
        record.expect("at least one failure")
    }

    #[test]
    fn lockout_after_max_failures_in_window() {
        let t0 = datetime!(2024-01-01 12:00 UTC);
        let record = fail_times(&POLICY, &[t0, t0 + time::Duration::minutes(1)]);
        assert_eq!(record.locked_until, None);
        assert_eq!(POLICY.check(Some(&record), t0), AttemptDecision::Allowed);

        let third = t0 + time::Duration::minutes(2);
        let record = POLICY.record_failure("user:alice", Some(record), third);
        let until = third + time::Duration::minutes(15);
        assert_eq!(record.locked_until, Some(until));
        assert_eq!(
            POLICY.check(Some(&record), third),
            AttemptDecision::Locked { until }
        );
    }

    #[test]
    fn lockout_expires() {
        let t0 = datetime!(2024-01-01 12:00 UTC);
        let record = fail_times(&POLICY, &[t0, t0, t0]);
        let until = t0 + time::Duration::minutes(15);
        assert_eq!(
            POLICY.check(Some(&record), until - time::Duration::seconds(1)),
            AttemptDecision::Locked { until }
        );
        assert_eq!(POLICY.check(Some(&record), until), AttemptDecision::Allowed);

        let after = POLICY.record_failure("user:alice", Some(record), until);
        assert_eq!(after.failures, 1);
        assert_eq!(after.locked_until, None);
    }

    #[test]
    fn failures_outside_window_start_over() {
        let t0 = datetime!(2024-01-01 12:00 UTC);
        let record = fail_times(
            &POLICY,
            &[
                t0,
                t0 + time::Duration::minutes(5),
                t0 + time::Duration::minutes(10),
            ],
        );
        assert_eq!(record.failures, 1);
        assert_eq!(record.window_started_at, t0 + time::Duration::minutes(10));
        assert_eq!(record.locked_until, None);
    }

    #[test]
    fn no_record_is_allowed() {
        assert_eq!(
            POLICY.check(None, datetime!(2024-01-01 12:00 UTC)),
            AttemptDecision::Allowed
        );
    }

    #[test]
    fn zero_max_failures_locks_on_first_failure() {
        let policy = LockoutPolicy {
            max_failures: 0,
            ..POLICY
        };
        let record = fail_times(&policy, &[datetime!(2024-01-01 12:00 UTC)]);
        assert!(record.locked_until.is_some());
    }

    #[test]
    fn address_keys_group_ipv6_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ipv6");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ipv6");
        assert_eq!(address_key(a), "addr:2001:db8:1:2::/64");
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("mapped");
        assert_eq!(address_key(mapped), "addr:192.0.2.7");
        assert_eq!(
            address_key("192.0.2.7".parse().expect("ipv4")),
            "addr:192.0.2.7"
        );
    }

    #[test]
    fn user_key_uses_name() {
        assert_eq!(
            user_key(&UserName::new("alice").expect("valid")),
            "user:alice"
        );
    }
}
