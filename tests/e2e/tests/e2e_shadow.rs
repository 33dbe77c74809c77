//! Shadow comparison in a real Envoy (V8, `--concurrency 2`, delivered the way Istio delivers a
//! WasmPlugin): the shipped experiment with a `shadow` block whose cluster is a real loopback server.
//! Copies leave from the workers' root contexts (woken through their own shared queues), are compared
//! with the client's answer, and every copy ends in exactly one outcome, also when the client closed
//! its connection right after the response headers while the shadow was still working. The shadow's
//! faults (500s, slowness beyond `timeout_ms`, garbage, nothing listening) never reach a client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use predictor_router_e2e::envoy::Envoy;
use predictor_router_e2e::http::{eventually, HttpClient, Request};
use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::shadow::{self, measure, seed_upstreams, settled};
use predictor_router_e2e::stats::{chi_square, chi_square_critical_p001};
use predictor_router_e2e::upstream::{Behaviour, PredictorServer};
use serde_json::{json, Value};

fn config(timeout_ms: u32) -> Value {
    shadow::plugin_config(json!({ "timeout_ms": timeout_ms }))
}

fn gateway(config: &Value, upstreams: &[PredictorServer], shadow_port: u16) -> Envoy {
    shadow::gateway(config, upstreams, shadow_port, 2)
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
    // Each copy leaves at once (the root is woken through its queue), not on the next tick: one
    // prediction at a time, its copy reaches the shadow within 200 ms (the tick comes every second).
    for i in 0..5 {
        let before = shadow.received().len();
        let sent = Instant::now();
        client
            .send(&Request::predict(predict_path()).header("cookie", "pr-fraud-detection=xgb"))
            .expect("a response");
        assert!(
            eventually(3, || shadow.received().len() > before),
            "copy {i} never arrived"
        );
        println!("copy {i} at the shadow after {:?}", sent.elapsed());
        assert!(
            sent.elapsed() < Duration::from_millis(200),
            "copy {i}: {:?}",
            sent.elapsed()
        );
    }
    let totals = settled(&envoy, 65);
    assert_eq!(
        totals,
        vec![("copied".to_string(), 65), ("agree".to_string(), 65)]
    );
    let received = shadow.received();
    assert_eq!(received.len(), 65);
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
    let sent_length = Request::predict(predict_path()).body.len().to_string();
    assert!(
        received
            .iter()
            .all(|r| r.header("content-length") == Some(sent_length.as_bytes())
                && r.header("transfer-encoding").is_none()),
        "the copy's body has its length: {:?}",
        received[0]
    );
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
        Some(&35)
    );
    assert_eq!(
        per_served.get("predictor_router.fraud-detection.rf.shadow.rf-v2.agree"),
        Some(&30)
    );

    // The shadow answers at once: the copies' latency (from their dispatch) is a few ms each.
    let fast: u64 = ["xgb", "rf"]
        .iter()
        .map(|p| {
            envoy.counter(&format!(
                "predictor_router.fraud-detection.{p}.shadow.rf-v2.latency_ms"
            ))
        })
        .sum();
    println!("latency_ms of the 60 prompt answers: {fast} in all");
    assert!(fast < 60 * 50, "the prompt shadow took {fast} ms over 60 copies");

    // The shadow now takes 400 ms; each client leaves right after its response headers.
    shadow.set_behaviour(Behaviour {
        delay: Duration::from_millis(400),
        ..Behaviour::default()
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        slowest = slowest.max(predict_then_leave(envoy.listener_port, "pr-fraud-detection=xgb"));
    }
    let totals = settled(&envoy, 85);
    println!("20 clients gone before the shadow answered (slowest response headers {slowest:?}): {totals:?}");
    assert!(
        slowest < Duration::from_millis(300),
        "a client waited for the shadow: {slowest:?}"
    );
    assert_eq!(
        totals,
        vec![("copied".to_string(), 85), ("agree".to_string(), 85)]
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
    for fault in shadow::faults() {
        let (case, expected) = (fault.name, fault.outcome);
        let port = shadow::port_for(&fault, &shadow);
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

/// contract "Shadow comparison", in Envoy: `percent` of the eligible requests are copied (chi-square),
/// forced and feedback requests never are, a request past 1 MiB is skipped and still answered, and
/// `max_in_flight` caps the copies outstanding on a worker (one worker here, so the cap is exact).
#[test]
fn percent_holds_forced_and_feedback_are_never_copied_a_2_mib_request_is_skipped_and_max_in_flight_caps() {
    let upstreams = seed_upstreams();
    let shadow_server = PredictorServer::start("rf-v2");
    let mut c = shadow::plugin_config(json!({"percent": 30}));
    c["experiments"][0]["adaptive"] = json!({"policy": "thompson", "reward": "feedback",
        "feedback_path": predictor_router_e2e::scenario::feedback_path()});
    let envoy = gateway(&c, &upstreams, shadow_server.port);
    let mut client = HttpClient::new(envoy.listener_port);
    let n = 1000u64;
    for i in 0..n {
        let cookie = ["pr-fraud-detection=xgb", "pr-fraud-detection=rf"][i as usize % 2];
        let response = client
            .send(&Request::predict(predict_path()).header("cookie", cookie))
            .expect("a response");
        assert_eq!(response.status, 200);
    }
    let sampled = settled(&envoy, 1);
    let copied = measure(&sampled, "copied");
    let statistic = chi_square(&[copied, n - copied], &[0.3, 0.7]);
    println!("percent 30: {copied} of {n} copied, chi-square {statistic:.2}");
    assert!(statistic < chi_square_critical_p001(1), "{copied} of {n} at 30 %");
    let sampled = settled(&envoy, copied);
    assert_eq!(measure(&sampled, "agree"), copied, "{sampled:?}");
    assert_eq!(shadow_server.received().len() as u64, copied);

    // Forced (the override header) and feedback requests: none copied, all answered.
    for _ in 0..50 {
        let forced = client
            .send(&Request::predict(predict_path()).header("x-predictor-override", "rf"))
            .expect("a response");
        assert_eq!(forced.served_by(), Some("rf"));
        let feedback = client
            .send(
                &Request::predict(predictor_router_e2e::scenario::feedback_path())
                    .header("cookie", "pr-fraud-detection=xgb"),
            )
            .expect("a response");
        assert_eq!(feedback.status, 200);
    }
    let after = shadow::totals(&envoy);
    assert_eq!(measure(&after, "copied"), copied, "{after:?}");

    // A 2 MiB prediction: sampled (percent 100 now), skipped, answered untouched by the predictor.
    let mut all = c.clone();
    all["experiments"][0]["shadow"]["percent"] = json!(100);
    let mut envoy = envoy;
    envoy.update_plugin_config(&all);
    let mut big = Request::predict(predict_path()).header("cookie", "pr-fraud-detection=xgb");
    let row = "0.5,".repeat(2 * 1024 * 1024 / 4);
    big.body = format!(r#"{{"data":{{"ndarray":[[{}1.0]]}}}}"#, row).into_bytes();
    let response = client.send(&big).expect("a response");
    assert_eq!((response.status, response.served_by()), (200, Some("xgb")));
    let big_seen = upstreams[0]
        .received()
        .iter()
        .any(|r| r.header("content-length") == Some(big.body.len().to_string().as_bytes()));
    assert!(big_seen, "the predictor received the whole 2 MiB request");
    let after = settled(&envoy, copied + 1);
    println!("after 50 forced, 50 feedback and one 2 MiB request: {after:?}");
    assert_eq!(measure(&after, "copied"), copied + 1);
    assert_eq!(measure(&after, "skipped"), 1);
    assert_eq!(shadow_server.received().len() as u64, copied);
    envoy.assert_no_wasm_errors();

    // max_in_flight 3 on one worker, the shadow taking 1 s: of 12 quick predictions 3 are sent, 9
    // skipped; once they are answered the next 3 go out again.
    let slow = PredictorServer::start("rf-v2");
    slow.set_behaviour(Behaviour {
        delay: Duration::from_millis(1000),
        ..Behaviour::default()
    });
    let capped = shadow::plugin_config(json!({"max_in_flight": 3, "timeout_ms": 3000}));
    let envoy = shadow::gateway(&capped, &upstreams, slow.port, 1);
    let mut client = HttpClient::new(envoy.listener_port);
    let quick = |client: &mut HttpClient| {
        for _ in 0..12 {
            let r = client
                .send(&Request::predict(predict_path()).header("cookie", "pr-fraud-detection=rf"))
                .expect("a response");
            assert_eq!(r.status, 200);
        }
    };
    let started = Instant::now();
    quick(&mut client);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let first = settled(&envoy, 12);
    println!("max_in_flight 3, 12 predictions: {first:?}");
    assert_eq!(measure(&first, "agree"), 3, "{first:?}");
    assert_eq!(measure(&first, "skipped"), 9, "{first:?}");
    quick(&mut client);
    let second = settled(&envoy, 24);
    assert_eq!(
        (measure(&second, "agree"), measure(&second, "skipped")),
        (6, 18),
        "{second:?}"
    );
    assert_eq!(slow.received().len(), 6);
    envoy.assert_no_wasm_errors();
}

/// The copy's path is what Envoy's own `prefix_rewrite` makes of the same path (the VirtualService's
/// `rewrite.uri` for the served predictors): a plain replacement, no slash added or removed where the
/// two prefixes meet, the query kept. Each case is a route of a real Envoy; the upstream reports the
/// path it received.
#[test]
fn the_copys_path_is_what_envoys_prefix_rewrite_makes_of_the_same_path() {
    use predictor_router::router::shadow::path::shadow_path;
    use predictor_router_e2e::bootstrap::cluster_name;
    use predictor_router_e2e::envoy::EnvoyOptions;
    // (match prefix, rewrite, request path); distinct first segments, so each request meets its route.
    let cases = [
        (
            "/a/default/fraud-detection/",
            "/",
            "/a/default/fraud-detection/api/v1.0/predictions?x=1",
        ),
        ("/b/default/x", "/m/", "/b/default/x/api/v1.0/predictions"),
        (
            "/c/default/fraud-detection/",
            "/v2",
            "/c/default/fraud-detection/api/v1.0/predictions",
        ),
        (
            "/d/models/fraud-detection",
            "/v1/models/rf-v2",
            "/d/models/fraud-detection:predict",
        ),
        ("/e/", "/e2/", "/e/"),
        ("/f", "/", "/f/g"),
    ];
    let upstream = PredictorServer::start("xgb");
    let routes = cases
        .iter()
        .map(|(prefix, rewrite, _)| {
            json!({"match": {"prefix": prefix}, "route": {"cluster": cluster_name("xgb"), "prefix_rewrite": rewrite}})
        })
        .collect();
    let mut options = EnvoyOptions::new(config(1000), vec![("xgb".into(), upstream.port)]);
    options.routes = Some(routes);
    let envoy = Envoy::start(options).unwrap_or_else(|f| panic!("Envoy did not start:\n{}", f.log));
    let mut client = HttpClient::new(envoy.listener_port);
    for (prefix, rewrite, path) in cases {
        upstream.clear_received();
        let response = client.send(&Request::get(path)).expect("an answer");
        assert_eq!(response.status, 200, "{path}");
        let received = upstream.received();
        let by_envoy = &received.last().expect("the upstream received it").path;
        let ours = shadow_path(path, prefix, rewrite).expect("the path starts with the prefix");
        assert_eq!(&ours, by_envoy, "{path} under {prefix} → {rewrite}");
        println!("{path:<55} {prefix} → {rewrite}: Envoy and the copy both {ours}");
    }
}
