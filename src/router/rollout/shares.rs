//! What serves new assignments in each phase of a rollout: the canary gets the step's percent, the
//! baseline (the other predictors with weight > 0) shares the rest in proportion to its weights, and
//! the bucket table is built from those shares exactly as from weights. Because the canary is the last
//! listed predictor with weight > 0, a growing canary's bucket range only grows downwards: none of its
//! hashed users ever moves.
//!
//! Tables are built once per configuration, one per phase: index 0 (the canary at 0 %: before `start`,
//! and after a rollback) and one per step.

use crate::router::bucketing::BucketTable;
use crate::router::config::{Experiment, Rollout};

/// One phase's new assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseTable {
    /// The canary's percent in this phase.
    pub percent: u32,
    pub buckets: BucketTable,
    /// Per predictor in listed order, in basis points (the `share_bp` gauges): the bucket counts.
    pub shares_bp: Vec<u32>,
    /// Predictors whose share is 0 % in this phase (bit i: predictor i): their cookie keeps no user, as
    /// a weight-0 predictor's does (the canary at 0 %, the baseline at 100 %).
    pub closed: u64,
}

/// The tables of every phase: `[canary at 0 %, step 1, ..., step n]`.
pub fn phase_tables(experiment: &Experiment, rollout: &Rollout) -> Vec<PhaseTable> {
    std::iter::once(0)
        .chain(rollout.steps.iter().map(|s| s.percent))
        .map(|percent| phase_table(experiment, rollout, percent))
        .collect()
}

/// The table with the canary at `percent` (0 to 100).
pub fn phase_table(experiment: &Experiment, rollout: &Rollout, percent: u32) -> PhaseTable {
    let canary = rollout.canary.index();
    let percent = percent.min(100);
    let baseline_total: u64 = experiment
        .predictors
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != canary)
        .map(|(_, p)| u64::from(p.weight))
        .sum();
    let weights = experiment.predictors.iter().enumerate().map(move |(i, p)| {
        if i == canary {
            u64::from(percent) * baseline_total
        } else {
            u64::from(p.weight) * u64::from(100 - percent)
        }
    });
    let buckets = BucketTable::from_wide_weights(weights);
    let shares_bp = buckets.sizes().collect();
    let mut closed = 0u64;
    for (i, p) in experiment.predictors.iter().enumerate() {
        let share_is_zero = if i == canary {
            percent == 0
        } else {
            p.weight == 0 || percent == 100
        };
        if share_is_zero && i < 64 {
            closed |= 1 << i;
        }
    }
    PhaseTable {
        percent,
        buckets,
        shares_bp,
        closed,
    }
}
