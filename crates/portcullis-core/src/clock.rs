//! Time sources, so that expiry and lockout logic can be tested with a controlled clock.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current UTC time.
pub trait Clock: Send + Sync {
    /// Returns the current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock, truncated to whole microseconds so that times round-trip through
/// the store (which keeps microseconds) unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// A clock that moves only when a test advances or sets it.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Creates a clock showing `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Moves the clock forward by `step`.
    pub fn advance(&self, step: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = saturating_add(*now, step);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Adds `duration` to `at`, stopping at the largest representable time instead of
/// overflowing.
pub fn saturating_add(at: OffsetDateTime, duration: Duration) -> OffsetDateTime {
    time::Duration::try_from(duration)
        .ok()
        .and_then(|duration| at.checked_add(duration))
        .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc())
}

/// Drops the sub-microsecond part of `at`.
pub fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let nanos = at.nanosecond();
    at.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_advances() {
        let clock = ManualClock::new(datetime!(2024-01-01 00:00 UTC));
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), datetime!(2024-01-01 00:01:30 UTC));
    }

    #[test]
    fn saturating_add_stops_at_maximum() {
        let at = datetime!(2024-01-01 00:00 UTC);
        let end = saturating_add(at, Duration::from_secs(u64::MAX));
        assert_eq!(end, time::PrimitiveDateTime::MAX.assume_utc());
    }

    #[test]
    fn system_clock_has_whole_microseconds() {
        assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
    }
}
