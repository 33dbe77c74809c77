//! A rollout's configuration, instants, schedule and per-phase tables (contract "Progressive rollout"):
//! defaults, the step at every instant (from `start` and the clock alone), the shares of each step, and
//! that a growing canary never moves one of its hashed users.

use predictor_router::router::bucketing::BUCKETS;
use predictor_router::router::config::{parse, Experiment, Guard, Reward, Rollout, Step};
use predictor_router::router::ids::PredictorId;
use predictor_router::router::instant;
use predictor_router::router::rollout::schedule::{next_change, phase_at, step_starts, Phase};
use predictor_router::router::rollout::shares::{phase_table, phase_tables};
use proptest::prelude::*;
use serde_json::{json, Value};

const START: u64 = 1_796_634_000; // 2026-12-07T09:00:00Z

fn experiment(rollout: Value, predictors: Value) -> Experiment {
    let config = json!({"experiments": [{
        "name": "fraud-detection",
        "match": {"path_prefix": "/seldon/default/fraud-detection/"},
        "predictors": predictors,
        "rollout": rollout
    }]});
    parse(config.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_experiments()
        .remove(0)
}

fn seed_rollout() -> Experiment {
    experiment(
        json!({"canary": "rf", "start": "2026-12-07T09:00:00Z",
               "steps": [{"percent": 5, "minutes": 30}, {"percent": 20, "minutes": 30},
                         {"percent": 50, "minutes": 60}, {"percent": 100}],
               "reward": "response", "max_latency_ms": 300,
               "guard": {"max_drop_percent": 1, "confidence_percent": 99, "min_outcomes": 200}}),
        json!([{"name": "xgb", "weight": 90}, {"name": "rf", "weight": 10}, {"name": "shadow", "weight": 0}]),
    )
}

fn rollout_of(e: &Experiment) -> &Rollout {
    e.rollout.as_ref().expect("a rollout")
}

#[test]
fn the_seed_rollout_reads_as_written_and_defaults_fill_the_rest() {
    let e = seed_rollout();
    let r = rollout_of(&e);
    assert_eq!(r.canary, PredictorId(1));
    assert_eq!(r.start_unix, START);
    assert_eq!(r.start, "2026-12-07T09:00:00Z");
    assert_eq!(
        r.steps,
        vec![
            Step {
                percent: 5,
                minutes: Some(30)
            },
            Step {
                percent: 20,
                minutes: Some(30)
            },
            Step {
                percent: 50,
                minutes: Some(60)
            },
            Step {
                percent: 100,
                minutes: None
            },
        ]
    );
    assert_eq!(
        r.reward,
        Reward::Response {
            max_latency_ms: Some(300)
        }
    );
    assert_eq!(
        r.guard,
        Guard {
            max_drop_millionths: 10_000,
            confidence_tenths: 990,
            min_outcomes: 200
        }
    );
    assert_eq!((r.update_seconds, r.pooled), (10, false));
    assert!(e.adaptive.is_none());

    let defaults = experiment(
        json!({"canary": "rf", "start": "2026-12-07T09:00:00Z", "steps": [{"percent": 100}]}),
        json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}]),
    );
    let d = rollout_of(&defaults);
    assert_eq!(d.reward, Reward::Response { max_latency_ms: None });
    assert_eq!(
        d.guard,
        Guard {
            max_drop_millionths: 10_000,
            confidence_tenths: 990,
            min_outcomes: 200
        }
    );
    assert_eq!(d.update_seconds, 10);
    assert!((d.guard.max_drop() - 0.01).abs() < 1e-12);
    assert!((d.guard.alpha() - 0.01).abs() < 1e-12);
}

#[test]
fn guard_numbers_accept_decimals_and_protobuf_floats() {
    let with_guard = |guard: Value| {
        let e = experiment(
            json!({"canary": "rf", "start": "2026-12-07T09:00:00Z", "steps": [{"percent": 5.0, "minutes": 30.0}, {"percent": 100}],
                   "guard": guard, "update_seconds": 60.0}),
            json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}]),
        );
        rollout_of(&e).guard
    };
    assert_eq!(
        with_guard(json!({"max_drop_percent": 0.5})).max_drop_millionths,
        5_000
    );
    assert_eq!(with_guard(json!({"max_drop_percent": 0})).max_drop_millionths, 0);
    assert_eq!(
        with_guard(json!({"max_drop_percent": 100})).max_drop_millionths,
        1_000_000
    );
    assert_eq!(
        with_guard(json!({"confidence_percent": 99.9})).confidence_tenths,
        999
    );
    assert_eq!(
        with_guard(json!({"confidence_percent": 80})).confidence_tenths,
        800
    );
    assert_eq!(
        with_guard(json!({"confidence_percent": 95.5})).confidence_tenths,
        955
    );
    assert_eq!(with_guard(json!({"min_outcomes": 0})).min_outcomes, 0);
    let g = with_guard(json!({"confidence_percent": 99.9}));
    assert!((g.alpha() - 0.001).abs() < 1e-12);
}

#[test]
fn instants_read_and_print_as_rfc_3339_utc() {
    for (text, unix) in [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-12-07T09:00:00Z", START),
        ("2024-02-29T23:59:59Z", 1_709_251_199),
        ("2000-03-01T00:00:00Z", 951_868_800),
        ("9999-12-31T23:59:59Z", instant::MAX_UNIX_SECONDS),
    ] {
        assert_eq!(instant::parse(text), Some(unix), "{text}");
        assert_eq!(instant::format(unix), text);
    }
    for bad in [
        "2026-12-07 09:00:00Z",
        "2026-12-07t09:00:00Z",
        "2026-12-07T09:00:00z",
        "2026-12-07T09:00:00",
        "2026-12-07T09:00Z",
        "2026-12-07T09:00:00.0Z",
        "2026-12-07T09:00:00+00:00",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2026-12-07T24:00:00Z",
        "2026-12-07T09:60:00Z",
        "2026-12-07T09:00:60Z",
        "+026-12-07T09:00:00Z",
        "２026-12-07T09:00:00Z",
        "",
    ] {
        assert_eq!(instant::parse(bad), None, "{bad:?}");
    }
}

proptest! {
    #[test]
    fn every_second_formats_and_reads_back(unix in 0u64..=instant::MAX_UNIX_SECONDS) {
        prop_assert_eq!(instant::parse(&instant::format(unix)), Some(unix));
    }
}

#[test]
fn the_step_follows_start_and_the_clock_alone() {
    let e = seed_rollout();
    let r = rollout_of(&e);
    assert_eq!(
        step_starts(r),
        vec![START, START + 1800, START + 3600, START + 7200]
    );
    let cases = [
        (0, Phase { step: 0, percent: 0 }),
        (START - 1, Phase { step: 0, percent: 0 }),
        (START, Phase { step: 1, percent: 5 }),
        (START + 1799, Phase { step: 1, percent: 5 }),
        (START + 1800, Phase { step: 2, percent: 20 }),
        (START + 3599, Phase { step: 2, percent: 20 }),
        (START + 3600, Phase { step: 3, percent: 50 }),
        (START + 7199, Phase { step: 3, percent: 50 }),
        (
            START + 7200,
            Phase {
                step: 4,
                percent: 100,
            },
        ),
        (
            u64::MAX,
            Phase {
                step: 4,
                percent: 100,
            },
        ),
    ];
    for (now, phase) in cases {
        assert_eq!(phase_at(r, now), phase, "at {now}");
    }
    assert_eq!(next_change(r, 0), Some(START));
    assert_eq!(next_change(r, START - 1), Some(START));
    assert_eq!(next_change(r, START), Some(START + 1800));
    assert_eq!(next_change(r, START + 3600), Some(START + 7200));
    assert_eq!(next_change(r, START + 7200), None, "the last step holds");
}

#[test]
fn each_phase_gives_the_canary_its_percent_and_the_baseline_the_rest_by_weight() {
    let e = experiment(
        json!({"canary": "rf", "start": "2026-12-07T09:00:00Z",
               "steps": [{"percent": 5, "minutes": 1}, {"percent": 20, "minutes": 1}, {"percent": 100}]}),
        json!([{"name": "xgb", "weight": 60}, {"name": "gbm", "weight": 20}, {"name": "rf", "weight": 999}, {"name": "shadow", "weight": 0}]),
    );
    let tables = phase_tables(&e, rollout_of(&e));
    let shares: Vec<Vec<u32>> = tables.iter().map(|t| t.shares_bp.clone()).collect();
    assert_eq!(
        shares,
        vec![
            vec![7500, 2500, 0, 0],   // before start (and rolled back): the baseline by weight, 3:1
            vec![7125, 2375, 500, 0], // 5 %: the canary's configured weight (999) is not used
            vec![6000, 2000, 2000, 0],
            vec![0, 0, 10000, 0],
        ]
    );
    for t in &tables {
        assert_eq!(t.shares_bp.iter().sum::<u32>(), BUCKETS);
    }
    // Bits: xgb 0, gbm 1, rf 2, shadow 3. Weight-0 predictors are always closed.
    assert_eq!(tables[0].closed, 0b1100, "the canary at 0 % keeps no cookie user");
    assert_eq!(tables[1].closed, 0b1000);
    assert_eq!(tables[2].closed, 0b1000);
    assert_eq!(
        tables[3].closed, 0b1011,
        "the baseline at 100 % keeps no cookie user"
    );
}

#[test]
fn wide_weights_do_not_overflow() {
    let predictors: Vec<Value> = (0..63)
        .map(|i| json!({"name": format!("p{i}"), "weight": 1_000_000}))
        .chain(std::iter::once(json!({"name": "canary", "weight": 1_000_000})))
        .collect();
    let e = experiment(
        json!({"canary": "canary", "start": "2026-12-07T09:00:00Z", "steps": [{"percent": 99}]}),
        Value::Array(predictors),
    );
    let t = phase_table(&e, rollout_of(&e), 99);
    assert_eq!(t.shares_bp[63], 9900);
    assert_eq!(t.shares_bp.iter().sum::<u32>(), BUCKETS);
}

proptest! {
    /// However the baseline is weighted and whatever the steps, a bucket of the canary at one step is
    /// the canary's at every later step: ramping never moves a hashed canary user.
    #[test]
    fn a_growing_canary_never_moves_its_hashed_users(
        weights in prop::collection::vec(1u32..1_000_000, 1..8),
        zero_after in 0usize..3,
        mut percents in prop::collection::btree_set(1u32..=100, 1..10),
    ) {
        let mut predictors: Vec<Value> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| json!({"name": format!("b{i}"), "weight": w}))
            .collect();
        predictors.push(json!({"name": "canary", "weight": 1}));
        for i in 0..zero_after {
            predictors.push(json!({"name": format!("z{i}"), "weight": 0}));
        }
        let percents: Vec<u32> = std::mem::take(&mut percents).into_iter().collect();
        let steps: Vec<Value> = percents
            .iter()
            .enumerate()
            .map(|(k, p)| if k + 1 < percents.len() { json!({"percent": p, "minutes": 1}) } else { json!({"percent": p}) })
            .collect();
        let e = experiment(
            json!({"canary": "canary", "start": "2026-12-07T09:00:00Z", "steps": steps}),
            Value::Array(predictors),
        );
        let canary = rollout_of(&e).canary;
        let tables = phase_tables(&e, rollout_of(&e));
        for pair in tables.windows(2) {
            for bucket in 0..BUCKETS {
                if pair[0].buckets.predictor_of(bucket) == canary {
                    prop_assert_eq!(pair[1].buckets.predictor_of(bucket), canary);
                }
            }
        }
        for (t, percent) in tables.iter().skip(1).zip(&percents) {
            prop_assert_eq!(t.shares_bp[canary.index()], percent * 100);
        }
    }
}
