//! Configuration through a real Envoy: refused at start-up with the JSON path in the log, and changed
//! at run time over ECDS (Istio's delivery mechanism for a WasmPlugin) without dropping a request.

use std::thread;
use std::time::Duration;

use predictor_router_e2e::bootstrap::Delivery;
use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::http::{HttpClient, Request};
use predictor_router_e2e::load::Load;
use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::scenario::seed_plugin_config;
use predictor_router_e2e::upstream::PredictorServer;
use serde_json::json;

fn invalid_config() -> serde_json::Value {
    let mut config = seed_plugin_config();
    config["experiments"][0]["predictors"][1]["weight"] = json!(12.5);
    config
}

fn assert_logs_the_json_path(log: &str) {
    assert!(
        log.lines().any(|l| l.contains("[error]")
            && l.contains(
                "predictor_router: invalid configuration: \
                experiments[0].predictors[1].weight: must be an integer from 0 to 1000000"
            )),
        "no error line with the JSON path in Envoy's log:\n{log}"
    );
}

#[test]
fn a_static_envoy_refuses_an_invalid_configuration_and_logs_the_json_path() {
    let upstreams = vec![PredictorServer::start("xgb"), PredictorServer::start("rf")];
    // `envoy --mode validate` loads the module and runs on_configure: it already refuses.
    let options = GatewayOptions {
        delivery: Delivery::Static,
        ..Default::default()
    };
    let Err(failure) = Gateway::start_envoy(invalid_config(), &upstreams, options) else {
        panic!("envoy --mode validate accepted an invalid plugin configuration");
    };
    assert!(failure.in_validation);
    assert_ne!(failure.exit_code, Some(0));
    assert_logs_the_json_path(&failure.log);

    // Started for real, it exits instead of serving.
    let options = GatewayOptions {
        delivery: Delivery::Static,
        validate: false,
        ..Default::default()
    };
    let Err(failure) = Gateway::start_envoy(invalid_config(), &upstreams, options) else {
        panic!("Envoy started with an invalid plugin configuration");
    };
    assert!(!failure.in_validation);
    assert!(
        failure.exit_code.is_some_and(|c| c != 0),
        "Envoy must exit with an error: {:?}",
        failure.exit_code
    );
    assert_logs_the_json_path(&failure.log);
}

fn served_by_of(port: u16, n: usize) -> Vec<String> {
    let mut client = HttpClient::new(port);
    (0..n)
        .map(|_| {
            client
                .send(&Request::predict(predict_path()))
                .unwrap()
                .served_by()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_runtime_update_applies_without_dropping_requests_and_an_invalid_one_keeps_the_last_good() {
    let mut gw = Gateway::start_with_workers(seed_plugin_config(), 2);
    let port = gw.envoy.listener_port;
    let before = served_by_of(port, 200);
    assert!(
        before.iter().any(|p| p == "xgb") && before.iter().any(|p| p == "rf"),
        "50/50 serves both"
    );

    // Ramp to rf 100 % while traffic flows.
    let load = Load::start(port, 4, predict_path());
    thread::sleep(Duration::from_millis(300));
    let mut all_rf = seed_plugin_config();
    all_rf["experiments"][0]["predictors"] =
        json!([{"name": "xgb", "weight": 0}, {"name": "rf", "weight": 100}]);
    gw.envoy.update_plugin_config(&all_rf);
    thread::sleep(Duration::from_millis(300));
    let (sent, failed) = load.finish();
    assert!(sent > 100, "the load ran ({sent} requests)");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed during the update");
    assert_eq!(gw.envoy.ecds_stat("config_reload"), 2);
    assert!(
        served_by_of(port, 100).iter().all(|p| p == "rf"),
        "the new weights are in force"
    );

    // An invalid update is rejected: logged with its JSON path, and the last good keeps serving.
    let load = Load::start(port, 2, predict_path());
    gw.envoy.update_plugin_config(&invalid_config());
    thread::sleep(Duration::from_millis(200));
    let (sent, failed) = load.finish();
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed around the rejected update"
    );
    assert_eq!(
        gw.envoy.ecds_stat("config_fail"),
        1,
        "Envoy counts the rejected update"
    );
    assert!(
        gw.envoy
            .log()
            .contains("experiments[0].predictors[1].weight: must be an integer from 0 to 1000000"),
        "the rejection names the JSON path:\n{}",
        gw.envoy.log()
    );
    assert!(
        served_by_of(port, 100).iter().all(|p| p == "rf"),
        "the last good configuration keeps serving"
    );

    // And a later valid update is applied again.
    gw.envoy.update_plugin_config(&seed_plugin_config());
    let after = served_by_of(port, 200);
    assert!(after.iter().any(|p| p == "xgb"), "back to 50/50");
    // The rejected update is the only wasm error (Envoy's own lines about it included).
    gw.envoy.assert_no_wasm_errors_except(&[
        "invalid configuration",
        "Failed to configure",
        "failed to load",
        "fail closed",
    ]);
}
