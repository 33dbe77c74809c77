//! Adaptive allocation learning from Seldon's feedback API, with real Seldon Core v1 predictors
//! (`seldon-core-microservice`, an XGBoost and a random-forest model) behind a real Envoy: every
//! feedback reaches the model that made the prediction, is counted once at the gateway, and moves the
//! allocation. The same setting as `make demo-seldon`, smaller.

use predictor_router_tests::seldon::{
    feedback_plugin_config, gateway, held_out_rows, run_users, start_models,
};

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
