//! Counting repeated events per key (a user or an address) within a sliding window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Keys tracked at most; past this, keys with no event within the window are dropped.
const MAX_KEYS: usize = 10_000;

/// Reports a key once when its events within `window` reach `threshold`, then stays quiet
/// for that key until a full window has passed since the report.
#[derive(Debug)]
pub struct RepeatDetector {
    threshold: usize,
    window: Duration,
    keys: HashMap<String, KeyState>,
}

#[derive(Debug, Default)]
struct KeyState {
    /// Times of the newest events within the window, at most `threshold` of them.
    times: VecDeque<Instant>,
    reported_at: Option<Instant>,
}

impl RepeatDetector {
    /// Creates a detector. A `threshold` of 0 turns it off.
    pub fn new(threshold: u32, window: Duration) -> RepeatDetector {
        RepeatDetector {
            threshold: threshold as usize,
            window,
            keys: HashMap::new(),
        }
    }

    /// Records one event of `key` at `now`. Returns the count within the window when this
    /// event reaches the threshold and the key was not reported within the last window.
    pub fn record(&mut self, key: &str, now: Instant) -> Option<usize> {
        if self.threshold == 0 {
            return None;
        }
        if self.keys.len() >= MAX_KEYS && !self.keys.contains_key(key) {
            self.drop_stale(now);
        }
        let window = self.window;
        let threshold = self.threshold;
        let state = self.keys.entry(key.to_string()).or_default();
        while state.times.front().is_some_and(|first| now.duration_since(*first) > window) {
            state.times.pop_front();
        }
        state.times.push_back(now);
        if state.times.len() > threshold {
            state.times.pop_front();
        }
        let quiet = state.reported_at.is_none_or(|reported| now.duration_since(reported) > window);
        if state.times.len() >= threshold && quiet {
            state.reported_at = Some(now);
            return Some(state.times.len());
        }
        None
    }

    fn drop_stale(&mut self, now: Instant) {
        let window = self.window;
        self.keys.retain(|_, state| {
            let newest = state.times.back().copied().into_iter().chain(state.reported_at).max();
            newest.is_some_and(|newest| now.duration_since(newest) <= window)
        });
        if self.keys.len() >= MAX_KEYS {
            // NOTE: a flood of distinct keys within one window resets every count, so a
            // burst from many addresses at once can hide a slower attack from one of them.
            tracing::warn!(keys = self.keys.len(), "too many keys in the repeat detector; counts reset");
            self.keys.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn reports_once_at_threshold() {
        let mut detector = RepeatDetector::new(3, 60 * SECOND);
        let start = Instant::now();
        assert_eq!(detector.record("alice", start), None);
        assert_eq!(detector.record("alice", start + SECOND), None);
        assert_eq!(detector.record("alice", start + 2 * SECOND), Some(3));
        assert_eq!(detector.record("alice", start + 3 * SECOND), None);
        assert_eq!(detector.record("bob", start + 3 * SECOND), None);
    }

    #[test]
    fn events_outside_window_do_not_count() {
        let mut detector = RepeatDetector::new(3, 10 * SECOND);
        let start = Instant::now();
        detector.record("alice", start);
        detector.record("alice", start + SECOND);
        assert_eq!(detector.record("alice", start + 20 * SECOND), None);
        assert_eq!(detector.record("alice", start + 21 * SECOND), None);
        assert_eq!(detector.record("alice", start + 22 * SECOND), Some(3));
    }

    #[test]
    fn reports_again_after_quiet_window() {
        let mut detector = RepeatDetector::new(2, 10 * SECOND);
        let start = Instant::now();
        detector.record("alice", start);
        assert_eq!(detector.record("alice", start + SECOND), Some(2));
        assert_eq!(detector.record("alice", start + 5 * SECOND), None);
        assert_eq!(detector.record("alice", start + 12 * SECOND), Some(2));
    }

    #[test]
    fn zero_threshold_is_off() {
        let mut detector = RepeatDetector::new(0, 10 * SECOND);
        assert_eq!(detector.record("alice", Instant::now()), None);
    }
}
