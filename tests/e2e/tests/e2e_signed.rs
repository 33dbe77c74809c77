//! Signed overrides through a real Envoy (V8): the key set in `vm_config.environment_variables` (what a
//! WasmPlugin's `vmConfig.env` compiles to), tokens minted with the filter's own code, the header and
//! the query parameter, plain names refused and counted, and a missing variable refusing start-up.

use std::time::{SystemTime, UNIX_EPOCH};

use predictor_router::router::signing::{mint, KeySet};
use predictor_router_e2e::bootstrap::Delivery;
use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::http::Request;
use predictor_router_e2e::scenario::{predict_path, signed_plugin_config};
use predictor_router_e2e::upstream::PredictorServer;
use serde_json::{json, Value};

const VARIABLE: &str = "PREDICTOR_ROUTER_KEYS";
const KEYS: &str = "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw,Lm3Nq8Rz2Tx7Vc1Bf6Gh0Jk4Pw9Sd5Ya2Ue8Io3Ah7Ej";

/// The shipped variant (envoyfilter/overlays/signed-overrides/), with the query parameter as well.
fn signed_config() -> Value {
    let mut config = signed_plugin_config();
    assert_eq!(config["signing"]["keys_env"], VARIABLE);
    config["experiments"][0]["override"]["query_param"] = json!("predictor");
    // Weight 0 for rf: only a token can reach it.
    config["experiments"][0]["predictors"] =
        json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 0}]);
    config
}

fn options(vm_environment: Vec<(String, String)>) -> GatewayOptions {
    GatewayOptions {
        vm_environment,
        ..Default::default()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn a_minted_token_forces_by_header_and_query_and_a_plain_name_is_rejected() {
    let gw = Gateway::start_with(
        signed_config(),
        options(vec![(VARIABLE.to_string(), format!("{KEYS}\n"))]),
    );
    let keys = KeySet::parse(KEYS).unwrap();
    let token = mint(&keys, "fraud-detection", "rf", now() + 3600).unwrap();
    let mut client = gw.client();
    for _ in 0..10 {
        let by_header = client
            .send(&Request::predict(predict_path()).header("x-predictor-override", &token))
            .unwrap();
        assert_eq!(by_header.served_by(), Some("rf"), "{by_header:?}");
        let by_query = client
            .send(&Request::predict(&format!(
                "{}?predictor={token}",
                predict_path()
            )))
            .unwrap();
        assert_eq!(by_query.served_by(), Some("rf"), "{by_query:?}");
    }
    for plain in ["rf", "xgb"] {
        for _ in 0..5 {
            let refused = client
                .send(&Request::predict(predict_path()).header("x-predictor-override", plain))
                .unwrap();
            assert_eq!(refused.served_by(), Some("xgb"), "rf has weight 0: {refused:?}");
        }
    }
    let counters = gw.envoy.counters();
    assert_eq!(
        counters["predictor_router.fraud-detection.rf.decision.forced"],
        20
    );
    assert_eq!(counters["predictor_router.fraud-detection.override_rejected"], 10);
    assert!(!counters.contains_key("predictor_router.fraud-detection.xgb.decision.forced"));
    let log = gw.envoy.log();
    assert!(
        log.contains("signed overrides verify with 2 key(s) from PREDICTOR_ROUTER_KEYS"),
        "{log}"
    );
    for key in KEYS.split(',') {
        assert!(!log.contains(&key[..12]), "a key reached Envoy's log");
    }
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn envoy_refuses_to_start_without_the_variable_and_logs_signing_keys_env() {
    let upstreams = vec![PredictorServer::start("xgb"), PredictorServer::start("rf")];
    for validate in [true, false] {
        let options = GatewayOptions {
            delivery: Delivery::Static,
            validate,
            vm_environment: vec![("SOMETHING_ELSE".to_string(), "x".to_string())],
            ..Default::default()
        };
        let Err(failure) = Gateway::start_envoy(signed_config(), &upstreams, options) else {
            panic!("Envoy started without {VARIABLE} (validate: {validate})");
        };
        assert_ne!(failure.exit_code, Some(0));
        assert!(
            failure.log.lines().any(|l| l.contains("[error]")
                && l.contains("invalid configuration: signing.keys_env: the environment variable PREDICTOR_ROUTER_KEYS is not set")),
            "no error line naming signing.keys_env (validate: {validate}):\n{}",
            failure.log
        );
    }
}
