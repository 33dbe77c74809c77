//! Shadow comparison in a real Envoy (V8, `--concurrency 2`, delivered the way Istio delivers a
//! WasmPlugin): the shipped experiment with a `shadow` block whose cluster is a real loopback server.
//! Copies leave from the workers' root contexts (woken through their own shared queues), are compared
//! with the client's answer, and every copy ends in exactly one outcome, also when the client closed
//! its connection right after the response headers while the shadow was still working. The shadow's
//! faults (500s, slowness beyond `timeout_ms`, nothing listening) never reach a client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use predictor_router_tests::envoy::{free_port, Envoy};
use predictor_router_tests::gateway::{Gateway, GatewayOptions};
use predictor_router_tests::http::{eventually, HttpClient, Request};
use predictor_router_tests::scenario::{predict_path, seed_plugin_config};
use predictor_router_tests::upstream::{Behaviour, PredictorServer};
use serde_json::{json, Value};

const CLUSTER: &str = "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local";
const OUTCOMES: [&str; 5] = ["agree", "disagree", "failed", "timeout", "skipped"];

fn config(timeout_ms: u32) -> Value {
    let mut config = seed_plugin_config();
    config["experiments"][0]["shadow"] = json!({
        "name": "rf-v2", "cluster": CLUSTER,
        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
        "percent": 100, "timeout_ms": timeout_ms, "max_in_flight": 10000
    });
    config
}

/// An Envoy in front of the seed's predictors whose shadow cluster points at `shadow_port`.
fn gateway(config: &Value, upstreams: &[PredictorServer], shadow_port: u16) -> Envoy {
    let options = GatewayOptions {
        concurrency: 2,
        extra_clusters: vec![(CLUSTER.to_string(), shadow_port)],
        component_log_level: Some("wasm:debug".into()),
        ..GatewayOptions::default()
    };
    Gateway::start_envoy(config.clone(), upstreams, options)
        .unwrap_or_else(|f| panic!("Envoy did not start: {}", f.log))
}

fn seed_upstreams() -> Vec<PredictorServer> {
    ["xgb", "rf"].iter().map(|n| PredictorServer::start(n)).collect()
}

/// The shadow counters summed over the served predictors: `copied` and each outcome.
fn shadow_totals(envoy: &Envoy) -> Vec<(String, u64)> {
    let counters = envoy.counters();
    let sum = |measure: &str| {
        counters
            .iter()
            .filter(|(k, _)| k.ends_with(&format!(".shadow.rf-v2.{measure}")))
            .map(|(_, v)| *v)
            .sum::<u64>()
    };
    ["copied"]
        .iter()
        .chain(OUTCOMES.iter())
        .map(|m| (m.to_string(), sum(m)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn outcome_sum(totals: &[(String, u64)]) -> u64 {
    totals
        .iter()
        .filter(|(k, _)| OUTCOMES.contains(&k.as_str()))
        .map(|(_, v)| v)
        .sum()
}

/// Waits until every copied request has its outcome (or 10 s), and returns the totals.
fn settled(envoy: &Envoy, copied: u64) -> Vec<(String, u64)> {
    let mut totals = Vec::new();
    eventually(10, || {
        totals = shadow_totals(envoy);
        outcome_sum(&totals) >= copied
    });
    totals
}

/// A prediction on a raw connection that is closed as soon as the response headers arrived; the time
/// to the headers.
fn predict_then_leave(port: u16, cookie: &str) -> Duration {
    let body = r#"{"data":{"ndarray":[[1.0,2.0,3.0,4.0]]}}"#;
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let request = format!(
        "POST {} HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\ncookie: {cookie}\r\ncontent-length: {}\r\n\r\n{body}",
        predict_path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).expect("read") == 0 {
            break;
        }
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let elapsed = started.elapsed();
    drop(stream); // gone, while the shadow still works
    elapsed
}

#[test]
fn copies_are_compared_in_a_real_envoy_also_when_the_client_left_first() {
    let upstreams = seed_upstreams();
    let shadow = PredictorServer::start("rf-v2");
    let envoy = gateway(&config(2000), &upstreams, shadow.port);
    let mut client = HttpClient::new(envoy.listener_port);
    for i in 0..60 {
        let cookie = if i % 2 == 0 {
            "pr-fraud-detection=xgb"
        } else {
            "pr-fraud-detection=rf"
        };
        let response = client
            .send(&Request::predict(predict_path()).header("cookie", cookie))
            .expect("a response");
        assert_eq!(response.status, 200);
    }
    let totals = settled(&envoy, 60);
    println!("60 predictions, shadow answering at once: {totals:?}");
    assert_eq!(
        totals,
        vec![("copied".to_string(), 60), ("agree".to_string(), 60)]
    );
    let received = shadow.received();
    assert_eq!(received.len(), 60);
    assert!(
        received
            .iter()
            .all(|r| r.method == "POST" && r.path == "/api/v1.0/predictions"),
        "{:?}",
        received[0]
    );
    assert!(received
        .iter()
        .all(|r| r.header("content-type") == Some(b"application/json".as_slice())));
    assert!(
        received.iter().all(|r| r.header("cookie").is_none()),
        "the client's cookie is never copied"
    );
    // The shipped stats_tags make Prometheus labels of the served predictor, the shadow and the outcome.
    let prometheus = envoy.prometheus();
    let labelled = |metric: &str, labels: &[&str]| {
        prometheus
            .iter()
            .any(|l| l.starts_with(&format!("{metric}{{")) && labels.iter().all(|label| l.contains(label)))
    };
    let served_by_xgb = [
        r#"experiment="fraud-detection""#,
        r#"predictor="xgb""#,
        r#"shadow="rf-v2""#,
    ];
    assert!(
        labelled(
            "predictor_router_shadow",
            &[&served_by_xgb[..], &[r#"outcome="agree""#]].concat()
        ),
        "{prometheus:#?}"
    );
    assert!(
        labelled("predictor_router_shadow_latency_ms", &served_by_xgb),
        "{prometheus:#?}"
    );
    let per_served = envoy.counters();
    assert_eq!(
        per_served.get("predictor_router.fraud-detection.xgb.shadow.rf-v2.agree"),
        Some(&30)
    );
    assert_eq!(
        per_served.get("predictor_router.fraud-detection.rf.shadow.rf-v2.agree"),
        Some(&30)
    );

    // The shadow now takes 400 ms; each client leaves right after its response headers.
    shadow.set_behaviour(Behaviour {
        delay: Duration::from_millis(400),
        ..Behaviour::default()
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        slowest = slowest.max(predict_then_leave(envoy.listener_port, "pr-fraud-detection=xgb"));
    }
    let totals = settled(&envoy, 80);
    println!("20 clients gone before the shadow answered (slowest response headers {slowest:?}): {totals:?}");
    assert!(
        slowest < Duration::from_millis(300),
        "a client waited for the shadow: {slowest:?}"
    );
    assert_eq!(
        totals,
        vec![("copied".to_string(), 80), ("agree".to_string(), 80)]
    );
    let latency = envoy.counter("predictor_router.fraud-detection.xgb.shadow.rf-v2.latency_ms");
    assert!(
        latency >= 20 * 400,
        "the 20 slow answers were timed: {latency} ms in all"
    );
    envoy.assert_no_wasm_errors();
}

#[test]
fn the_shadows_faults_never_reach_a_client_and_each_copy_has_one_outcome() {
    let upstreams = seed_upstreams();
    let shadow = PredictorServer::start("rf-v2");
    let nothing_listens = free_port();
    let cases: Vec<(&str, Option<Behaviour>, &str)> = vec![
        (
            "500s",
            Some(Behaviour {
                status: 500,
                ..Behaviour::default()
            }),
            "failed",
        ),
        (
            "beyond timeout_ms",
            Some(Behaviour {
                delay: Duration::from_millis(600),
                ..Behaviour::default()
            }),
            "timeout",
        ),
        ("not listening", None, "failed"),
    ];
    for (case, behaviour, expected) in cases {
        let port = match &behaviour {
            Some(b) => {
                shadow.set_behaviour(b.clone());
                shadow.port
            }
            None => nothing_listens,
        };
        let envoy = gateway(&config(200), &upstreams, port);
        let mut client = HttpClient::new(envoy.listener_port);
        for _ in 0..30 {
            let response = client
                .send(&Request::predict(predict_path()).header("cookie", "pr-fraud-detection=xgb"))
                .expect("a response");
            assert_eq!(response.status, 200, "{case}");
            assert_eq!(response.served_by(), Some("xgb"), "{case}");
            assert!(
                String::from_utf8_lossy(&response.body).contains(r#""predictor":"xgb""#),
                "{case}"
            );
        }
        let totals = settled(&envoy, 30);
        println!("shadow {case}: {totals:?}");
        assert_eq!(
            totals,
            vec![("copied".to_string(), 30), (expected.to_string(), 30)],
            "{case}"
        );
        envoy.assert_no_wasm_errors();
    }
}
