//! The shadow comparison with the model servers most models on Istio are served by: MLServer over the
//! Open Inference Protocol v2 (the protocol of KServe v2, Triton and Seldon Core 2), once on the
//! `predict_proba` output (rows of class probabilities) and once on `predict` (INT64 labels), and
//! KServe's own model server over KServe v1. The served predictors and the shadow are the seed's fraud
//! models, from the same files in each server; the gateway's agree, disagree and abs_diff_milli per
//! served predictor must equal `tests/models/offline.py`'s recomputation from those files and rows.
//! Clients see nothing of the shadow: every answer 200, from the predictor the filter chose.
//!
//! The servers come from PyPI (`make model-servers`); a missing one fails the test, never skips it.

use predictor_router_tests::bootstrap::cluster_name;
use predictor_router_tests::envoy::{Envoy, EnvoyOptions};
use predictor_router_tests::http::{eventually, HttpClient, Request};
use predictor_router_tests::model_servers::{offline, save_models, ModelServer};
use predictor_router_tests::scenario::seed_plugin_config;
use predictor_router_tests::seldon::{held_out_rows, shadow_at_gateway, shadow_outcomes};
use predictor_router_tests::shadow::{CLUSTER, NAME};
use serde_json::{json, Value};

/// How one protocol is spoken: the path clients use, each predictor's path at the server, the body of
/// one row, and the shadow's `compare` settings.
struct Protocol {
    match_prefix: &'static str,
    client_path: &'static str,
    server_prefix: fn(&str) -> String,
    body: fn(&Value) -> Value,
    compare: Value,
}

fn gateway(server: &ModelServer, protocol: &Protocol) -> Envoy {
    let mut config = seed_plugin_config();
    config["experiments"][0]["match"]["path_prefix"] = json!(protocol.match_prefix);
    let mut shadow = json!({
        "name": NAME, "cluster": CLUSTER, "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
        "path_prefix": (protocol.server_prefix)(NAME), "percent": 100, "timeout_ms": 5000, "max_in_flight": 10000
    });
    if let (Some(block), Some(compare)) = (shadow.as_object_mut(), protocol.compare.as_object()) {
        block.extend(compare.clone());
    }
    config["experiments"][0]["shadow"] = shadow;
    // The routes a VirtualService per predictor gives: its header, the prefix rewritten to its model.
    let route = |predictor: &str, header: bool| {
        let mut r = json!({"match": {"prefix": protocol.match_prefix},
                           "route": {"cluster": cluster_name(predictor), "prefix_rewrite": (protocol.server_prefix)(predictor)}});
        if header {
            r["match"]["headers"] = json!([{"name": "x-predictor", "string_match": {"exact": predictor}}]);
        }
        r
    };
    let mut options = EnvoyOptions::new(
        config,
        vec![("xgb".into(), server.port), ("rf".into(), server.port)],
    );
    options.concurrency = 2;
    options.routes = Some(vec![route("xgb", true), route("rf", true), route("xgb", false)]);
    options.extra_clusters = vec![(CLUSTER.to_string(), server.port)];
    Envoy::start(options).unwrap_or_else(|f| panic!("Envoy did not start:\n{}", f.log))
}

/// Sends each row alone, alternately as a holder of xgb's and of rf's cookie, waiting for the
/// shadow every 20 rows; returns the predictor that served each row.
fn predict(envoy: &Envoy, protocol: &Protocol, rows: &[Value]) -> Vec<String> {
    let mut client = HttpClient::new(envoy.listener_port);
    let mut served = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut request = Request::predict(protocol.client_path).header(
            "cookie",
            ["pr-fraud-detection=xgb", "pr-fraud-detection=rf"][i % 2],
        );
        request.body = (protocol.body)(row).to_string().into_bytes();
        let response = client.send(&request).expect("an answer");
        assert_eq!(
            response.status,
            200,
            "row {i}: {}",
            String::from_utf8_lossy(&response.body)
        );
        served.push(response.header("x-predictor").unwrap_or("").to_string());
        if i % 20 == 19 {
            assert!(eventually(30, || shadow_outcomes(envoy, &["xgb", "rf"]) >= (i + 1) as u64));
        }
    }
    served
}

fn compare_with_offline(protocol: Protocol, server: fn(&std::path::Path) -> ModelServer, output: &str) {
    let dir = tempfile::tempdir().expect("a folder for the models");
    save_models(dir.path());
    let server = server(dir.path());
    let envoy = gateway(&server, &protocol);
    let (rows, _) = held_out_rows();
    let rows = &rows[..200];
    let served = predict(&envoy, &protocol, rows);
    assert_eq!(served.iter().filter(|p| *p == "xgb").count(), 100, "{served:?}");
    assert!(eventually(30, || shadow_outcomes(&envoy, &["xgb", "rf"])
        >= rows.len() as u64));
    let (at_gateway, other) = shadow_at_gateway(&envoy, &["xgb", "rf"]);
    let offline = offline(dir.path(), rows, &served, output);
    println!("{} ({output}): gateway (agree, disagree, abs_diff_milli) per served predictor {at_gateway:?}, other outcomes {other:?}", server.name);
    println!(
        "{} ({output}): offline.py from the same files and rows                      {offline:?}",
        server.name
    );
    assert_eq!(other.values().sum::<u64>(), 0, "every copy compared: {other:?}");
    for predictor in ["xgb", "rf"] {
        let (agree, disagree, milli) = at_gateway[predictor];
        let (o_agree, o_disagree, o_milli) = offline[predictor];
        assert_eq!((agree, disagree), (o_agree, o_disagree), "{predictor}");
        // Rounding of the last digit: at most one milli per compared pair.
        assert!(
            milli.abs_diff(o_milli) <= agree + disagree,
            "{predictor}: {milli} vs {o_milli} offline"
        );
        assert!(agree > 0, "{predictor}: the shadow agrees on most rows");
    }
    envoy.assert_no_wasm_errors();
}

fn oip(output: &'static str) -> Protocol {
    Protocol {
        match_prefix: "/v2/models/fraud-detection/",
        client_path: "/v2/models/fraud-detection/infer",
        server_prefix: |model| format!("/v2/models/{model}/"),
        body: if output == "predict" {
            |row| {
                json!({"inputs": [{"name": "input-0", "shape": [1, row.as_array().map_or(0, Vec::len)], "datatype": "FP64", "data": row}],
                         "outputs": [{"name": "predict"}]})
            }
        } else {
            |row| {
                json!({"inputs": [{"name": "input-0", "shape": [1, row.as_array().map_or(0, Vec::len)], "datatype": "FP64", "data": row}],
                         "outputs": [{"name": "predict_proba"}]})
            }
        },
        compare: json!({"compare": "oip", "output": output}),
    }
}

#[test]
fn mlserver_probabilities_over_the_open_inference_protocol_are_compared_as_offline() {
    compare_with_offline(oip("predict_proba"), ModelServer::mlserver, "predict_proba");
}

#[test]
fn mlserver_labels_over_the_open_inference_protocol_are_compared_as_offline() {
    compare_with_offline(oip("predict"), ModelServer::mlserver, "predict");
}

#[test]
fn kserve_v1_predictions_are_compared_as_offline() {
    // The model's name ends the prefix: `/v1/models/fraud-detection:predict` becomes
    // `/v1/models/xgb:predict`, and the shadow's copy `/v1/models/rf-v2:predict` (a plain replacement).
    let protocol = Protocol {
        match_prefix: "/v1/models/fraud-detection",
        client_path: "/v1/models/fraud-detection:predict",
        server_prefix: |model| format!("/v1/models/{model}"),
        body: |row| json!({"instances": [row]}),
        compare: json!({"compare": "kserve_v1"}),
    };
    compare_with_offline(protocol, ModelServer::kserve, "predict_proba");
}
