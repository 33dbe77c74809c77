//! What a compromised Prometheus and a hostile shadow can and cannot do (SECURITY.md, "Answers from
//! other servers"), through the compiled module in wasm-test-harness. Prometheus's answers steer a
//! pooled experiment, within the bounds the configuration sets; a shadow's answers reach only the
//! shadow's own counters.

use predictor_router::router::bucketing::user_bucket;
use predictor_router_module_tests::rollout_fixture::{hashed, PATH, SECOND};
use serde_json::{json, Value};
use wasm_test_harness::{Host, Upstream};

const PROMETHEUS: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";

fn start(config: &Value) -> Host {
    Host::new(predictor_router_module_tests::module::module_bytes())
        .with_config(config.to_string())
        .workers(2)
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn fleet() -> Value {
    json!({"prometheus": {"cluster": PROMETHEUS, "authority": "prometheus:9090", "timeout_ms": 2000,
                          "delay_seconds": 30, "window_seconds": 600}})
}

/// The query API's answer: (predictor, outcome label, value as Prometheus prints it).
fn answer(samples: &[(&str, &str, &str)]) -> String {
    let result: Vec<Value> = samples
        .iter()
        .map(|(p, o, v)| json!({"metric": {"predictor": p, "outcome": o}, "value": [1_767_225_570, v]}))
        .collect();
    json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string()
}

fn share(host: &Host, predictor: &str) -> u64 {
    host.metrics()
        .get(&format!("predictor_router.fraud-detection.{predictor}.share_bp"))
        .copied()
        .unwrap_or_default()
}

/// Prometheus answers `body`; the next update asks, and the answer is applied on every worker.
fn pooled_update(host: &mut Host, body: &str) {
    host.upstream(PROMETHEUS, Upstream::respond(200, body));
    host.advance_clock(10 * SECOND);
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
    host.tick().unwrap();
}

#[test]
fn a_compromised_prometheus_steers_only_among_taking_part_predictors_and_never_below_the_floor() {
    let config = json!({
        "experiments": [{"name": "fraud-detection",
            "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}, {"name": "shadow", "weight": 0}],
            "sticky": {"user_header": "x-user-id"},
            "adaptive": {"policy": "epsilon_greedy", "epsilon_percent": 1, "update_seconds": 10,
                         "min_outcomes": 100, "min_share_percent": 5, "pooled": true}}],
        "fleet": fleet()
    });
    let mut host = start(&config);
    let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
    let hostile = [
        // The weight-0 predictor "perfect" on a billion trials, rf failing everything.
        answer(&[
            ("shadow", "trials", "1e9"),
            ("shadow", "reward_milli", "1e12"),
            ("xgb", "trials", "1000"),
            ("xgb", "reward_milli", "500000"),
            ("rf", "trials", "1000"),
            ("rf", "reward_milli", "0"),
        ]),
        // rf claims more reward than its trials allow (a 10,000 % success rate), xgb saturates u64.
        answer(&[
            ("xgb", "trials", "1e30"),
            ("xgb", "reward_milli", "1e30"),
            ("rf", "trials", "200"),
            ("rf", "reward_milli", "1e15"),
        ]),
    ];
    for (i, body) in hostile.iter().enumerate() {
        pooled_update(&mut host, body);
        assert_eq!(
            host.counter("predictor_router.fleet.query_ok"),
            i as u64 + 1,
            "answer {i} applied"
        );
        assert_eq!(
            share(&host, "shadow"),
            0,
            "answer {i}: the weight-0 predictor got a share"
        );
        for predictor in ["xgb", "rf"] {
            assert!(
                share(&host, predictor) >= 500,
                "answer {i}: {predictor} below its 5 % floor"
            );
        }
        assert_eq!(share(&host, "xgb") + share(&host, "rf"), 10_000);
        assert!(
            users.iter().all(|u| hashed(&mut host, u) != "shadow"),
            "answer {i}: a new user was given the weight-0 predictor"
        );
    }
}

#[test]
fn a_compromised_prometheus_can_roll_a_canary_back_but_never_undo_the_rollback_or_move_the_step() {
    let config = json!({
        "experiments": [{"name": "fraud-detection",
            "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
            "sticky": {"user_header": "x-user-id"},
            "rollout": {"canary": "rf", "start": "2026-01-01T00:00:00Z",
                        "steps": [{"percent": 20, "minutes": 60}, {"percent": 100}],
                        "update_seconds": 10, "guard": {"min_outcomes": 50}, "pooled": true}}],
        "fleet": fleet()
    });
    let mut host = start(&config);
    let step = |host: &Host| {
        host.metrics()
            .get("predictor_router.fraud-detection.rollout.step")
            .copied()
    };
    host.advance_clock(30 * SECOND);
    // The fleet's numbers say the canary is perfect at 100 % on a billion outcomes: the step stays the
    // clock's (step 1, 20 %), not the answer's.
    pooled_update(
        &mut host,
        &answer(&[
            ("xgb", "trials", "1000"),
            ("xgb", "reward_milli", "900000"),
            ("rf", "trials", "1e9"),
            ("rf", "reward_milli", "1e12"),
        ]),
    );
    assert_eq!(step(&host), Some(1));
    assert_eq!(share(&host, "rf"), 2000);
    // Now they say it fails: rolled back (a false alarm costs the rollout, never the users).
    pooled_update(
        &mut host,
        &answer(&[
            ("xgb", "trials", "2000"),
            ("xgb", "reward_milli", "1980000"),
            ("rf", "trials", "2000"),
            ("rf", "reward_milli", "1000000"),
        ]),
    );
    assert_eq!(share(&host, "rf"), 0);
    // Whatever comes after, the rollback stands: no more queries are even sent.
    for _ in 0..3 {
        pooled_update(
            &mut host,
            &answer(&[
                ("xgb", "trials", "10"),
                ("xgb", "reward_milli", "0"),
                ("rf", "trials", "1e9"),
                ("rf", "reward_milli", "1e12"),
            ]),
        );
        assert_eq!(share(&host, "rf"), 0);
        assert_eq!(
            host.metrics()
                .get("predictor_router.fraud-detection.rollout.rolled_back"),
            Some(&1)
        );
    }
    assert_eq!(
        host.counter("predictor_router.fleet.query_ok"),
        2,
        "no query after the rollback"
    );
    // The canary's hashed users (at 20 %) are all on the baseline.
    let canary_user = (0..)
        .map(|i| format!("c{i}"))
        .find(|u| user_bucket("fraud-detection", u.as_bytes()) >= 8000)
        .unwrap();
    assert_eq!(hashed(&mut host, &canary_user), "xgb");
}

#[test]
fn a_hostile_shadow_reaches_only_the_shadows_counters_and_adds_at_most_one_per_pair_to_abs_diff() {
    let shadow = "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local";
    let mut config = predictor_router_e2e::scenario::seed_plugin_config();
    config["experiments"][0]["shadow"] = json!({"name": "rf-v2", "cluster": shadow, "authority": "rf-v2:8000",
        "percent": 100, "timeout_ms": 1000});
    let mut host = start(&config);
    let served = r#"{"data":{"ndarray":[[0.2,0.8]]}}"#;
    let wild = [
        r#"{"data":{"ndarray":[[1e300,-1e300]]}}"#,
        r#"{"data":{"tensor":{"shape":[1,2],"values":[-1e308,1e308]}}}"#,
        "<html>not a prediction</html>",
    ];
    for (i, body) in wild.iter().enumerate() {
        host.upstream(
            shadow,
            Upstream::respond(200, body).header("set-cookie", "pr-fraud-detection=evil"),
        );
        let exchange = host
            .request()
            .method("POST")
            .path(PATH)
            .cookie("pr-fraud-detection=xgb")
            .body(r#"{"data":{"ndarray":[[1,2,3,4]]}}"#)
            .upstream_body(served)
            .send()
            .unwrap();
        // The client's answer is the served predictor's: nothing of the shadow's reaches it.
        assert_eq!(
            exchange.upstream_header("x-predictor").as_deref(),
            Some("xgb"),
            "{i}"
        );
        assert!(exchange.response_header_values("set-cookie").is_empty(), "{i}");
        host.advance_clock(SECOND / 10);
        host.deliver_callouts().unwrap();
    }
    host.tick().unwrap();
    let counter = |m: &str| host.counter(&format!("predictor_router.fraud-detection.xgb.shadow.rf-v2.{m}"));
    assert_eq!(counter("copied"), 3);
    assert_eq!(
        (counter("agree") + counter("disagree"), counter("failed")),
        (2, 1)
    );
    assert_eq!(
        counter("abs_diff_milli"),
        2000,
        "each wild pair counts at most 1000"
    );
    assert!(host.logs_at_least(wasm_test_harness::LogLevel::Error).is_empty());
}
