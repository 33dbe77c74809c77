//! When a pooled experiment queries, and over what window: pure functions of the host clock, so that
//! every replica that evaluates the same update asks Prometheus the same question.

/// The instant (Unix seconds) an update evaluates its query at:
/// `T = floor(now / update_seconds) * update_seconds - delay_seconds`. Every replica in the same update
/// interval gets the same `T`, whenever in the interval its tick runs.
pub fn aligned_instant(now_seconds: u64, update_seconds: u32, delay_seconds: u32) -> u64 {
    let update = u64::from(update_seconds.max(1));
    (now_seconds / update * update).saturating_sub(u64::from(delay_seconds))
}

/// A rollout's window at `T`: the seconds from `start` to `T` (its outcomes since `start`); `None`
/// while `T` is not after `start` (nothing to pool yet).
pub fn rollout_window(start_unix: u64, t: u64) -> Option<u64> {
    t.checked_sub(start_unix).filter(|w| *w > 0)
}
