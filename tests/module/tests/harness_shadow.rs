//! Shadow comparison through the compiled module in wasm-test-harness (contract "Shadow comparison"): the
//! copy goes out from the root context (woken through the worker's own queue) while the client's
//! stream is still running, carries the method, the rewritten path, `content-type` and the body; the
//! client's request and answer are untouched; every copy ends in exactly one outcome, also when the
//! client's stream is long gone; `max_in_flight`, the 1 MiB limit, forced and feedback requests. The
//! harness clock is the only clock: no test sleeps.

use predictor_router_module_tests::module::module_bytes;
use serde_json::{json, Value};
use wasm_test_harness::{Host, LogLevel, Upstream};

const PATH: &str = "/seldon/default/fraud-detection/api/v1.0/predictions";
const CLUSTER: &str = "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local";
const MS: u64 = 1_000_000;
const REQUEST: &str = r#"{"data":{"ndarray":[[1.0,2.0,3.0],[4.0,5.0,6.0]]}}"#;
/// What the served predictor answers: class 0 then class 1.
const SERVED: &str = r#"{"data":{"names":["t:0","t:1"],"ndarray":[[0.9,0.1],[0.2,0.8]]},"meta":{}}"#;
/// Same classes, largest difference 0.25.
const SHADOW_AGREES: &str = r#"{"data":{"names":["t:0","t:1"],"ndarray":[[0.65,0.35],[0.2,0.8]]},"meta":{}}"#;
/// Row 2 flips to class 0.
const SHADOW_DISAGREES: &str = r#"{"data":{"ndarray":[[0.9,0.1],[0.6,0.4]]}}"#;

fn config(shadow: Value) -> Value {
    let mut block = json!({
        "name": "rf-v2", "cluster": CLUSTER,
        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
        "percent": 100, "timeout_ms": 500
    });
    for (k, v) in shadow.as_object().into_iter().flatten() {
        block[k] = v.clone();
    }
    json!({"experiments": [{
        "name": "fraud-detection",
        "match": {"path_prefix": "/seldon/default/fraud-detection/"},
        "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
        "shadow": block
    }]})
}

fn start(config: &Value) -> Host {
    Host::new(module_bytes())
        .with_config(config.to_string())
        .log_level(LogLevel::Debug)
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A `POST` of the request body by a user whose cookie says xgb, to be completed by the caller.
fn xgb_user_posts(host: &mut Host) -> wasm_test_harness::RequestBuilder<'_> {
    host.request()
        .method("POST")
        .path(PATH)
        .header("cookie", "pr-fraud-detection=xgb")
        .body(REQUEST)
}

fn predict(host: &mut Host, predictor: &str) -> wasm_test_harness::Exchange {
    host.request()
        .method("POST")
        .path(PATH)
        .header("content-type", "application/json")
        .header(
            "cookie",
            format!("pr-fraud-detection={predictor}; session=s3cret"),
        )
        .body(REQUEST)
        .upstream_body(SERVED)
        .send()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every shadow counter of one served predictor, flushed (the counts are batched until the tick).
fn shadow_counts(host: &mut Host, served: &str) -> Vec<(String, u64)> {
    host.tick().unwrap_or_else(|e| panic!("{e}"));
    let prefix = format!("predictor_router.fraud-detection.{served}.shadow.rf-v2.");
    host.counters()
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// xgb's pairs' outcomes (after a tick): agree, disagree, failed, timeout, skipped.
fn pair_outcomes(host: &mut Host) -> Vec<(String, u64)> {
    shadow_counts(host, "xgb")
        .into_iter()
        .filter(|(k, _)| ["agree", "disagree", "failed", "timeout", "skipped"].contains(&k.as_str()))
        .collect()
}

/// xgb's shadow counters (after a tick) are exactly `pairs`, the others 0.
fn assert_shadow_counts(host: &mut Host, pairs: &[(&str, u64)]) {
    assert_eq!(shadow_counts(host, "xgb"), counts(pairs));
}

fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    v.sort();
    v
}

#[test]
fn a_copy_goes_out_from_the_root_once_the_clients_stream_is_over_and_is_compared_then() {
    let mut host = start(&config(json!({})));
    host.upstream(CLUSTER, Upstream::respond(200, SHADOW_AGREES).after_ms(40));
    let exchange = predict(&mut host, "xgb");

    // The copy left from the root context (the harness, like the SDK, drops an answer to a stream
    // that has ended), through on_queue_ready, once the client's stream was deleted: nothing of the
    // callout runs on the worker before the client has its answer.
    let callouts = host.callouts();
    assert_eq!(callouts.len(), 1, "{callouts:?}");
    let copy = &callouts[0];
    assert!(!copy.from_stream, "the root context sends the copy");
    assert_eq!(copy.upstream, CLUSTER);
    assert_eq!(copy.headers.get_str(":method").as_deref(), Some("POST"));
    assert_eq!(
        copy.headers.get_str(":path").as_deref(),
        Some("/api/v1.0/predictions")
    );
    assert_eq!(
        copy.headers.get_str(":authority").as_deref(),
        Some("fraud-detection-rf-v2.default.svc.cluster.local:8000")
    );
    assert_eq!(
        copy.headers.get_str("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        copy.headers.get_str("cookie"),
        None,
        "nothing else of the request"
    );
    assert_eq!(copy.body, REQUEST.as_bytes());
    assert_eq!(copy.timeout_ms, 500);
    let callbacks = exchange.fuel.callbacks();
    let at = |name: &str| callbacks.iter().position(|c| *c == name);
    assert!(
        at("proxy_on_queue_ready") > at("proxy_on_delete") && at("proxy_on_delete").is_some(),
        "{callbacks:?}"
    );

    // The client's stream is over; the shadow answers 40 ms later and the pair is compared.
    assert_eq!(exchange.status(), 200);
    assert_eq!(exchange.response_body, SERVED.as_bytes());
    assert_shadow_counts(&mut host, &[("copied", 1)]);
    host.advance_clock(40 * MS);
    assert_eq!(host.deliver_callouts().unwrap_or_else(|e| panic!("{e}")), 1);
    assert_shadow_counts(
        &mut host,
        &[
            ("copied", 1),
            ("agree", 1),
            ("abs_diff_milli", 250),
            ("latency_ms", 40),
        ],
    );

    // A disagreement on another served predictor's counters.
    host.upstream(CLUSTER, Upstream::respond(200, SHADOW_DISAGREES));
    predict(&mut host, "rf");
    host.deliver_callouts().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        shadow_counts(&mut host, "rf"),
        counts(&[("copied", 1), ("disagree", 1), ("abs_diff_milli", 400)])
    );
    assert!(
        host.logs_at_least(LogLevel::Warn).is_empty(),
        "{:?}",
        host.logs_at_least(LogLevel::Warn)
    );
}

#[test]
fn the_clients_request_and_answer_are_the_same_with_and_without_the_shadow() {
    let plain = {
        let mut c = config(json!({}));
        c["experiments"][0].as_object_mut().unwrap().remove("shadow");
        c
    };
    let mut without = start(&plain);
    let mut with = start(&config(json!({})));
    with.upstream(CLUSTER, Upstream::Silent);
    for predictor in ["xgb", "rf"] {
        let a = predict(&mut without, predictor);
        let b = predict(&mut with, predictor);
        assert_eq!(a.upstream_request, b.upstream_request, "the request upstream");
        assert_eq!(a.response_headers, b.response_headers, "the answer's headers");
        assert_eq!(a.response_body, b.response_body);
        assert_eq!(
            (b.request_action, b.response_action),
            (a.request_action, a.response_action)
        );
        assert_eq!(b.local_response, None);
    }
}

#[test]
fn every_copy_ends_in_exactly_one_outcome() {
    let cases: Vec<(&str, Upstream, u16, u64, &str)> = vec![
        ("agree", Upstream::respond(200, SHADOW_AGREES), 200, 0, "agree"),
        ("500", Upstream::respond(500, "boom"), 200, 0, "failed"),
        (
            "garbage",
            Upstream::respond(200, "\u{0}not json"),
            200,
            0,
            "failed",
        ),
        (
            "other shape",
            Upstream::respond(200, r#"{"data":{"ndarray":[[0.5,0.5]]}}"#),
            200,
            0,
            "failed",
        ),
        ("refused", Upstream::Fail, 200, 0, "failed"),
        ("silent", Upstream::Silent, 200, 500, "timeout"),
        (
            "too slow",
            Upstream::respond(200, SHADOW_AGREES).after_ms(900),
            200,
            500,
            "timeout",
        ),
        (
            "client got a 503",
            Upstream::respond(200, SHADOW_AGREES),
            503,
            0,
            "skipped",
        ),
    ];
    for (case, upstream, served_status, wait_ms, expected) in cases {
        let mut host = start(&config(json!({})));
        host.upstream(CLUSTER, upstream);
        let exchange = xgb_user_posts(&mut host)
            .upstream_status(served_status)
            .upstream_body(SERVED)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exchange.status(), served_status, "{case}");
        host.advance_clock(wait_ms * MS);
        host.deliver_callouts().unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(pair_outcomes(&mut host), counts(&[(expected, 1)]), "{case}");
        assert!(host.callouts().is_empty(), "{case}: nothing left outstanding");
    }
}

#[test]
fn max_in_flight_caps_the_copies_outstanding_on_a_worker() {
    let mut host = start(&config(json!({"max_in_flight": 2})));
    host.upstream(CLUSTER, Upstream::Silent);
    for _ in 0..5 {
        assert_eq!(predict(&mut host, "xgb").status(), 200);
    }
    assert_eq!(host.callouts().len(), 2);
    assert_shadow_counts(&mut host, &[("copied", 5), ("skipped", 3)]);
    // The two time out; the cap frees and the next copy goes out.
    host.advance_clock(500 * MS);
    host.deliver_callouts().unwrap_or_else(|e| panic!("{e}"));
    predict(&mut host, "xgb");
    assert_eq!(host.callouts().len(), 1);
    assert_shadow_counts(&mut host, &[("copied", 6), ("skipped", 3), ("timeout", 2)]);
}

#[test]
fn a_request_over_one_mebibyte_is_skipped_and_still_answered_untouched() {
    let mut host = start(&config(json!({})));
    host.upstream(CLUSTER, Upstream::respond(200, SHADOW_AGREES));
    let big = format!(r#"{{"data":{{"ndarray":[[{}0]]}}}}"#, "1,".repeat(1024 * 1024));
    let exchange = host
        .request()
        .method("POST")
        .path(PATH)
        .header("cookie", "pr-fraud-detection=xgb")
        .body(&big)
        .upstream_body(SERVED)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.status(), 200);
    assert_eq!(exchange.response_body, SERVED.as_bytes());
    assert!(host.callouts().is_empty(), "not sent");
    assert_shadow_counts(&mut host, &[("copied", 1), ("skipped", 1)]);
}

#[test]
fn forced_and_feedback_requests_are_never_copied_and_percent_samples() {
    let mut c = config(json!({"percent": 100}));
    c["experiments"][0]["override"] = json!({"header": "x-predictor-override"});
    c["experiments"][0]["adaptive"] = json!({"policy": "thompson", "reward": "feedback",
        "feedback_path": "/seldon/default/fraud-detection/api/v1.0/feedback"});
    let mut host = start(&c);
    host.upstream(CLUSTER, Upstream::Silent);
    for _ in 0..20 {
        host.request()
            .method("POST")
            .path(PATH)
            .header("x-predictor-override", "rf")
            .body(REQUEST)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        host.request()
            .method("POST")
            .path("/seldon/default/fraud-detection/api/v1.0/feedback")
            .header("cookie", "pr-fraud-detection=rf")
            .body(r#"{"reward": 1}"#)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(host.callouts().is_empty());
    assert_eq!(shadow_counts(&mut host, "rf"), Vec::new());

    // percent 25 over 4,000 sampled-eligible requests: within 5 standard deviations of 1,000.
    let mut host = start(&config(json!({"percent": 25, "max_in_flight": 10000})));
    host.upstream(CLUSTER, Upstream::Silent);
    for _ in 0..4000 {
        predict(&mut host, "xgb");
    }
    let copied = host.callouts().len() as f64;
    let sd = (4000.0_f64 * 0.25 * 0.75).sqrt();
    assert!(
        (copied - 1000.0).abs() < 5.0 * sd,
        "copied {copied} of 4000 at 25 %"
    );
}

/// Envoy deletes the root context of a replaced configuration and cancels the callouts it owns (no
/// answer ever comes): a copy out at that moment is finished then, as `skipped`, exactly once; copies
/// of the new configuration go out from the new root and are compared.
#[test]
fn a_copy_cut_off_by_a_configuration_update_is_skipped_once_and_the_next_is_compared() {
    let mut host = start(&config(json!({})));
    host.upstream(CLUSTER, Upstream::respond(200, SHADOW_AGREES).after_ms(10));
    predict(&mut host, "xgb");
    let mut next = config(json!({"percent": 100}));
    next["experiments"][0]["predictors"][0]["weight"] = json!(10);
    host.reconfigure(next.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_shadow_counts(&mut host, &[("copied", 1), ("skipped", 1)]);
    host.advance_clock(10 * MS);
    host.deliver_callouts().unwrap_or_else(|e| panic!("{e}"));
    predict(&mut host, "xgb");
    assert!(host.callouts().iter().all(|c| !c.from_stream));
    host.advance_clock(10 * MS);
    host.deliver_callouts().unwrap_or_else(|e| panic!("{e}"));
    assert_shadow_counts(
        &mut host,
        &[
            ("copied", 2),
            ("skipped", 1),
            ("agree", 1),
            ("abs_diff_milli", 250),
            ("latency_ms", 10),
        ],
    );
}

/// The compiled module reads the Open Inference Protocol and KServe v1: a well-formed shadow answer is
/// compared, every malformed one (a wrong shape, a count other than the shape's, a missing output
/// name, strings beside numbers, garbage) ends as `failed`, and the client's answer is the served one,
/// untouched.
#[test]
fn malformed_answers_of_every_protocol_are_failed_and_the_client_sees_nothing() {
    let oip = |shape: &str, datatype: &str, data: &str| {
        format!(
            r#"{{"model_name":"m","outputs":[{{"name":"predict_proba","shape":{shape},"datatype":"{datatype}","data":{data}}}]}}"#
        )
    };
    let served_oip = oip("[2,2]", "FP32", "[0.9,0.1,0.2,0.8]");
    let labels = |data: &str, datatype: &str| {
        format!(r#"{{"outputs":[{{"name":"predict","shape":[2],"datatype":"{datatype}","data":{data}}}]}}"#)
    };
    let served_kserve = r#"{"predictions":[[0.9,0.1],[0.2,0.8]]}"#.to_string();
    // A case whose served answer is `served_oip`, compared with `compare: oip`.
    let served_by_oip = |name, shadow, outcome| {
        (
            name,
            json!({"compare": "oip"}),
            served_oip.clone(),
            shadow,
            outcome,
        )
    };
    let cases: Vec<(&str, Value, String, String, &str)> = vec![
        served_by_oip(
            "oip agree",
            oip("[2,2]", "FP64", "[[0.7,0.3],[0.1,0.9]]"),
            "agree",
        ),
        served_by_oip(
            "oip disagree",
            oip("[2,2]", "FP32", "[0.9,0.1,0.6,0.4]"),
            "disagree",
        ),
        served_by_oip("oip wrong shape", oip("[1,2]", "FP32", "[0.9,0.1]"), "failed"),
        served_by_oip(
            "oip count is not the shape's",
            oip("[2,2]", "FP32", "[0.9,0.1,0.2]"),
            "failed",
        ),
        (
            "oip no output of that name",
            json!({"compare": "oip", "output": "probabilities"}),
            oip("[2,2]", "FP32", "[0.9,0.1,0.2,0.8]").replace("predict_proba", "probabilities"),
            served_oip.clone(),
            "failed",
        ),
        (
            "oip BYTES beside numbers",
            json!({"compare": "oip", "output": "predict"}),
            labels("[1,0]", "INT64"),
            labels(r#"["1","0"]"#, "BYTES"),
            "failed",
        ),
        (
            "oip labels agree",
            json!({"compare": "oip", "output": "predict"}),
            labels("[1,0]", "INT64"),
            labels("[1.0,0.0]", "FP64"),
            "agree",
        ),
        served_by_oip("oip garbage", "\u{0}garbage".to_string(), "failed"),
        (
            "kserve_v1 agree",
            json!({"compare": "kserve_v1"}),
            served_kserve.clone(),
            r#"{"predictions":[[0.6,0.4],[0.3,0.7]]}"#.to_string(),
            "agree",
        ),
        (
            "kserve_v1 other row count",
            json!({"compare": "kserve_v1"}),
            served_kserve.clone(),
            r#"{"predictions":[[0.6,0.4]]}"#.to_string(),
            "failed",
        ),
        (
            "kserve_v1 strings beside numbers",
            json!({"compare": "kserve_v1"}),
            r#"{"predictions":[1,0]}"#.to_string(),
            r#"{"predictions":["1","0"]}"#.to_string(),
            "failed",
        ),
        (
            "kserve_v1 an OIP answer",
            json!({"compare": "kserve_v1"}),
            served_kserve.clone(),
            served_oip.clone(),
            "failed",
        ),
    ];
    for (case, shadow, served, answer, expected) in cases {
        let mut host = start(&config(shadow));
        host.upstream(CLUSTER, Upstream::respond(200, &answer));
        let exchange = xgb_user_posts(&mut host)
            .upstream_body(&served)
            .send()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(exchange.status(), 200, "{case}");
        assert_eq!(
            exchange.response_body,
            served.as_bytes(),
            "{case}: the client's answer untouched"
        );
        host.deliver_callouts().unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(pair_outcomes(&mut host), counts(&[(expected, 1)]), "{case}");
    }
}
