//! The rollout guard's promise, by simulation (contract "Progressive rollout"): a sequential test whose error
//! rate holds under any number of looks. Seeded, and over whole schedules with a look every update:
//! - with equal success rates and `max_drop_percent` 0 (the null hypothesis at its boundary), at most
//!   `1 − confidence` of rollouts roll back, plus sampling error;
//! - a per-look z-test at the same confidence, looking as often, breaks that promise;
//! - with the canary 5 points worse and `max_drop_percent` 1, the canary is rolled back, and the median
//!   number of canary outcomes it takes is printed and bounded.

use predictor_router::router::adaptive::beta::normal_quantile;
use predictor_router::router::config::Guard;
use predictor_router::router::outcomes::ArmTotals;
use predictor_router::router::rollout::guard::{judge, Verdict};

/// The seed's schedule (5 % for 30 min, 20 % for 30, 50 % for 60, then 100 %, simulated for 60 more),
/// as (canary percent, looks) with a look every 10 s.
const SCHEDULE: [(u32, u32); 4] = [(5, 180), (20, 180), (50, 360), (100, 360)];
/// Outcomes per look (both sides together): 2 per second.
const OUTCOMES_PER_LOOK: u32 = 20;
const ROLLOUTS: u32 = 2000;
const BASELINE_RATE: f64 = 0.95;

/// splitmix64: a small, seeded source for the simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }

    fn bernoulli(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn guard(max_drop_percent: f64) -> Guard {
    Guard {
        max_drop_millionths: (max_drop_percent * 10_000.0) as u32,
        confidence_tenths: 990,
        min_outcomes: 200,
    }
}

/// A per-look one-sided z-test of `p_b − p_c > δ` at the same confidence: what does *not* qualify.
fn z_test_rolls_back(guard: &Guard, canary: &ArmTotals, baseline: &ArmTotals) -> bool {
    let min = u64::from(guard.min_outcomes).max(1);
    if canary.trials < min || baseline.trials < min {
        return false;
    }
    let (pc, pb) = (canary.mean(), baseline.mean());
    let var = pb * (1.0 - pb) / baseline.trials as f64 + pc * (1.0 - pc) / canary.trials as f64;
    if var <= 0.0 {
        return false;
    }
    (pb - pc - guard.max_drop()) / var.sqrt() >= normal_quantile(1.0 - guard.alpha())
}

/// One simulated rollout: `Some(canary outcomes)` when `rolls_back` fires at some look.
fn simulate(
    rng: &mut Rng,
    canary_rate: f64,
    rolls_back: &dyn Fn(&ArmTotals, &ArmTotals) -> bool,
) -> Option<u64> {
    let (mut canary, mut baseline) = (ArmTotals::default(), ArmTotals::default());
    for (percent, looks) in SCHEDULE {
        for _ in 0..looks {
            for _ in 0..OUTCOMES_PER_LOOK {
                let (arm, rate) = if rng.below(100) < percent {
                    (&mut canary, canary_rate)
                } else {
                    (&mut baseline, BASELINE_RATE)
                };
                arm.trials += 1;
                arm.reward_milli += if rng.bernoulli(rate) { 1000 } else { 0 };
            }
            if rolls_back(&canary, &baseline) {
                return Some(canary.trials);
            }
        }
    }
    None
}

fn rollback_rate(
    seed: u64,
    canary_rate: f64,
    rolls_back: &dyn Fn(&ArmTotals, &ArmTotals) -> bool,
) -> (f64, Vec<u64>) {
    let mut rng = Rng(seed);
    let outcomes: Vec<u64> = (0..ROLLOUTS)
        .filter_map(|_| simulate(&mut rng, canary_rate, rolls_back))
        .collect();
    (outcomes.len() as f64 / f64::from(ROLLOUTS), outcomes)
}

#[test]
fn false_rollbacks_stay_within_alpha_over_a_whole_schedule() {
    let looks: u32 = SCHEDULE.iter().map(|(_, l)| l).sum();
    // 2,000 rollouts at α = 1 %: the binomial standard error is 0.22 points; 3 of them is the margin.
    let margin = 3.0 * (0.01f64 * 0.99 / f64::from(ROLLOUTS)).sqrt();

    let boundary = guard(0.0);
    let msprt = |c: &ArmTotals, b: &ArmTotals| matches!(judge(&boundary, c, b), Verdict::RollBack(_));
    let (rate, _) = rollback_rate(1, BASELINE_RATE, &msprt);
    println!(
        "A/A, max_drop_percent 0, {ROLLOUTS} rollouts of {looks} looks each: mSPRT rolled back {:.2} % (bound 1 % + {:.2})",
        rate * 100.0,
        margin * 100.0
    );
    assert!(rate <= 0.01 + margin, "mSPRT false rollbacks {rate}");

    // The same looks with a per-look z-test at the same confidence: its false rollbacks grow with the
    // number of looks, far past 1 %.
    let z = |c: &ArmTotals, b: &ArmTotals| z_test_rolls_back(&boundary, c, b);
    let (z_rate, _) = rollback_rate(1, BASELINE_RATE, &z);
    println!(
        "A/A, max_drop_percent 0: a per-look z-test rolled back {:.2} %",
        z_rate * 100.0
    );
    assert!(
        z_rate > 0.01 + margin,
        "the z-test was expected to break the promise: {z_rate}"
    );
    assert!(z_rate > 3.0 * rate.max(0.005));

    // The shipped default (1 point of allowed drop): an A/A rollout is practically never rolled back.
    let shipped = guard(1.0);
    let msprt = |c: &ArmTotals, b: &ArmTotals| matches!(judge(&shipped, c, b), Verdict::RollBack(_));
    let (rate, _) = rollback_rate(2, BASELINE_RATE, &msprt);
    println!("A/A, max_drop_percent 1: mSPRT rolled back {:.2} %", rate * 100.0);
    assert!(rate <= 0.01 + margin);
}

#[test]
fn a_canary_five_points_worse_is_rolled_back_within_bounded_outcomes() {
    let shipped = guard(1.0);
    let msprt = |c: &ArmTotals, b: &ArmTotals| matches!(judge(&shipped, c, b), Verdict::RollBack(_));
    let (rate, mut outcomes) = rollback_rate(3, BASELINE_RATE - 0.05, &msprt);
    outcomes.sort_unstable();
    let median = outcomes[outcomes.len() / 2];
    let p90 = outcomes[outcomes.len() * 9 / 10];
    println!(
        "canary 5 points worse, max_drop_percent 1: rolled back {:.2} % of {ROLLOUTS} rollouts; canary outcomes \
         before the rollback: median {median}, 90th percentile {p90}, min {}",
        rate * 100.0,
        outcomes[0]
    );
    assert!(rate >= 0.99, "rolled back only {rate}");
    assert!(outcomes[0] >= 200, "never before min_outcomes");
    assert!(median <= 1500, "median {median} canary outcomes");
}
