//! Adaptive allocation in the pure core: the policies, the share floor, basis points, burn-in, the
//! learner's log line and its sliced Thompson estimate, the shared-data encoding, feedback bodies.

use predictor_router::router::adaptive::allocation::{from_shares, to_basis_points, with_floor};
use predictor_router::router::adaptive::beta::{normal_quantile, Beta, Sampler};
use predictor_router::router::adaptive::policy::{
    epsilon_greedy_shares, thompson_shares, ThompsonRun, JOINT_DRAWS,
};
use predictor_router::router::adaptive::{allocate, Allocation, Learner};
use predictor_router::router::bucketing::BUCKETS;
use predictor_router::router::config::{parse, Experiment};
use predictor_router::router::ids::PredictorId;
use predictor_router::router::outcomes::feedback::{outcome_of, MAX_FEEDBACK_BYTES};
use predictor_router::router::outcomes::record::{self as totals, Stored};
use predictor_router::router::outcomes::Outcome;
use predictor_router::router::outcomes::{ArmTotals, Totals};
use proptest::prelude::*;
use serde_json::{json, Value};

fn experiment(predictors: Value, adaptive: Value) -> Experiment {
    parse(
        json!({"experiments": [{"name": "fraud-detection", "predictors": predictors, "adaptive": adaptive}]})
            .to_string()
            .as_bytes(),
    )
    .unwrap()
    .into_experiments()
    .remove(0)
}

fn two_arms(adaptive: Value) -> Experiment {
    experiment(
        json!([{"name": "xgb", "weight": 90}, {"name": "rf", "weight": 10}, {"name": "shadow", "weight": 0}]),
        adaptive,
    )
}

fn arm(trials: u64, successes: u64) -> ArmTotals {
    ArmTotals {
        trials,
        reward_milli: successes * 1000,
    }
}

fn totals(arms: &[ArmTotals]) -> Totals {
    Totals { arms: arms.to_vec() }
}

#[test]
fn beta_draws_have_the_exact_mean_and_variance() {
    let mut s = Sampler::new(42);
    for (a, b) in [(1.0, 1.0), (2.0, 8.0), (51.0, 51.0), (1.0, 300.0), (900.0, 101.0)] {
        let beta = Beta::new(a, b);
        let n = 40_000;
        let draws: Vec<f64> = (0..n).map(|_| beta.sample(&mut s)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let exact_mean = a / (a + b);
        let exact_var = a * b / ((a + b).powi(2) * (a + b + 1.0));
        let se = (exact_var / n as f64).sqrt();
        assert!(
            (mean - exact_mean).abs() < 5.0 * se,
            "Beta({a},{b}) mean {mean} vs {exact_mean}"
        );
        assert!(
            (var / exact_var - 1.0).abs() < 0.05,
            "Beta({a},{b}) variance {var} vs {exact_var}"
        );
        assert!(draws
            .iter()
            .all(|x| (0.0..=1.0).contains(x) && *x <= beta.upper_bound()));
    }
}

#[test]
fn the_normal_quantile_is_exact_to_the_approximation_s_error_in_all_three_regions() {
    // Exact quantiles from Python's statistics.NormalDist().inv_cdf; Acklam's approximation promises a
    // relative error below 1.15e-9. Lower tail below 0.02425, central region, upper tail above 0.97575.
    let exact = [
        (1e-12, -7.034483825301132),
        (1e-6, -4.753424308822899),
        (0.001, -3.090232306167813),
        (0.01, -2.3263478740408408),
        (0.02, -2.0537489106318225),
        (0.024, -1.9773684281819468),
        (0.025, -1.9599639845400538),
        (0.1, -1.2815515655446008),
        (0.3, -0.5244005127080407),
        (0.5, 0.0),
        (0.7, 0.5244005127080407),
        (0.9, 1.2815515655446008),
        (0.975, 1.9599639845400536),
        (0.976, 1.9773684281819461),
        (0.98, 2.053748910631822),
        (0.99, 2.3263478740408408),
        (0.999, 3.090232306167813),
        (0.999999, 4.753424308817089),
    ];
    for (p, z) in exact {
        let got = normal_quantile(p);
        assert!(
            (got - z).abs() <= 1.2e-9 * z.abs(),
            "quantile({p}) = {got}, exactly {z}"
        );
    }
    // Outside (0, 1) the argument is clamped: finite, and in order.
    let (low, high) = (normal_quantile(0.0), normal_quantile(1.0));
    assert!(
        low.is_finite() && high.is_finite() && low < -8.0 && high > 8.0,
        "{low} {high}"
    );
}

#[test]
fn uniforms_are_inside_the_open_interval_and_uniform() {
    let mut s = Sampler::new(7);
    let n = 100_000;
    let draws: Vec<f64> = (0..n).map(|_| s.uniform()).collect();
    assert!(draws.iter().all(|u| *u > 0.0 && *u < 1.0));
    let mean = draws.iter().sum::<f64>() / n as f64;
    let below_a_tenth = draws.iter().filter(|u| **u < 0.1).count() as f64 / n as f64;
    // Standard errors: 0.0009 for the mean, 0.00095 for the tenth.
    assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    assert!((below_a_tenth - 0.1).abs() < 0.005, "{below_a_tenth} below 0.1");
}

#[test]
fn tabulated_normals_are_standard_normal() {
    let mut s = Sampler::new(11);
    let n = 100_000;
    let draws: Vec<f64> = (0..n).map(|_| s.normal()).collect();
    let mean = draws.iter().sum::<f64>() / n as f64;
    let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.02, "mean {mean}");
    assert!((var - 1.0).abs() < 0.02, "variance {var}");
    // Every stratum of the table is reachable: 4,096 distinct values come out.
    let mut distinct: Vec<u64> = draws.iter().map(|x| x.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4096);
}

#[test]
fn epsilon_greedy_is_exact() {
    assert_eq!(
        epsilon_greedy_shares(&[arm(10, 5), arm(10, 9), arm(10, 1)], 10),
        vec![0.05, 0.9, 0.05]
    );
    // Ties go to the first listed.
    assert_eq!(
        epsilon_greedy_shares(&[arm(10, 5), arm(20, 10)], 20),
        vec![0.8, 0.2]
    );
    assert_eq!(epsilon_greedy_shares(&[arm(3, 3)], 50), vec![1.0]);
    let e = two_arms(
        json!({"policy": "epsilon_greedy", "epsilon_percent": 10, "min_outcomes": 5, "min_share_percent": 0}),
    );
    let a = allocate(&e, &totals(&[arm(10, 2), arm(10, 8), arm(0, 0)]));
    assert_eq!(a.shares_bp, vec![1000, 9000, 0]);
    assert!(a.learned);
}

#[test]
fn burn_in_keeps_the_configured_weights_until_every_arm_has_min_outcomes() {
    let e = two_arms(json!({"policy": "thompson", "min_outcomes": 100}));
    let a = allocate(&e, &totals(&[arm(1000, 1000), arm(99, 0), arm(0, 0)]));
    assert_eq!(a.shares_bp, vec![9000, 1000, 0]);
    assert!(!a.learned);
    let a = allocate(&e, &totals(&[arm(1000, 1000), arm(100, 0), arm(0, 0)]));
    assert!(a.learned);
    assert_eq!(
        a.shares_bp,
        vec![9900, 100, 0],
        "the loser keeps min_share_percent, the weight-0 predictor nothing"
    );
}

#[test]
fn a_clear_winner_gets_at_least_95_percent_under_thompson() {
    let shares = thompson_shares(&[arm(500, 250), arm(500, 400)]);
    assert!(shares[1] >= 0.95, "{shares:?}");
    let shares = thompson_shares(&[arm(300, 290), arm(300, 150), arm(300, 10)]);
    assert!(shares[0] >= 0.95, "{shares:?}");
}

#[test]
fn thompson_matches_the_exact_probability_of_being_best() {
    // Two arms: P(A > B) for Beta(1+sa, 1+fa) vs Beta(1+sb, 1+fb), by numerical integration.
    let (a, b) = (arm(40, 22), arm(40, 18));
    let pdf = |x: f64, s: f64, f: f64| x.powf(s) * (1.0 - x).powf(f);
    let grid = 20_000;
    let (mut cdf_b, mut norm_a, mut norm_b, mut p) = (0.0, 0.0, 0.0, 0.0);
    let h = 1.0 / grid as f64;
    let mut cdf_values = Vec::with_capacity(grid);
    for i in 0..grid {
        let x = (i as f64 + 0.5) * h;
        norm_b += pdf(x, 18.0, 22.0) * h;
        cdf_values.push(norm_b);
        norm_a += pdf(x, 22.0, 18.0) * h;
    }
    for (i, c) in cdf_values.iter().enumerate() {
        let x = (i as f64 + 0.5) * h;
        cdf_b = c / norm_b;
        p += pdf(x, 22.0, 18.0) / norm_a * cdf_b * h;
    }
    let _ = cdf_b;
    let shares = thompson_shares(&[a, b]);
    assert!(
        (shares[0] - p).abs() < 0.02,
        "estimated {} vs exact {p}",
        shares[0]
    );
}

#[test]
fn joint_draws_skip_the_arms_that_cannot_beat_the_best_draw_so_far() {
    // One clear winner, visited first (best posterior mean), and five clear losers whose largest
    // possible draw is below anything the winner draws: each joint draw then costs one posterior draw,
    // not six. Slices of 50 posterior draws (a slice stops once it has spent them, not one later)
    // finish the 10,000 joint draws in 200 slices exactly; without the skip (or with arms visited
    // worst first) it takes over 1,100.
    let mut arms = vec![arm(1000, 900)];
    arms.extend(std::iter::repeat_n(arm(1000, 100), 5));
    let mut run = ThompsonRun::new(&arms);
    let mut slices = 1;
    while !run.advance(50) {
        slices += 1;
    }
    assert_eq!(slices, JOINT_DRAWS / 50);
    assert_eq!(run.shares()[0], 1.0);

    // Each loser's bound is tight: above every draw it makes, and not far above its 99.99th percentile.
    let loser = Beta::new(101.0, 901.0);
    let mut s = Sampler::new(3);
    let largest = (0..100_000).map(|_| loser.sample(&mut s)).fold(0.0, f64::max);
    assert!(
        largest <= loser.upper_bound() && loser.upper_bound() < largest + 0.02,
        "{largest} {}",
        loser.upper_bound()
    );
}

#[test]
fn a_sliced_estimate_equals_the_one_shot_estimate_and_is_deterministic() {
    let arms = [arm(200, 120), arm(200, 110), arm(200, 100), arm(200, 125)];
    let whole = thompson_shares(&arms);
    let mut run = ThompsonRun::new(&arms);
    let mut slices = 0;
    while !run.advance(1_000) {
        slices += 1;
    }
    assert!(
        slices > 3,
        "1,000 draws per slice: the estimate spans several ticks"
    );
    assert_eq!(run.shares(), whole);
    assert_eq!(
        thompson_shares(&arms),
        whole,
        "the same totals give the same shares on every worker"
    );
    assert_eq!(JOINT_DRAWS, 10_000);
}

#[test]
fn an_allocation_has_moved_when_a_share_changed_by_the_step_or_the_predictors_changed() {
    let now = Allocation::learned(vec![4900, 5100]);
    assert!(now.moved_from(&[5000, 5000], 100));
    assert!(!now.moved_from(&[4901, 5099], 100));
    assert!(!now.moved_from(&[4900, 5100], 1));
    // Another number of predictors (a new configuration) is a move whatever the shares.
    assert!(now.moved_from(&[4900, 5100, 0], 100));
    assert!(now.moved_from(&[4900], 100));
}

#[test]
fn the_floor_raises_small_shares_and_scales_the_others() {
    let floored = with_floor(&[0.0, 0.02, 0.98], 0.05);
    assert!((floored[0] - 0.05).abs() < 1e-12 && (floored[1] - 0.05).abs() < 1e-12);
    assert!((floored.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // A share pushed below the floor by the scaling is raised too.
    let floored = with_floor(&[0.0, 0.0, 0.055, 0.945], 0.05);
    assert!(floored.iter().all(|s| *s >= 0.05 - 1e-12), "{floored:?}");
    // Shares that are not finite and positive count as 0; nothing usable is an equal split.
    assert_eq!(
        with_floor(&[-0.5, 0.25, f64::INFINITY, f64::NAN, 0.75], 0.0),
        vec![0.0, 0.25, 0.0, 0.0, 0.75]
    );
    assert_eq!(with_floor(&[-1.0, f64::NAN], 0.0), vec![0.5, 0.5]);
    // Shares are normalised first (a Thompson estimate's counts need not add up to 1).
    assert_eq!(with_floor(&[1.0, 3.0], 0.0), vec![0.25, 0.75]);
    let floored = with_floor(&[0.0, 2.0, 6.0], 0.05);
    let expected = [0.05, 0.2375, 0.7125];
    assert!(
        floored.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12),
        "{floored:?}"
    );
    // The largest floor the configuration allows, 1/n, is an equal split.
    assert_eq!(with_floor(&[0.9, 0.1], 0.5), vec![0.5, 0.5]);
    assert_eq!(with_floor(&[0.7, 0.1, 0.1, 0.1], 0.25), vec![0.25; 4]);
    // A floor that cannot be given to every arm (above 1/n; the configuration refuses it) is ignored.
    assert_eq!(with_floor(&[0.2, 0.3, 0.5], 0.5), vec![0.2, 0.3, 0.5]);
    assert_eq!(
        to_basis_points(&[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]),
        vec![3334, 3333, 3333]
    );
}

#[test]
fn basis_points_go_to_the_largest_remainders_and_add_up_to_10000() {
    // The points left over after rounding down go to the largest fractional parts, not the largest
    // shares (7000.1 and 2999.9 give 7000 and 3000) nor the largest relative remainders.
    assert_eq!(to_basis_points(&[0.70001, 0.29999]), vec![7000, 3000]);
    assert_eq!(
        to_basis_points(&[0.70009, 0.10005, 0.19986]),
        vec![7001, 1000, 1999]
    );
    // Sevenths leave four points over: more than half the arms get one (ties in listed order).
    assert_eq!(
        to_basis_points(&[1.0 / 7.0; 7]),
        vec![1429, 1429, 1429, 1429, 1428, 1428, 1428]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shares_add_up_to_10000_bp_and_respect_the_floor(
        outcomes in prop::collection::vec((0u64..400, 0u64..=1000), 1..7),
        floor_pick in 0u32..=100,
        thompson in any::<bool>(),
    ) {
        let n = outcomes.len();
        let floor = floor_pick % (100 / n as u32 + 1);
        let predictors: Vec<Value> = (0..n).map(|i| json!({"name": format!("p{i}"), "weight": 1})).collect();
        let policy = if thompson { "thompson" } else { "epsilon_greedy" };
        let e = experiment(json!(predictors), json!({"policy": policy, "min_outcomes": 0, "min_share_percent": floor}));
        let arms: Vec<ArmTotals> = outcomes.iter().map(|(t, r)| ArmTotals { trials: *t, reward_milli: t * r }).collect();
        let a = allocate(&e, &totals(&arms));
        prop_assert_eq!(a.shares_bp.iter().sum::<u32>(), BUCKETS);
        prop_assert!(a.shares_bp.iter().all(|bp| *bp >= floor * 100), "{:?} floor {}", a.shares_bp, floor);
        let sizes: Vec<u32> = a.buckets.sizes().collect();
        prop_assert_eq!(sizes, a.shares_bp.clone(), "the bucket table is the shares, bucket for basis point");
    }

    #[test]
    fn equal_posteriors_get_equal_shares_within_one_point(trials in 0u64..2000, rate in 0u64..=1000, n in 2usize..6) {
        let arms = vec![ArmTotals { trials, reward_milli: trials * rate }; n];
        let shares = thompson_shares(&arms);
        for s in &shares {
            prop_assert!((s - 1.0 / n as f64).abs() <= 0.01, "{:?}", shares);
        }
    }

    #[test]
    fn the_totals_encoding_round_trips(arms in prop::collection::vec((any::<u64>(), any::<u64>()), 3)) {
        let e = two_arms(json!({"policy": "thompson"}));
        let t = Totals { arms: arms.iter().map(|(t, r)| ArmTotals { trials: *t, reward_milli: *r }).collect() };
        // The weight-0 predictor takes no part: it is not stored.
        let mut expected = t.clone();
        expected.arms[2] = ArmTotals::default();
        prop_assert_eq!(totals::decode(&e, &totals::encode(&e, &t)), Stored::Ours(expected));
    }

    #[test]
    fn hostile_shared_data_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let e = two_arms(json!({"policy": "thompson"}));
        let _ = totals::decode(&e, &bytes);
        let mut valid = totals::encode(&e, &Totals::zero(3));
        let cut = bytes.len() % (valid.len() + 1);
        valid.truncate(cut);
        valid.extend_from_slice(&bytes);
        let _ = totals::decode(&e, &valid);
    }
}

#[test]
fn the_stored_totals_keep_their_layout_so_an_upgraded_module_keeps_what_was_learned() {
    // Shared data outlives a VM: a new module of the same vm_id reads what the old one wrote, and keeps
    // it only if the bytes and the fingerprint come out the same. Built here from the layout as
    // documented (totals.rs, README "Adaptive allocation"), with FNV-1a 64 written out again.
    assert_eq!(
        totals::shared_key("fraud-detection"),
        "predictor_router.adaptive.fraud-detection"
    );
    let fnv1a64 = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let e = two_arms(
        json!({"policy": "epsilon_greedy", "epsilon_percent": 20, "reward": "response",
                            "max_latency_ms": 300, "update_seconds": 5, "min_outcomes": 50, "min_share_percent": 2}),
    );
    let canonical = "fraud-detection|xgb,rf,|epsilon_greedy:20|response:Some(300)|5|50|2";
    let mut expected = b"PRA1".to_vec();
    expected.extend_from_slice(&fnv1a64(canonical.as_bytes()).to_le_bytes());
    expected.extend_from_slice(&2u32.to_le_bytes());
    for (name, trials, reward_milli) in [("xgb", 7u64, 3000u64), ("rf", 9, 8500)] {
        expected.push(name.len() as u8);
        expected.extend_from_slice(name.as_bytes());
        expected.extend_from_slice(&trials.to_le_bytes());
        expected.extend_from_slice(&reward_milli.to_le_bytes());
    }
    let learned = Totals {
        arms: vec![
            ArmTotals {
                trials: 7,
                reward_milli: 3000,
            },
            ArmTotals {
                trials: 9,
                reward_milli: 8500,
            },
            ArmTotals::default(),
        ],
    };
    assert_eq!(totals::encode(&e, &learned), expected);
    assert_eq!(totals::decode(&e, &expected), Stored::Ours(learned));
}

#[test]
fn totals_of_another_definition_are_foreign() {
    let thompson = two_arms(json!({"policy": "thompson"}));
    let bytes = totals::encode(&thompson, &totals(&[arm(5, 5), arm(5, 0), arm(0, 0)]));
    assert!(matches!(totals::decode(&thompson, &bytes), Stored::Ours(_)));
    // Re-weighting keeps what was learned.
    let reweighted = experiment(
        json!([{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}, {"name": "shadow", "weight": 0}]),
        json!({"policy": "thompson"}),
    );
    assert!(matches!(totals::decode(&reweighted, &bytes), Stored::Ours(_)));
    // Another adaptive block, a renamed predictor, a predictor that starts taking part: start again.
    for other in [
        two_arms(json!({"policy": "thompson", "min_outcomes": 50})),
        experiment(
            json!([{"name": "xgb", "weight": 90}, {"name": "rf2", "weight": 10}]),
            json!({"policy": "thompson"}),
        ),
        experiment(
            json!([{"name": "xgb", "weight": 90}, {"name": "rf", "weight": 10}, {"name": "shadow", "weight": 1}]),
            json!({"policy": "thompson"}),
        ),
    ] {
        assert_eq!(totals::decode(&other, &bytes), Stored::Foreign);
    }
    assert_eq!(totals::decode(&thompson, b""), Stored::Foreign);
}

#[test]
fn a_clock_jumping_back_does_not_freeze_the_learners_recomputes() {
    let e = two_arms(json!({"policy": "epsilon_greedy", "min_outcomes": 2, "update_seconds": 10}));
    let second = 1_000_000_000u64;
    let now = 10_000 * second;
    let mut learner = Learner::new(&e);
    learner.step(&e, now, u32::MAX);
    assert!(!learner.needs_totals(now + 5 * second), "within update_seconds");
    // An hour back: the next recompute was scheduled by the clock before the jump, it is due now...
    let back = now - 3_600 * second;
    assert!(learner.needs_totals(back));
    learner.step(&e, back, u32::MAX);
    // ...and then every update_seconds of the new clock again.
    assert!(!learner.needs_totals(back + 5 * second));
    assert!(learner.needs_totals(back + 10 * second));
}

#[test]
fn the_learner_logs_leaving_burn_in_and_each_move_of_a_point() {
    let e = two_arms(
        json!({"policy": "epsilon_greedy", "epsilon_percent": 10, "min_outcomes": 2, "update_seconds": 1}),
    );
    let mut learner = Learner::new(&e);
    let second = 1_000_000_000;
    // Burn-in: configured weights, no log.
    let report = learner.step(&e, 0, u32::MAX);
    assert_eq!(report.log, None);
    assert_eq!(learner.allocation().shares_bp, vec![9000, 1000, 0]);
    for _ in 0..2 {
        learner.ledger.record(PredictorId(0), Outcome::FAILURE);
        learner.ledger.record(PredictorId(1), Outcome::SUCCESS);
    }
    let merged = learner.ledger.merge_into(&Totals::zero(3));
    learner.ledger.merged(merged);
    assert!(!learner.ledger.has_pending());
    assert!(!learner.needs_totals(second / 2), "not before update_seconds");
    let report = learner.step(&e, second, u32::MAX);
    assert!(report.allocation_changed);
    assert_eq!(
        report.log.as_deref(),
        Some("predictor_router: fraud-detection allocation xgb 10.00% rf 90.00% shadow 0.00% (epsilon_greedy, 4 outcomes)")
    );
    // The same allocation again: no log line.
    let report = learner.step(&e, 2 * second, u32::MAX);
    assert_eq!(report.log, None);
    assert!(!report.allocation_changed);
}

#[test]
fn the_learner_keeps_pending_outcomes_until_they_are_merged_and_the_totals_it_read() {
    // The host's side of a tick: write `pending` into shared data, then `merged`; or only read the
    // totals (`observed`) when nothing is pending.
    let e = two_arms(json!({"policy": "thompson"}));
    let mut learner = Learner::new(&e);
    assert!(!learner.ledger.has_pending());
    assert_eq!(learner.ledger.pending(), &Totals::zero(3));
    learner.ledger.record(PredictorId(1), Outcome::SUCCESS);
    learner.ledger.record(PredictorId(1), Outcome::FAILURE);
    learner.ledger.record(PredictorId(7), Outcome::SUCCESS); // not a predictor of the experiment: ignored
    assert!(learner.ledger.has_pending());
    assert_eq!(
        learner.ledger.pending(),
        &totals(&[arm(0, 0), arm(2, 1), arm(0, 0)])
    );

    let stored = totals(&[arm(10, 5), arm(3, 3), arm(0, 0)]);
    let merged = learner.ledger.merge_into(&stored);
    assert_eq!(merged, totals(&[arm(10, 5), arm(5, 4), arm(0, 0)]));
    learner.ledger.merged(merged.clone());
    assert!(!learner.ledger.has_pending());
    assert_eq!(learner.ledger.pending(), &Totals::zero(3));
    assert_eq!(learner.ledger.totals(), &merged);

    let elsewhere = totals(&[arm(20, 5), arm(9, 8), arm(0, 0)]);
    learner.ledger.observed(elsewhere.clone());
    assert_eq!(
        learner.ledger.totals(),
        &elsewhere,
        "what other workers merged is taken as read"
    );
}

#[test]
fn a_thompson_estimate_runs_to_its_end_across_ticks_before_the_next_one_starts() {
    // A clear winner: each joint draw costs one posterior draw (the loser cannot beat it), so 10,000
    // draws at 1,000 per tick take 10 ticks, even when the ticks come later than update_seconds: an
    // estimate in progress is continued, never restarted.
    let e = two_arms(json!({"policy": "thompson", "min_outcomes": 1, "update_seconds": 10}));
    let mut learner = Learner::new(&e);
    learner
        .ledger
        .observed(totals(&[arm(100, 10), arm(100, 90), arm(0, 0)]));
    let second = 1_000_000_000u64;
    assert!(learner.needs_totals(0));
    assert!(!learner.estimating());
    let mut ticks = 0;
    let mut now = 0;
    loop {
        let report = learner.step(&e, now, 1_000);
        ticks += 1;
        if report.allocation_changed {
            break;
        }
        assert!(learner.estimating(), "tick {ticks}");
        assert!(
            !learner.needs_totals(now + 11 * second),
            "no new read while estimating"
        );
        assert!(ticks < 100, "the estimate never completes");
        now += 11 * second;
    }
    assert_eq!(ticks, 10);
    assert!(!learner.estimating());
    assert!(learner.allocation().learned);
    assert!(
        learner.allocation().shares_bp[1] > 9000,
        "{:?}",
        learner.allocation().shares_bp
    );
    // The next recompute was due update_seconds after this one started, long ago: the host reads.
    assert!(learner.needs_totals(now));
}

#[test]
fn a_resumed_learner_serves_the_learned_allocation_at_once() {
    let e = two_arms(json!({"policy": "thompson", "min_outcomes": 10}));
    let (learner, report) = Learner::resume(&e, totals(&[arm(500, 50), arm(500, 450), arm(0, 0)]), 7);
    assert!(learner.allocation().learned);
    assert_eq!(learner.allocation().shares_bp, vec![100, 9900, 0]);
    assert!(report.log.is_some());
    let shares = from_shares(&e, e.adaptive.as_ref().unwrap(), &[0.5, 0.5]);
    assert_eq!(shares.shares_bp, vec![5000, 5000, 0]);
}

#[test]
fn feedback_bodies() {
    let ok = |body: &str| outcome_of(body.as_bytes()).map(|o| o.reward_milli);
    assert_eq!(
        ok(r#"{"request": {"data": {"ndarray": [[1, 2]]}}, "response": {}, "reward": 1}"#),
        Some(1000)
    );
    assert_eq!(ok(r#"{"reward": 0}"#), Some(0));
    assert_eq!(ok(r#" {"reward": 0.25, "truth": null}"#), Some(250));
    assert_eq!(ok(r#"{"reward": 1.0e0}"#), Some(1000));
    for invalid in [
        "",
        "not json",
        "[1]",
        r#"[{"reward": 1}]"#,
        r#"{"reward": 2}"#,
        r#"{"reward": -0.1}"#,
        r#"{"reward": "1"}"#,
        r#"{"reward": null}"#,
        r#"{"request": {}}"#,
        r#"{"reward": 1"#,
        "1",
    ] {
        assert_eq!(ok(invalid), None, "{invalid}");
    }
    let mut long = br#"{"reward": 1, "pad": ""#.to_vec();
    long.resize(MAX_FEEDBACK_BYTES, b'x');
    long.extend_from_slice(b"\"}");
    assert_eq!(outcome_of(&long), None, "over 1 MiB");
    long.truncate(MAX_FEEDBACK_BYTES - 2);
    long.extend_from_slice(b"\"}");
    assert_eq!(long.len(), MAX_FEEDBACK_BYTES);
    assert_eq!(outcome_of(&long), Some(Outcome::SUCCESS), "exactly 1 MiB is read");
}
