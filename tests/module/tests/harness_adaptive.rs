//! Adaptive allocation through the compiled module in wasm-test-harness: workers merging outcomes in
//! shared data, feedback bodies, configuration updates, and the cost of a tick.

use predictor_router::router::config::{parse, Experiment};
use predictor_router::router::outcomes::record::{self as totals, Stored};
use predictor_router::router::outcomes::Totals;
use predictor_router_e2e::scenario::{feedback_path, predict_path};
use predictor_router_module_tests::figures::tick_cost;
use predictor_router_module_tests::module::module_bytes;
use serde_json::{json, Value};
use wasm_test_harness::Host;

const PREFIX: &str = "/seldon/default/fraud-detection/";
const SECOND: u64 = 1_000_000_000;

fn config(predictors: Value, adaptive: Value) -> Value {
    json!({"experiments": [{
        "name": "fraud-detection",
        "match": {"path_prefix": PREFIX},
        "predictors": predictors,
        "adaptive": adaptive
    }]})
}

fn xgb_rf() -> Value {
    json!([{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}])
}

fn experiment_of(config: &Value) -> Experiment {
    parse(config.to_string().as_bytes())
        .unwrap()
        .into_experiments()
        .remove(0)
}

fn start(config: &Value, workers: usize) -> Host {
    Host::new(module_bytes())
        .with_config(config.to_string())
        .workers(workers)
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn merged(host: &Host, config: &Value) -> Totals {
    let experiment = experiment_of(config);
    let bytes = host
        .shared_data(&totals::shared_key("fraud-detection"))
        .expect("the experiment's key exists from configuration on");
    match totals::decode(&experiment, &bytes) {
        Stored::Ours(t) => t,
        Stored::Foreign => panic!("the stored totals belong to another definition"),
    }
}

#[test]
fn four_workers_merge_every_outcome_exactly_once() {
    let config = config(
        xgb_rf(),
        json!({"policy": "thompson", "update_seconds": 1, "min_outcomes": 0}),
    );
    let mut host = start(&config, 4);
    assert_eq!(
        host.tick_periods_ms(),
        vec![500; 4],
        "adaptive configurations tick on every worker"
    );
    let requests = 4_000u64;
    let mut successes = 0;
    for i in 0..requests {
        let status = if i % 3 == 0 { 503 } else { 200 };
        successes += u64::from(status == 200);
        let e = host
            .request()
            .path(predict_path())
            .body("{}")
            .upstream_status(status)
            .send()
            .unwrap();
        assert!(e.upstream_header("x-predictor").is_some());
        if i % 37 == 0 {
            host.advance_clock(SECOND / 3);
            host.tick().unwrap();
        }
    }
    host.tick().unwrap();
    let t = merged(&host, &config);
    assert_eq!(t.outcomes(), requests, "merged trials equal requests");
    assert_eq!(
        t.arms.iter().map(|a| a.reward_milli).sum::<u64>(),
        successes * 1000
    );
    host.tick().unwrap(); // hand the batched counts to the host
    let counters = host.counters();
    let trials: u64 = ["xgb", "rf"]
        .iter()
        .map(|p| counters[&format!("predictor_router.fraud-detection.{p}.outcome.trials")])
        .sum();
    assert_eq!(trials, requests);
    // A second tick with nothing pending changes nothing.
    host.tick().unwrap();
    assert_eq!(merged(&host, &config).outcomes(), requests);
}

#[test]
fn a_failing_predictor_loses_new_users_but_keeps_its_cookies() {
    let config = config(
        xgb_rf(),
        json!({"policy": "thompson", "update_seconds": 1, "min_outcomes": 50, "min_share_percent": 2}),
    );
    let mut host = start(&config, 2);
    let gauge =
        |host: &Host, p: &str| host.metrics()[&format!("predictor_router.fraud-detection.{p}.share_bp")];
    assert_eq!(
        (gauge(&host, "xgb"), gauge(&host, "rf")),
        (5000, 5000),
        "burn-in shows the weights"
    );
    // Burn-in: both predictors answer 200 to new visitors and to users with an id.
    for i in 0..200 {
        let request = host.request().path(predict_path());
        let request = if i % 2 == 0 {
            request
        } else {
            request.header("x-user-id", format!("u{i}"))
        };
        request.send().unwrap();
    }
    host.advance_clock(SECOND);
    host.tick().unwrap();
    // Equal rewards keep both around.
    let before = (gauge(&host, "xgb"), gauge(&host, "rf"));
    assert_eq!(before.0 + before.1, 10_000);
    for _ in 0..400 {
        let e = host
            .request()
            .path(predict_path())
            .upstream_status(503)
            .cookie("pr-fraud-detection=rf")
            .send()
            .unwrap();
        assert_eq!(
            e.response_header("x-predictor").as_deref(),
            Some("rf"),
            "a cookie holder stays on rf"
        );
    }
    for _ in 0..3 {
        host.advance_clock(SECOND);
        host.tick().unwrap();
    }
    assert_eq!(gauge(&host, "rf"), 200, "rf falls to min_share_percent");
    assert_eq!(gauge(&host, "xgb"), 9800);
    let mut to_rf = 0;
    for _ in 0..2000 {
        let e = host.request().path(predict_path()).send().unwrap();
        to_rf += u32::from(e.response_header("x-predictor").as_deref() == Some("rf"));
    }
    assert!(
        (20..=80).contains(&to_rf),
        "about 2 % of new users go to rf: {to_rf} of 2000"
    );
    let logs: Vec<String> = host.logs().into_iter().map(|l| l.message).collect();
    assert!(
        logs.iter()
            .any(|l| l
                .starts_with("predictor_router: fraud-detection allocation xgb 98.00% rf 2.00% (thompson, ")),
        "{logs:#?}"
    );
}

#[test]
fn feedback_bodies_are_outcomes_of_sticky_and_hashed_decisions_only() {
    let config = config(
        xgb_rf(),
        json!({"policy": "thompson", "reward": "feedback", "feedback_path": feedback_path(), "update_seconds": 1}),
    );
    let mut host = start(&config, 1);
    let feedback = |host: &mut Host, body: &[u8], who: Option<(&str, &str)>| {
        let mut r = host.request().method("POST").path(feedback_path()).body(body);
        if let Some((name, value)) = who {
            r = r.header(name, value);
        }
        let e = r.send().unwrap();
        assert!(
            e.upstream_request.is_some(),
            "every feedback request reaches its predictor"
        );
        e.upstream_header("x-predictor").unwrap()
    };
    let body = br#"{"request": {"data": {"ndarray": [[1]]}}, "response": {}, "reward": 1}"#;
    // Predictions teach nothing with reward feedback.
    host.request().path(predict_path()).send().unwrap();
    let sticky = feedback(&mut host, body, Some(("cookie", "pr-fraud-detection=rf")));
    assert_eq!(sticky, "rf");
    feedback(
        &mut host,
        br#"{"reward": 0.25}"#,
        Some(("cookie", "pr-fraud-detection=rf")),
    );
    feedback(&mut host, body, None); // random: unattributed
    feedback(&mut host, body, Some(("x-predictor-override", "xgb"))); // forced: unattributed
    feedback(&mut host, b"not json", Some(("cookie", "pr-fraud-detection=xgb")));
    feedback(
        &mut host,
        br#"{"reward": 2}"#,
        Some(("cookie", "pr-fraud-detection=xgb")),
    );
    let big = vec![b' '; 2 * 1024 * 1024];
    feedback(&mut host, &big, Some(("cookie", "pr-fraud-detection=xgb")));
    host.tick().unwrap();
    let c = host.counters();
    assert_eq!(c["predictor_router.fraud-detection.rf.outcome.trials"], 2);
    assert_eq!(
        c["predictor_router.fraud-detection.rf.outcome.reward_milli"],
        1250
    );
    assert_eq!(c["predictor_router.fraud-detection.feedback_unattributed"], 2);
    assert_eq!(c["predictor_router.fraud-detection.feedback_invalid"], 3);
    assert!(!c.contains_key("predictor_router.fraud-detection.xgb.outcome.trials"));
    let t = merged(&host, &config);
    assert_eq!((t.arms[1].trials, t.arms[1].reward_milli), (2, 1250));
}

#[test]
fn an_update_that_keeps_the_definition_keeps_what_was_learned() {
    let config_a = config(
        xgb_rf(),
        json!({"policy": "epsilon_greedy", "update_seconds": 1, "min_outcomes": 10}),
    );
    let mut host = start(&config_a, 2);
    for i in 0..100 {
        let cookie = if i % 2 == 0 {
            "pr-fraud-detection=xgb"
        } else {
            "pr-fraud-detection=rf"
        };
        let status = if i % 2 == 0 { 200 } else { 500 };
        host.request()
            .path(predict_path())
            .cookie(cookie)
            .upstream_status(status)
            .send()
            .unwrap();
    }
    host.advance_clock(SECOND);
    host.tick().unwrap();
    let share =
        |host: &Host, p: &str| host.metrics()[&format!("predictor_router.fraud-detection.{p}.share_bp")];
    assert_eq!(share(&host, "xgb"), 9000);
    // Re-weighted, same definition: learned totals and allocation survive, from the first request.
    let reweighted = config(
        json!([{"name": "xgb", "weight": 10}, {"name": "rf", "weight": 90}]),
        json!({"policy": "epsilon_greedy", "update_seconds": 1, "min_outcomes": 10}),
    );
    host.reconfigure(reweighted.to_string()).unwrap();
    assert_eq!(merged(&host, &reweighted).outcomes(), 100);
    assert_eq!(
        share(&host, "xgb"),
        9000,
        "served with the learned allocation at once"
    );
    // A renamed predictor starts again from zero.
    let renamed = config(
        json!([{"name": "xgb", "weight": 10}, {"name": "rf-v2", "weight": 90}]),
        json!({"policy": "epsilon_greedy", "update_seconds": 1, "min_outcomes": 10}),
    );
    host.reconfigure(renamed.to_string()).unwrap();
    assert_eq!(merged(&host, &renamed).outcomes(), 0);
    assert_eq!(share(&host, "xgb"), 1000, "burn-in: the configured weights");
}

#[test]
fn outcomes_not_yet_merged_are_merged_when_a_configuration_leaves_service() {
    let adaptive = json!({"policy": "thompson", "update_seconds": 1, "min_outcomes": 10});
    let config = config(xgb_rf(), adaptive.clone());
    let mut host = start(&config, 2);
    for _ in 0..50 {
        host.request().path(predict_path()).send().unwrap();
    }
    // No tick since: every outcome is still pending in its worker when the update replaces the
    // configuration (same experiment, so the totals carry over).
    assert_eq!(merged(&host, &config).outcomes(), 0);
    let reweighted = self::config(
        json!([{"name": "xgb", "weight": 70}, {"name": "rf", "weight": 30}]),
        adaptive,
    );
    host.reconfigure(reweighted.to_string()).unwrap();
    assert_eq!(
        merged(&host, &reweighted).outcomes(),
        50,
        "merged when the old configuration was dropped"
    );
}

#[test]
fn fixed_weight_configurations_tick_once_a_second_only_to_flush_counts() {
    let mut host = start(&config(xgb_rf(), json!({"policy": "thompson"})), 1);
    assert_eq!(host.tick_periods_ms(), vec![500]);
    host.reconfigure(
        json!({"experiments": [{"name": "a", "predictors": [{"name": "p", "weight": 1}]}]}).to_string(),
    )
    .unwrap();
    assert_eq!(
        host.tick_periods_ms(),
        vec![1000],
        "the contract's flush at least once a second"
    );
    // Nothing to flush: the tick makes no hostcall and costs next to nothing.
    let fuel = host.tick_with_fuel().unwrap();
    assert!(fuel[0].total() < 2_000, "{}", fuel[0].total());
}

/// Wasm instructions of the costliest tick while a Thompson estimate runs, at 2, 8 and 64 predictors
/// (the same measurement as BENCHMARKS.md's).
#[test]
fn a_tick_stays_bounded_however_many_predictors() {
    for n in [2usize, 8, 64] {
        let t = tick_cost(module_bytes(), n);
        eprintln!(
            "tick at {n} predictors: at most {} wasm instructions ({} µs in the harness), learned after {} ticks",
            t.max_fuel, t.max_micros, t.ticks
        );
        assert!(t.ticks < 400, "the estimate completes");
        assert!(
            t.max_fuel < 8_000_000,
            "{n} predictors: {} instructions in one tick",
            t.max_fuel
        );
        if n >= 8 {
            assert!(
                t.fast_ticks,
                "an estimate spread over ticks ticks every 50 ms until it completes"
            );
        }
    }
}
