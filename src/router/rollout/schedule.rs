//! Where a rollout stands at an instant: a pure function of `start`, the steps and the clock, so every
//! replica and worker is at the same step at the same second without talking to the others.

use crate::router::config::Rollout;

/// The phase of a rollout's schedule at an instant (a rollback is not part of the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// 0 before `start`, then 1 to the number of steps.
    pub step: u32,
    /// The canary's share of new assignments: 0 before `start`, then the step's `percent`.
    pub percent: u32,
}

/// When each step begins, in Unix seconds (the first at `start`); the last step never ends.
pub fn step_starts(rollout: &Rollout) -> Vec<u64> {
    let mut at = rollout.start_unix;
    rollout
        .steps
        .iter()
        .map(|step| {
            let begins = at;
            at = at.saturating_add(u64::from(step.minutes.unwrap_or(0)) * 60);
            begins
        })
        .collect()
}

/// The phase at `now_unix` (whole seconds): a step begins at its first second.
pub fn phase_at(rollout: &Rollout, now_unix: u64) -> Phase {
    let starts = step_starts(rollout);
    let begun = starts.iter().take_while(|begins| **begins <= now_unix).count();
    match begun.checked_sub(1).and_then(|i| rollout.steps.get(i)) {
        None => Phase { step: 0, percent: 0 },
        Some(step) => Phase {
            step: u32::try_from(begun).unwrap_or(u32::MAX),
            percent: step.percent,
        },
    }
}

/// The next instant after `now_unix` at which the phase changes, if the schedule has one left.
pub fn next_change(rollout: &Rollout, now_unix: u64) -> Option<u64> {
    step_starts(rollout).into_iter().find(|begins| *begins > now_unix)
}
