//! The Gateway API path in a real Envoy: the routes of `envoyfilter/overlays/gateway-api/httproute.yaml`
//! (header match + prefix rewrite, translated as a Gateway API implementation programs Envoy) behind the
//! module: the header the filter sets selects the rule, and the rewrite reaches the model.

use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::gateway_api::envoy_routes;
use predictor_router_e2e::http::Request;
use predictor_router_e2e::scenario::{manifest_documents, overlays_dir, predict_path, seed_plugin_config};
use serde_json::Value;

fn httproute() -> Value {
    let file = overlays_dir().join("gateway-api/httproute.yaml");
    let doc = manifest_documents()
        .into_iter()
        .find(|(f, d)| *f == file && d["kind"].as_str() == Some("HTTPRoute"))
        .expect("the HTTPRoute")
        .1;
    serde_json::to_value(doc).unwrap()
}

#[test]
fn the_httproute_follows_the_routing_header_and_rewrites_the_prefix() {
    let routes = envoy_routes(&httproute(), "fraud-detection");
    assert_eq!(routes.len(), 3, "{routes:#?}");
    let gw = Gateway::start_with(
        seed_plugin_config(),
        GatewayOptions {
            routes: Some(routes),
            ..Default::default()
        },
    );
    let mut client = gw.client();
    for predictor in ["xgb", "rf"] {
        gw.upstream(predictor).clear_received();
        for _ in 0..5 {
            let r = client
                .send(&Request::predict(predict_path()).header("x-predictor-override", predictor))
                .unwrap();
            assert_eq!((r.status, r.served_by()), (200, Some(predictor)));
        }
        let received = gw.upstream(predictor).received();
        assert_eq!(received.len(), 5);
        for request in received {
            assert_eq!(
                request.path, "/api/v1.0/predictions",
                "the prefix is rewritten to /"
            );
            assert_eq!(request.header("x-predictor"), Some(predictor.as_bytes()));
        }
    }
    // New visitors are split by the filter; each lands on the rule of its header.
    let mut served = std::collections::BTreeMap::new();
    for _ in 0..200 {
        let r = client.send(&Request::predict(predict_path())).unwrap();
        assert_eq!(
            r.header("x-predictor"),
            r.served_by(),
            "the rule of the filter's header answered"
        );
        *served.entry(r.served_by().unwrap().to_string()).or_insert(0) += 1;
    }
    assert_eq!(served.len(), 2, "{served:?}");
    gw.envoy.assert_no_wasm_errors();
}
