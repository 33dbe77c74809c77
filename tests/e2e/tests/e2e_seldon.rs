//! Adaptive allocation learning from Seldon's feedback API, with real Seldon Core v1 predictors
//! (`seldon-core-microservice`, an XGBoost and a random-forest model) behind a real Envoy: every
//! feedback reaches the model that made the prediction, is counted once at the gateway, and moves the
//! allocation. The same setting as `make demo-seldon`, smaller. A third model process as the shadow:
//! the gateway's agreement counts equal the offline computation.

use predictor_router_e2e::http::eventually;
use predictor_router_e2e::seldon::{
    feedback_plugin_config, gateway, held_out_rows, predict_rows_as_both_cookies, run_users,
    shadow_at_gateway, shadow_gateway, shadow_offline, shadow_outcomes, start_models, start_models_serving,
};
use serde_json::json;

#[test]
fn feedback_through_the_gateway_reaches_its_model_and_teaches_the_bandit() {
    let models = start_models();
    let envoy = gateway(feedback_plugin_config(1, 20), &models);
    let (rows, labels) = held_out_rows();
    let data: Vec<_> = rows.into_iter().zip(labels).collect();
    let mut scored = run_users(envoy.listener_port, &data, 0, 60, 2, 6);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    scored.extend(run_users(envoy.listener_port, &data, 60, 60, 2, 6));
    assert_eq!(scored.len(), 240);
    assert!(
        scored.iter().all(|s| s.feedback_status == 200),
        "every feedback answered by its model"
    );

    let counters = envoy.counters();
    let counter = |name: String| counters.get(&name).copied().unwrap_or(0);
    for model in &models {
        let p = model.kind.as_str();
        let mine: Vec<_> = scored.iter().filter(|s| s.predictor == p).collect();
        let correct = mine.iter().filter(|s| s.correct).count() as u64;
        let (received, rewards) = model.feedback_received();
        assert_eq!(
            received,
            mine.len() as u64,
            "{p}: feedback calls the model process received"
        );
        assert_eq!(rewards.round() as u64, correct, "{p}: rewards the model received");
        assert_eq!(
            counter(format!("predictor_router.fraud-detection.{p}.outcome.trials")),
            mine.len() as u64
        );
        assert_eq!(
            counter(format!(
                "predictor_router.fraud-detection.{p}.outcome.reward_milli"
            )),
            correct * 1000
        );
    }
    assert_eq!(
        counter("predictor_router.fraud-detection.feedback_invalid".into()),
        0
    );
    assert_eq!(
        counter("predictor_router.fraud-detection.feedback_unattributed".into()),
        0,
        "every feedback carried the cookie of its prediction"
    );
    let share = |p: &str| counter(format!("predictor_router.fraud-detection.{p}.share_bp"));
    assert_eq!(share("xgb") + share("rf"), 10_000);
    assert!(
        envoy
            .log()
            .contains("predictor_router: fraud-detection allocation xgb "),
        "the allocation left burn-in:\n{}",
        envoy.log()
    );
    envoy.assert_no_wasm_errors();
}

/// A rollout learning from Seldon feedback, with real models: users predict and send feedback through
/// the gateway (the reward is whether the model was right) until the guard has judged or `budget` canary
/// outcomes are in. Returns the canary outcomes counted at the gateway and whether it rolled back.
fn roll_out_against_feedback(canary_model: &str, budget: u64) -> (u64, bool, String) {
    use predictor_router_e2e::seldon::{feedback_rollout_config, start_models_serving};
    let models = start_models_serving(&[("xgb", "xgb"), ("rf", canary_model)]);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let envoy = gateway(feedback_rollout_config(start, 50), &models);
    let (rows, labels) = held_out_rows();
    let data: Vec<_> = rows.into_iter().zip(labels).collect();
    let counter = |name: &str| envoy.counter(&format!("predictor_router.fraud-detection.{name}"));
    let mut first_user = 0;
    loop {
        run_users(envoy.listener_port, &data, first_user, 24, 5, 6);
        first_user += 24;
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let outcomes = counter("rf.outcome.trials");
        let rolled_back = counter("rollout.rolled_back") == 1;
        if rolled_back || outcomes >= budget {
            envoy.assert_no_wasm_errors();
            assert_eq!(counter("feedback_invalid"), 0);
            return (outcomes, rolled_back, envoy.log());
        }
    }
}

#[test]
fn a_worse_model_is_rolled_back_by_feedback_and_one_as_good_is_not() {
    // The canary: a forest trained on shuffled labels (it calls half of all transactions fraud).
    let (bad_outcomes, rolled_back, log) = roll_out_against_feedback("rf-shuffled", 2000);
    assert!(
        rolled_back,
        "the shuffled-label canary was not rolled back in {bad_outcomes} outcomes"
    );
    let line = log
        .lines()
        .find(|l| l.contains("rollout rolled back rf"))
        .unwrap_or_default();
    println!("bad canary: rolled back after {bad_outcomes} canary outcomes: {line}");
    assert!(line.contains("mSPRT at 99%"), "{log}");

    // The same rollout with a canary as good as the baseline (the same XGBoost model), for at least
    // as many canary outcomes as the bad one needed: not rolled back.
    let (good_outcomes, rolled_back, _) = roll_out_against_feedback("xgb", bad_outcomes.max(200));
    println!("good canary: {good_outcomes} canary outcomes, rolled back: {rolled_back}");
    assert!(!rolled_back, "a canary as good as the baseline was rolled back");
    assert!(good_outcomes >= bad_outcomes);
}

/// Shadow comparison with real models: a third Seldon Core microservice (`rf-v2`, a deeper forest) as
/// the shadow of the seed's experiment, every prediction copied. The agreement the gateway counts per
/// served predictor equals, exactly, what `tests/seldon/shadow_offline.py` computes from the same rows
/// with the same models; `abs_diff_milli` within rounding (each pair's figure is rounded).
#[test]
fn a_real_shadow_models_agreement_counted_at_the_gateway_equals_the_offline_computation() {
    let mut models = start_models_serving(&[("xgb", "xgb"), ("rf", "rf"), ("rf-v2", "rf-v2")]);
    let shadow_model = models.pop().expect("the shadow");
    let mut config = predictor_router_e2e::shadow::plugin_config(json!({"timeout_ms": 5000}));
    config["experiments"][0]["shadow"]["path_prefix"] = json!("/");
    let envoy = shadow_gateway(config, &models, &shadow_model);
    let (rows, _) = held_out_rows();
    let rows = &rows[..400];
    let served = predict_rows_as_both_cookies(&envoy, rows);
    assert!(
        served.iter().all(|p| p == "xgb" || p == "rf"),
        "every prediction answered: {:?}",
        served
            .iter()
            .filter(|p| *p != "xgb" && *p != "rf")
            .collect::<Vec<_>>()
    );
    eventually(30, || {
        shadow_outcomes(&envoy, &["xgb", "rf"]) >= rows.len() as u64
    });
    let (at_gateway, other) = shadow_at_gateway(&envoy, &["xgb", "rf"]);
    let offline = shadow_offline(rows, &served, "rf-v2");
    println!("gateway (agree, disagree, abs_diff_milli) per served predictor: {at_gateway:?}, other outcomes {other:?}");
    println!("offline, shadow_offline.py:                                      {offline:?}");
    assert_eq!(other.values().sum::<u64>(), 0, "every copy compared: {other:?}");
    for predictor in ["xgb", "rf"] {
        let (agree, disagree, milli) = at_gateway[predictor];
        let (o_agree, o_disagree, o_milli) = offline[predictor];
        assert_eq!((agree, disagree), (o_agree, o_disagree), "{predictor}");
        assert!(
            milli.abs_diff(o_milli) <= agree + disagree,
            "{predictor}: abs_diff_milli {milli} at the gateway, {o_milli} offline"
        );
        assert!(
            disagree > 0 && agree > disagree,
            "{predictor}: the shadow differs on some rows only"
        );
    }
    envoy.assert_no_wasm_errors();
}
