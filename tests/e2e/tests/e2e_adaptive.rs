//! Adaptive allocation in a real Envoy (V8, `--concurrency 2`): the bandit moves new users away from a
//! failing or slow predictor while cookie holders stay, learning survives an update that keeps the
//! experiment, feedback is counted, and no count is lost across an update under load.

use std::thread;
use std::time::Duration;

use predictor_router_e2e::gateway::Gateway;
use predictor_router_e2e::http::{eventually, HttpClient, Request};
use predictor_router_e2e::load::Load;
use predictor_router_e2e::scenario::seed_plugin_config;
use predictor_router_e2e::scenario::{feedback_path, predict_path};
use predictor_router_e2e::upstream::Behaviour;
use serde_json::{json, Value};

/// The shipped fraud-detection experiment (xgb/rf 50/50) with `adaptive`.
fn adaptive_config(adaptive: Value) -> Value {
    let mut config = seed_plugin_config();
    config["experiments"][0]["adaptive"] = adaptive;
    config
}

fn start(config: Value) -> Gateway {
    Gateway::start_with_workers(config, 2)
}

fn share_bp(gw: &Gateway, predictor: &str) -> u64 {
    gw.envoy
        .counter(&format!("predictor_router.fraud-detection.{predictor}.share_bp"))
}

/// `n` new visitors (no cookie, no user id), from `threads` clients; how many were served by `predictor`.
fn new_visitors(gw: &Gateway, n: usize, threads: usize, predictor: &str) -> usize {
    let port = gw.envoy.listener_port;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let predictor = predictor.to_string();
            thread::spawn(move || {
                let mut client = HttpClient::new(port);
                (0..n / threads)
                    .filter(|_| {
                        let r = client
                            .send(&Request::predict(predict_path()))
                            .expect("a response");
                        r.header("x-predictor") == Some(predictor.as_str())
                    })
                    .count()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn a_predictor_answering_503_loses_new_users_down_to_its_floor_and_keeps_its_cookies() {
    let gw = start(adaptive_config(
        json!({"policy": "thompson", "update_seconds": 1, "min_outcomes": 50, "min_share_percent": 5}),
    ));
    assert_eq!(
        (share_bp(&gw, "xgb"), share_bp(&gw, "rf")),
        (5000, 5000),
        "burn-in: the weights"
    );
    gw.upstream("rf").set_behaviour(Behaviour {
        status: 503,
        ..Default::default()
    });
    new_visitors(&gw, 400, 4, "rf");
    assert!(
        eventually(10, || share_bp(&gw, "rf") == 500),
        "rf's share_bp is {} (expected 500 = min_share_percent)\n{}",
        share_bp(&gw, "rf"),
        gw.envoy.log()
    );
    assert_eq!(share_bp(&gw, "xgb"), 9500);
    // The shipped stats_tags turn the adaptive metrics into labelled Prometheus series.
    let prometheus = gw.envoy.prometheus();
    assert!(
        prometheus
            .iter()
            .any(|l| l == r#"predictor_router_share_bp{experiment="fraud-detection",predictor="rf"} 500"#),
        "{prometheus:#?}"
    );
    assert!(prometheus.iter().any(
        |l| l.starts_with(r#"predictor_router_outcome_trials{experiment="fraud-detection",predictor="rf"} "#)
    ));
    // The gauge is the last worker's word: the other agrees within one update (update_seconds + a tick).
    thread::sleep(Duration::from_millis(1600));
    let to_rf = new_visitors(&gw, 2000, 4, "rf");
    let share = to_rf as f64 / 2000.0;
    assert!(
        (0.03..=0.07).contains(&share),
        "new assignments to rf: {:.1} %\n{}",
        share * 100.0,
        gw.envoy
            .log()
            .lines()
            .filter(|l| l.contains("predictor_router"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A user who already holds rf keeps it, failing or not.
    let mut client = gw.client();
    for _ in 0..20 {
        let r = client
            .send(&Request::predict(predict_path()).header("cookie", "pr-fraud-detection=rf"))
            .unwrap();
        assert_eq!((r.status, r.header("x-predictor")), (503, Some("rf")));
    }
    let logged = |needle: &str| gw.envoy.log().contains(needle);
    assert!(
        eventually(2, || logged(
            "predictor_router: fraud-detection allocation xgb 95.00% rf 5.00% (thompson, "
        )),
        "{}",
        gw.envoy
            .log()
            .lines()
            .filter(|l| l.contains("allocation"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn a_slow_predictor_loses_new_users_under_max_latency_ms() {
    let gw = start(adaptive_config(
        json!({"policy": "epsilon_greedy", "epsilon_percent": 10, "max_latency_ms": 100,
                                         "update_seconds": 1, "min_outcomes": 20, "min_share_percent": 0}),
    ));
    gw.upstream("rf").set_behaviour(Behaviour {
        delay: Duration::from_millis(250),
        ..Default::default()
    });
    new_visitors(&gw, 160, 8, "rf");
    assert!(
        eventually(10, || share_bp(&gw, "rf") == 1000),
        "rf's share_bp is {}\n{}",
        share_bp(&gw, "rf"),
        gw.envoy.log()
    );
    assert_eq!(
        share_bp(&gw, "xgb"),
        9000,
        "epsilon-greedy: 100 - epsilon_percent to the fast one"
    );
    let c = gw.envoy.counters();
    let rf_trials = c["predictor_router.fraud-detection.rf.outcome.trials"];
    assert!(rf_trials >= 20);
    assert_eq!(
        c["predictor_router.fraud-detection.rf.outcome.reward_milli"], 0,
        "every rf response was late: a failure"
    );
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn an_update_that_keeps_the_experiment_keeps_what_was_learned_and_a_rename_starts_again() {
    let adaptive =
        json!({"policy": "thompson", "update_seconds": 1, "min_outcomes": 30, "min_share_percent": 10});
    let mut gw = start(adaptive_config(adaptive.clone()));
    gw.upstream("rf").set_behaviour(Behaviour {
        status: 500,
        ..Default::default()
    });
    new_visitors(&gw, 300, 4, "rf");
    assert!(
        eventually(10, || share_bp(&gw, "rf") == 1000),
        "rf falls to its floor"
    );
    // Re-weighted (95/5): the same experiment, predictors and adaptive block.
    let mut reweighted = adaptive_config(adaptive.clone());
    reweighted["experiments"][0]["predictors"] =
        json!([{"name": "xgb", "weight": 95}, {"name": "rf", "weight": 5}]);
    gw.envoy.update_plugin_config(&reweighted);
    assert_eq!(
        gw.envoy.ecds_stat("config_fail"),
        0,
        "the update is accepted\n{}",
        gw.envoy.log()
    );
    // The new configuration serves the learned allocation from its first request.
    let to_rf = new_visitors(&gw, 1000, 4, "rf");
    assert!(
        (50..=150).contains(&to_rf),
        "{to_rf} of 1000 to rf: the learned 10 %, not 5 % or 50 %"
    );
    assert_eq!(share_bp(&gw, "rf"), 1000);
    // Renaming a predictor starts learning again: the configured weights are back.
    let mut renamed = reweighted.clone();
    renamed["experiments"][0]["predictors"] =
        json!([{"name": "xgb", "weight": 50}, {"name": "rf-v2", "weight": 50}]);
    gw.envoy.update_plugin_config(&renamed);
    assert!(eventually(5, || gw
        .envoy
        .counter("predictor_router.fraud-detection.rf-v2.share_bp")
        == 5000));
    let to_xgb = new_visitors(&gw, 1000, 4, "xgb");
    assert!(
        (400..=600).contains(&to_xgb),
        "{to_xgb} of 1000 to xgb: 50/50 again"
    );
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn feedback_is_counted_and_every_feedback_request_still_reaches_its_predictor() {
    let gw = start(adaptive_config(
        json!({"policy": "thompson", "reward": "feedback", "feedback_path": feedback_path()}),
    ));
    let mut client = gw.client();
    let feedback = |body: &[u8], header: Option<(&str, &str)>| {
        let mut request = Request::predict(feedback_path());
        request.body = body.to_vec();
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request
    };
    let good = br#"{"request": {"data": {"ndarray": [[1, 2]]}}, "response": {"data": {"ndarray": [[0.1]]}}, "reward": 1}"#;
    let big = vec![b' '; 2 * 1024 * 1024];
    let cases: Vec<(Request, &str)> = vec![
        (feedback(good, Some(("cookie", "pr-fraud-detection=rf"))), "rf"),
        (feedback(br#"{"reward": 0.5}"#, Some(("x-user-id", "alice"))), ""),
        (
            feedback(b"not json", Some(("cookie", "pr-fraud-detection=xgb"))),
            "xgb",
        ),
        (
            feedback(br#"{"reward": 2}"#, Some(("cookie", "pr-fraud-detection=xgb"))),
            "xgb",
        ),
        (feedback(&big, Some(("cookie", "pr-fraud-detection=xgb"))), "xgb"),
        (feedback(good, None), ""),
        (feedback(good, Some(("x-predictor-override", "rf"))), "rf"),
    ];
    for (request, predictor) in &cases {
        let r = client.send(request).expect("a response");
        assert_eq!(
            r.status, 200,
            "every feedback request is answered by its predictor"
        );
        if !predictor.is_empty() {
            assert_eq!(r.served_by(), Some(*predictor));
        }
    }
    let c = gw.envoy.counters();
    assert_eq!(
        c["predictor_router.fraud-detection.feedback_invalid"], 3,
        "not JSON, reward 2, 2 MiB"
    );
    assert_eq!(
        c["predictor_router.fraud-detection.feedback_unattributed"], 2,
        "random and forced"
    );
    let trials: u64 = ["xgb", "rf"]
        .iter()
        .map(|p| {
            c.get(&format!("predictor_router.fraud-detection.{p}.outcome.trials"))
                .copied()
                .unwrap_or(0)
        })
        .sum();
    let reward: u64 = ["xgb", "rf"]
        .iter()
        .map(|p| {
            c.get(&format!(
                "predictor_router.fraud-detection.{p}.outcome.reward_milli"
            ))
            .copied()
            .unwrap_or(0)
        })
        .sum();
    assert_eq!((trials, reward), (2, 1500), "the sticky and the hashed feedback");
    // The body reached the model unchanged.
    let received = gw.upstream("rf").received();
    assert!(received.iter().any(|r| r.path.ends_with("/feedback")));
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn no_count_is_lost_across_configuration_updates_under_load() {
    let adaptive = json!({"policy": "thompson", "update_seconds": 1, "min_outcomes": 10});
    let mut gw = start(adaptive_config(adaptive.clone()));
    let load = Load::start(gw.envoy.listener_port, 4, predict_path());
    for weights in [(60, 40), (70, 30), (50, 50)] {
        thread::sleep(Duration::from_millis(700));
        let mut config = adaptive_config(adaptive.clone());
        config["experiments"][0]["predictors"] =
            json!([{"name": "xgb", "weight": weights.0}, {"name": "rf", "weight": weights.1}]);
        gw.envoy.update_plugin_config(&config);
    }
    thread::sleep(Duration::from_millis(500));
    let (sent, failed) = load.finish();
    assert_eq!(failed, 0);
    assert!(sent > 500, "{sent} requests");
    let sum = |what: &str| -> u64 {
        let c = gw.envoy.counters();
        c.iter()
            .filter(|(name, _)| name.starts_with("predictor_router.fraud-detection.") && name.contains(what))
            .map(|(_, v)| v)
            .sum()
    };
    assert!(
        eventually(3, || sum(".decision.") == sent),
        "decisions {} vs requests sent {sent}",
        sum(".decision.")
    );
    assert_eq!(sum(".response."), sent);
    assert_eq!(
        sum(".outcome.trials"),
        sent,
        "every response of a new or returning user is an outcome"
    );
    gw.envoy.assert_no_wasm_errors();
}
