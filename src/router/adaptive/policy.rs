//! The two policies of the contract: each turns the outcomes of the taking part predictors into shares
//! (fractions that add up to 1, in the order of the arms given).
//!
//! Thompson sampling estimates each arm's probability of being the best from [`JOINT_DRAWS`] joint
//! draws of the Beta posteriors. The run can be advanced in slices ([`ThompsonRun::advance`]), so that
//! no proxy-wasm tick runs long however many predictors there are, and it is seeded from the totals
//! themselves, so that every worker of an Envoy that sees the same merged totals computes the same shares.

use crate::router::adaptive::beta::{Beta, Sampler};
use crate::router::outcomes::ArmTotals;

/// Joint posterior draws per Thompson estimate (the contract's minimum).
pub const JOINT_DRAWS: u32 = 10_000;

/// Epsilon-greedy: the arm with the highest mean reward (the first listed on a tie) gets
/// `1 - epsilon`, the others split `epsilon` equally. A single arm gets everything.
pub fn epsilon_greedy_shares(arms: &[ArmTotals], epsilon_percent: u32) -> Vec<f64> {
    let n = arms.len();
    if n <= 1 {
        return vec![1.0; n];
    }
    let mut best = 0;
    for (i, arm) in arms.iter().enumerate() {
        if arm.mean() > arms.get(best).map_or(f64::MIN, ArmTotals::mean) {
            best = i;
        }
    }
    let epsilon = f64::from(epsilon_percent.min(100)) / 100.0;
    let other = epsilon / (n - 1) as f64;
    (0..n)
        .map(|i| if i == best { 1.0 - epsilon } else { other })
        .collect()
}

/// A Thompson estimate in progress.
pub struct ThompsonRun {
    posteriors: Vec<Beta>,
    /// Arm indices, best posterior mean first: the order in which a joint draw visits them.
    order: Vec<usize>,
    /// For each arm, the largest value its draws can take (the normal table is bounded), so that a
    /// draw can skip arms that cannot beat the best value so far without changing any outcome.
    upper: Vec<f64>,
    /// Arms with identical outcomes share one group: their wins are pooled and split equally, since
    /// identical posteriors have identical probabilities of being the best.
    group: Vec<usize>,
    sampler: Sampler,
    wins: Vec<u64>,
    draws: u32,
}

impl ThompsonRun {
    pub fn new(arms: &[ArmTotals]) -> Self {
        let posteriors: Vec<Beta> = arms
            .iter()
            .map(|a| Beta::new(1.0 + a.successes(), 1.0 + a.failures()))
            .collect();
        let means: Vec<f64> = arms
            .iter()
            .map(|a| (1.0 + a.successes()) / (2.0 + a.trials as f64))
            .collect();
        let mut order: Vec<usize> = (0..arms.len()).collect();
        order.sort_by(|a, b| {
            let (ma, mb) = (means.get(*a), means.get(*b));
            mb.partial_cmp(&ma).unwrap_or(std::cmp::Ordering::Equal)
        });
        let upper = posteriors.iter().map(Beta::upper_bound).collect();
        let group = (0..arms.len())
            .map(|i| {
                let arm = arms.get(i);
                arms.iter().position(|a| Some(a) == arm).unwrap_or(i)
            })
            .collect();
        ThompsonRun {
            posteriors,
            order,
            upper,
            group,
            sampler: Sampler::new(seed_of(arms)),
            wins: vec![0; arms.len()],
            draws: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.draws >= JOINT_DRAWS
    }

    /// Runs joint draws until about `max_arm_draws` single posterior draws have been made (at least
    /// one joint draw) or the estimate is complete; returns whether it is complete.
    pub fn advance(&mut self, max_arm_draws: u32) -> bool {
        let mut spent = 0u32;
        while !self.done() && (spent == 0 || spent < max_arm_draws) {
            let mut best: Option<(usize, f64)> = None;
            for &arm in &self.order {
                let (Some(posterior), Some(upper)) = (self.posteriors.get(arm), self.upper.get(arm)) else {
                    continue;
                };
                if best.is_some_and(|(_, value)| *upper <= value) {
                    continue;
                }
                spent += 1;
                let value = posterior.sample(&mut self.sampler);
                if best.is_none_or(|(_, v)| value > v) {
                    best = Some((arm, value));
                }
            }
            if let Some(w) = best.and_then(|(arm, _)| self.wins.get_mut(arm)) {
                *w += 1;
            }
            self.draws += 1;
        }
        self.done()
    }

    /// The shares so far (complete once [`ThompsonRun::done`]).
    pub fn shares(&self) -> Vec<f64> {
        let total = self.wins.iter().sum::<u64>().max(1) as f64;
        (0..self.wins.len())
            .map(|i| {
                let g = self.group.get(i).copied().unwrap_or(i);
                let members = self.group.iter().filter(|x| **x == g).count().max(1);
                let pooled: u64 = self
                    .group
                    .iter()
                    .zip(&self.wins)
                    .filter(|(x, _)| **x == g)
                    .map(|(_, w)| *w)
                    .sum();
                pooled as f64 / members as f64 / total
            })
            .collect()
    }
}

/// A seed that depends only on the outcomes (FNV-1a over them).
fn seed_of(arms: &[ArmTotals]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for a in arms {
        for b in a.trials.to_le_bytes().iter().chain(&a.reward_milli.to_le_bytes()) {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Thompson shares in one go (configuration time and tests).
pub fn thompson_shares(arms: &[ArmTotals]) -> Vec<f64> {
    let mut run = ThompsonRun::new(arms);
    run.advance(u32::MAX);
    run.shares()
}
