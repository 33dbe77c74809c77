//! The worker's tick period: how often it flushes counts, merges outcomes and advances allocations and
//! rollouts, from what the learners need next.

use super::learning::TickNeeds;

/// How often each worker hands its batched counts to the host (the contract asks for at least once a
/// second), when nothing learns.
pub const FLUSH_TICK_MILLISECONDS: u32 = 1000;
/// How often each worker merges outcomes and advances its allocations and rollouts; counts are flushed
/// on the same tick. A rollout's step change comes sooner: the tick is shortened to land on it.
pub const TICK_MILLISECONDS: u32 = 500;
/// The tick while a Thompson estimate is spread over several ticks (many predictors): each tick's work
/// stays bounded, and the estimate still completes within seconds.
pub const ESTIMATING_TICK_MILLISECONDS: u32 = 50;

/// The period of the next tick: fast while estimating, else the usual period, shortened so that the
/// tick lands on the next rollout step change (the host re-arms the timer when the period is set).
pub fn period_for(needs: TickNeeds, now_nanos: u64) -> u32 {
    if needs.estimating {
        return ESTIMATING_TICK_MILLISECONDS;
    }
    match needs.next_change_nanos {
        Some(change) => {
            let until_ms = change.saturating_sub(now_nanos).div_ceil(1_000_000);
            u32::try_from(until_ms)
                .unwrap_or(u32::MAX)
                .clamp(1, TICK_MILLISECONDS)
        }
        None => TICK_MILLISECONDS,
    }
}
