//! From shares to what serves requests: the share floor, basis points that add up to exactly 10,000,
//! and the bucket table of new assignments.

use crate::router::adaptive::policy::{epsilon_greedy_shares, ThompsonRun};
use crate::router::bucketing::{BucketTable, BUCKETS};
use crate::router::config::{Adaptive, Experiment, Policy};
use crate::router::outcomes::Totals;

/// The shares of new assignments of an experiment, and their bucket table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Per predictor in listed order, in basis points; weight-0 predictors hold 0; they add up to 10,000.
    pub shares_bp: Vec<u32>,
    pub buckets: BucketTable,
    /// `false` while the configured weights are in force (burn-in, or nothing learned).
    pub learned: bool,
}

impl Allocation {
    /// The configured weights, as the 10,000 buckets divide them.
    pub fn configured(experiment: &Experiment) -> Self {
        Allocation {
            shares_bp: experiment.buckets.sizes().collect(),
            buckets: experiment.buckets.clone(),
            learned: false,
        }
    }

    /// From basis points per predictor (adding up to 10,000).
    pub fn learned(shares_bp: Vec<u32>) -> Self {
        let buckets = BucketTable::new(shares_bp.iter().copied());
        Allocation {
            shares_bp,
            buckets,
            learned: true,
        }
    }

    /// Whether any predictor's share differs by at least `bp` basis points from `other`'s.
    pub fn moved_from(&self, other: &[u32], bp: u32) -> bool {
        self.shares_bp.len() != other.len()
            || self
                .shares_bp
                .iter()
                .zip(other)
                .any(|(a, b)| a.abs_diff(*b) >= bp)
    }
}

/// Whether the configured weights still stand: some taking part predictor has fewer than
/// `min_outcomes` outcomes.
pub fn in_burn_in(experiment: &Experiment, adaptive: &Adaptive, totals: &Totals) -> bool {
    experiment.taking_part().any(|(id, _)| {
        totals
            .arms
            .get(id.index())
            .is_none_or(|a| a.trials < u64::from(adaptive.min_outcomes))
    })
}

/// A recompute of an adaptive experiment's allocation from its totals: done at once (burn-in,
/// epsilon-greedy), or a Thompson estimate still to run (in one go, or in slices on the host's ticks).
pub enum Recompute {
    Done(Allocation),
    Estimate(ThompsonRun),
}

pub fn recompute(experiment: &Experiment, adaptive: &Adaptive, totals: &Totals) -> Recompute {
    if in_burn_in(experiment, adaptive, totals) {
        return Recompute::Done(Allocation::configured(experiment));
    }
    let arms = arms_of(experiment, totals);
    match adaptive.policy {
        Policy::EpsilonGreedy { epsilon_percent } => {
            let shares = epsilon_greedy_shares(&arms, epsilon_percent);
            Recompute::Done(from_shares(experiment, adaptive, &shares))
        }
        Policy::Thompson => Recompute::Estimate(ThompsonRun::new(&arms)),
    }
}

/// The allocation for `totals`, computed in one go (a Thompson estimate runs all of its draws at once).
pub fn allocate(experiment: &Experiment, totals: &Totals) -> Allocation {
    let Some(adaptive) = &experiment.adaptive else {
        return Allocation::configured(experiment);
    };
    match recompute(experiment, adaptive, totals) {
        Recompute::Done(allocation) => allocation,
        Recompute::Estimate(mut run) => {
            run.advance(u32::MAX);
            from_shares(experiment, adaptive, &run.shares())
        }
    }
}

/// The outcomes of the taking part predictors, in listed order.
pub fn arms_of(experiment: &Experiment, totals: &Totals) -> Vec<crate::router::outcomes::ArmTotals> {
    experiment
        .taking_part()
        .map(|(id, _)| totals.arms.get(id.index()).copied().unwrap_or_default())
        .collect()
}

/// Shares of the taking part predictors (in listed order) → floor → basis points → allocation.
pub fn from_shares(experiment: &Experiment, adaptive: &Adaptive, shares: &[f64]) -> Allocation {
    let floored = with_floor(shares, f64::from(adaptive.min_share_percent) / 100.0);
    let bp = to_basis_points(&floored);
    let mut per_predictor = vec![0u32; experiment.predictors.len()];
    for ((id, _), share) in experiment.taking_part().zip(bp) {
        if let Some(slot) = per_predictor.get_mut(id.index()) {
            *slot = share;
        }
    }
    Allocation::learned(per_predictor)
}

/// Raises every share below `floor` to it and scales the others down in proportion so that they add up
/// to 1; repeated until no scaled share falls below the floor (at most once per arm).
pub fn with_floor(shares: &[f64], floor: f64) -> Vec<f64> {
    let n = shares.len();
    let total: f64 = shares.iter().filter(|s| s.is_finite() && **s > 0.0).sum();
    let mut out: Vec<f64> = if total > 0.0 {
        shares
            .iter()
            .map(|s| if s.is_finite() && *s > 0.0 { s / total } else { 0.0 })
            .collect()
    } else {
        vec![1.0 / n.max(1) as f64; n]
    };
    if floor <= 0.0 || floor * n as f64 > 1.0 + 1e-12 {
        return out;
    }
    let mut pinned = vec![false; n];
    for _ in 0..=n {
        let mut changed = false;
        for (s, p) in out.iter_mut().zip(pinned.iter_mut()) {
            if !*p && *s < floor {
                *s = floor;
                *p = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let pinned_total = floor * pinned.iter().filter(|p| **p).count() as f64;
        let free_total: f64 = out
            .iter()
            .zip(&pinned)
            .filter(|(_, p)| !**p)
            .map(|(s, _)| s)
            .sum();
        let room = (1.0 - pinned_total).max(0.0);
        for (s, p) in out.iter_mut().zip(&pinned) {
            if !*p {
                *s = if free_total > 0.0 {
                    *s * room / free_total
                } else {
                    0.0
                };
            }
        }
    }
    out
}

/// Shares (adding up to 1) → basis points adding up to exactly 10,000 (largest remainder).
pub fn to_basis_points(shares: &[f64]) -> Vec<u32> {
    let total = f64::from(BUCKETS);
    let exact: Vec<f64> = shares.iter().map(|s| (s * total).clamp(0.0, total)).collect();
    let mut bp: Vec<u32> = exact.iter().map(|e| e.floor() as u32).collect();
    let assigned: u32 = bp.iter().sum();
    let mut order: Vec<usize> = (0..bp.len()).collect();
    order.sort_by(|a, b| {
        let frac = |i: &usize| exact.get(*i).map_or(0.0, |e| e - e.floor());
        frac(b).partial_cmp(&frac(a)).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut missing = BUCKETS.saturating_sub(assigned);
    for i in order.iter().cycle().take(order.len() * 2) {
        if missing == 0 {
            break;
        }
        if let Some(b) = bp.get_mut(*i) {
            *b += 1;
            missing -= 1;
        }
    }
    bp
}
