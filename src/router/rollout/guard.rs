//! The guard's test: is the canary's success rate lower than the baseline's by more than
//! `max_drop_percent` points, at `confidence_percent`, however many times the guard has looked?
//!
//! A per-look z-test repeated every `update_seconds` does not qualify: each look is another chance of a
//! false alarm, and over a schedule of hundreds of looks its false rollbacks grow far beyond
//! `1 − confidence`. This is the **mixture sequential probability ratio test** (mSPRT) of Johari,
//! Pekelis and Walsh, "Always valid inference: continuous monitoring of A/B tests" (2017; Operations
//! Research 70(3), 2022), for the difference of two means with a normal mixing distribution:
//!
//! - the effect is `θ = p_baseline − p_canary` (how much worse the canary is), estimated by
//!   `θ̂ = p̂_b − p̂_c` from the outcomes since `start` (rewards in [0, 1]: responses or feedback);
//! - its variance `V = p̃_b(1 − p̃_b)/n_b + p̃_c(1 − p̃_c)/n_c`, with `p̃ = (s + 1)/(n + 2)` so that a
//!   side with no failure yet still has a variance (for rewards in [0, 1] with mean p, p(1 − p) bounds
//!   the variance);
//! - the null hypothesis is the boundary `θ = δ` (`δ = max_drop_percent / 100`), and the mixture over
//!   alternatives is `θ ~ N(δ, τ²)` with `τ =` [`TAU`] (5 points: the size of regression a canary
//!   guard is for). The mixture likelihood ratio is
//!   `Λ = sqrt(V / (V + τ²)) · exp(τ² (θ̂ − δ)² / (2 V (V + τ²)))`;
//! - the guard rolls back when `Λ ≥ 1/α` (`α = 1 − confidence_percent/100`) **and** `θ̂ > δ`.
//!
//! Under the null (θ = δ), `Λ` is a nonnegative martingale with mean 1, so by Ville's inequality the
//! chance that it *ever* reaches `1/α` is at most `α`, whatever the number of looks; for `θ < δ` (the
//! canary no worse than allowed) a crossing with `θ̂ > δ` is rarer still. The normal approximation of
//! the means is why neither side is judged before `min_outcomes`. The native test
//! `rollout_guard::false_rollbacks_stay_within_alpha_over_a_whole_schedule` checks the promise by
//! simulation, beside a per-look z-test that breaks it.

use crate::router::config::Guard;
use crate::router::outcomes::ArmTotals;

/// The standard deviation of the mixing distribution over effects: 5 percentage points.
pub const TAU: f64 = 0.05;

/// The name of the test, for the rollback log line.
pub const TEST_NAME: &str = "mSPRT";

/// What one look at the outcomes concluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// A side has fewer than `min_outcomes` outcomes: no judgement yet.
    TooFew,
    /// Not (yet) evidence that the canary is worse by more than allowed.
    Hold { log_lambda: f64 },
    /// The canary is worse than the baseline by more than `max_drop_percent`, at the confidence.
    RollBack(Evidence),
}

/// The figures behind a rollback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub canary_rate: f64,
    pub baseline_rate: f64,
    pub canary_outcomes: u64,
    pub baseline_outcomes: u64,
    pub log_lambda: f64,
}

/// One look of the guard at the outcomes of the canary and of the baseline (pooled).
pub fn judge(guard: &Guard, canary: &ArmTotals, baseline: &ArmTotals) -> Verdict {
    let min = u64::from(guard.min_outcomes).max(1);
    if canary.trials < min || baseline.trials < min {
        return Verdict::TooFew;
    }
    let (n_c, n_b) = (canary.trials as f64, baseline.trials as f64);
    let (rate_c, rate_b) = (canary.mean(), baseline.mean());
    let smoothed = |arm: &ArmTotals| (arm.successes() + 1.0) / (arm.trials as f64 + 2.0);
    let (p_c, p_b) = (smoothed(canary), smoothed(baseline));
    let variance = p_b * (1.0 - p_b) / n_b + p_c * (1.0 - p_c) / n_c;
    let effect = rate_b - rate_c;
    let delta = guard.max_drop();
    let log_lambda = log_mixture_ratio(effect - delta, variance);
    let alpha = guard.alpha().max(f64::MIN_POSITIVE);
    if effect > delta && log_lambda >= (1.0 / alpha).ln() {
        Verdict::RollBack(Evidence {
            canary_rate: rate_c,
            baseline_rate: rate_b,
            canary_outcomes: canary.trials,
            baseline_outcomes: baseline.trials,
            log_lambda,
        })
    } else {
        Verdict::Hold { log_lambda }
    }
}

/// `ln Λ` for a departure `d = θ̂ − δ` from the null with variance `v` (normal mixture of variance τ²).
pub fn log_mixture_ratio(departure: f64, variance: f64) -> f64 {
    let tau2 = TAU * TAU;
    if variance.is_nan() || variance <= 0.0 || !departure.is_finite() {
        return 0.0;
    }
    0.5 * (variance / (variance + tau2)).ln()
        + tau2 * departure * departure / (2.0 * variance * (variance + tau2))
}
