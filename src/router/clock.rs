//! Deadlines against the host clock, which is wall time and may jump: an NTP step, a VM restored from a
//! snapshot, a leap smear gone wrong. A periodic job (a guard's look, a bandit's recompute, a fleet
//! claim) whose deadline is further ahead than one period could have put it was scheduled by a clock
//! that has since gone back: it is due now, so that a jump back never freezes the job until the clock
//! catches up (an hour back would otherwise mean an hour with no rollback). A jump forward makes a
//! deadline due at once, as it should.
//!
//! "Further ahead" allows [`SKEW_NANOS`]: a deadline another worker set from its own read of the clock
//! (a fleet claim) may be a little further ahead than this worker's read, without any jump.

/// How far apart two workers' reads of the clock may be without counting as a jump.
pub const SKEW_NANOS: u64 = 1_000_000_000;

/// Whether a job due at `next_nanos`, scheduled at most `period_nanos` ahead, is due at `now_nanos`.
pub fn due(now_nanos: u64, next_nanos: u64, period_nanos: u64) -> bool {
    now_nanos >= next_nanos || next_nanos - now_nanos > period_nanos.saturating_add(SKEW_NANOS)
}

#[cfg(test)]
mod tests {
    use super::due;

    const PERIOD: u64 = 10;

    #[test]
    fn a_deadline_within_one_period_and_the_skew_waits() {
        assert!(!due(100, 101, PERIOD));
        assert!(!due(100, 110, PERIOD));
        assert!(!due(100, 110 + super::SKEW_NANOS, PERIOD));
    }

    #[test]
    fn a_deadline_reached_or_passed_is_due() {
        assert!(due(110, 110, PERIOD));
        assert!(due(u64::MAX, 110, PERIOD));
    }

    #[test]
    fn a_deadline_beyond_one_period_and_the_skew_means_the_clock_went_back() {
        assert!(due(100, 111 + super::SKEW_NANOS, PERIOD));
        assert!(due(0, u64::MAX, PERIOD));
    }
}
