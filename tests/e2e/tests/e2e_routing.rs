//! Every routing behaviour of the contract through a real Envoy (V8) running the compiled module, with
//! predictor upstreams on 127.0.0.1. The configuration is the shipped one (envoyfilter/base/wasmplugin.yaml),
//! patched where a test needs other weights.

use predictor_router::router::bucketing::{user_bucket, BucketTable};
use predictor_router_e2e::gateway::Gateway;
use predictor_router_e2e::http::{HttpClient, Request, Response};
use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::scenario::seed_plugin_config;
use predictor_router_e2e::stats::{chi_square, chi_square_critical_p001};
use predictor_router_e2e::upstream::Behaviour;
use serde_json::{json, Value};

fn with_predictors(predictors: Value) -> Value {
    let mut config = seed_plugin_config();
    config["experiments"][0]["predictors"] = predictors;
    config
}

fn send(client: &mut HttpClient, request: &Request) -> Response {
    let response = client.send(request).expect("request through Envoy");
    assert_eq!(response.status, 200, "unexpected response: {response:?}");
    response
}

fn served(response: &Response) -> String {
    response
        .served_by()
        .expect("x-served-by from the upstream")
        .to_string()
}

fn cookie_for(predictor: &str) -> String {
    format!("pr-fraud-detection={predictor}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax")
}

#[test]
fn random_split_follows_the_weights_and_every_layer_agrees() {
    let gw = Gateway::start(with_predictors(
        json!([{"name": "xgb", "weight": 70}, {"name": "rf", "weight": 30}]),
    ));
    let mut client = gw.client();
    let n = 2000u64;
    let mut counts = [0u64; 2];
    for _ in 0..n {
        let r = send(&mut client, &Request::predict(predict_path()));
        let predictor = served(&r);
        // The upstream that answered, the response header and the cookie all name the same predictor.
        assert_eq!(r.header("x-predictor"), Some(predictor.as_str()));
        assert_eq!(
            r.headers_named("set-cookie"),
            vec![cookie_for(&predictor).as_str()]
        );
        counts[usize::from(predictor == "rf")] += 1;
    }
    let chi2 = chi_square(&counts, &[70.0, 30.0]);
    assert!(
        chi2 < chi_square_critical_p001(1),
        "split {counts:?} of {n} vs 70/30: chi2 = {chi2:.2}"
    );
    let c = gw.envoy.counters();
    assert_eq!(
        c["predictor_router.fraud-detection.xgb.decision.random"],
        counts[0]
    );
    assert_eq!(
        c["predictor_router.fraud-detection.rf.decision.random"],
        counts[1]
    );
    assert_eq!(c["predictor_router.fraud-detection.xgb.response.2xx"], counts[0]);
    assert_eq!(c["predictor_router.fraud-detection.rf.response.2xx"], counts[1]);
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn sticky_cookie_keeps_returning_visitors_and_is_set_only_for_new_assignments() {
    let gw = Gateway::start(seed_plugin_config());
    let mut client = gw.client();
    let visitors = 200;
    for _ in 0..visitors {
        let first = send(&mut client, &Request::predict(predict_path()));
        let assigned = served(&first);
        let set_cookie = first.headers_named("set-cookie");
        assert_eq!(set_cookie, vec![cookie_for(&assigned).as_str()]);
        let jar = set_cookie[0].split(';').next().unwrap().to_string();
        for _ in 0..3 {
            let again = send(
                &mut client,
                &Request::predict(predict_path()).header("cookie", format!("session=1; {jar}")),
            );
            assert_eq!(served(&again), assigned, "a returning visitor moved");
            assert!(
                again.headers_named("set-cookie").is_empty(),
                "sticky requests get no new cookie"
            );
        }
    }
    let c = gw.envoy.counters();
    let sticky = c
        .get("predictor_router.fraud-detection.xgb.decision.sticky")
        .copied()
        .unwrap_or(0)
        + c.get("predictor_router.fraud-detection.rf.decision.sticky")
            .copied()
            .unwrap_or(0);
    assert_eq!(sticky, 3 * visitors);
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn cookie_of_a_weight_zero_predictor_is_reassigned() {
    let gw = Gateway::start(with_predictors(
        json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 0}]),
    ));
    let mut client = gw.client();
    let r = send(
        &mut client,
        &Request::predict(predict_path()).header("cookie", "pr-fraud-detection=rf"),
    );
    assert_eq!(served(&r), "xgb", "rf has weight 0: its cookie no longer holds");
    assert_eq!(r.headers_named("set-cookie"), vec![cookie_for("xgb").as_str()]);
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn hashed_assignment_matches_the_offline_formula_on_every_replica_and_worker() {
    let config = seed_plugin_config();
    let gw_one_worker = Gateway::start(config.clone());
    let gw_two_workers = Gateway::start_with_workers(config, 2);
    let table = BucketTable::new([50u32, 50].into_iter());
    let names = ["xgb", "rf"];
    let mut a = gw_one_worker.client();
    for user in 0..300 {
        let id = format!("customer-{user}");
        let expected = names[table
            .predictor_of(user_bucket("fraud-detection", id.as_bytes()))
            .index()];
        // A fresh connection per request on the two-worker Envoy spreads requests over both workers.
        for _ in 0..2 {
            let r = send(&mut a, &Request::predict(predict_path()).header("x-user-id", &id));
            assert_eq!(served(&r), expected, "replica 1, user {id}");
            let r = send(
                &mut gw_two_workers.client(),
                &Request::predict(predict_path()).header("x-user-id", &id),
            );
            assert_eq!(served(&r), expected, "replica 2, user {id}");
            assert_eq!(r.headers_named("set-cookie"), vec![cookie_for(expected).as_str()]);
        }
    }
    let hashed: u64 = gw_two_workers
        .envoy
        .counters()
        .iter()
        .filter(|(k, _)| k.ends_with(".decision.hashed"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(hashed, 600, "counters of both workers add up");
    gw_one_worker.envoy.assert_no_wasm_errors();
    gw_two_workers.envoy.assert_no_wasm_errors();
}

#[test]
fn override_by_header_or_query_forces_any_predictor_and_sets_no_cookie() {
    let gw = Gateway::start(with_predictors(json!([
        {"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}, {"name": "shadow", "weight": 0}
    ])));
    let mut client = gw.client();
    for target in ["xgb", "rf", "shadow"] {
        for _ in 0..20 {
            let by_header = send(
                &mut client,
                &Request::predict(predict_path())
                    .header("x-predictor-override", target)
                    .header("cookie", "pr-fraud-detection=xgb"),
            );
            assert_eq!(served(&by_header), target);
            assert!(by_header.headers_named("set-cookie").is_empty());
            let by_query = send(
                &mut client,
                &Request::predict(&format!("{}?predictor={target}", predict_path())),
            );
            assert_eq!(served(&by_query), target);
        }
    }
    // Unknown names force nothing and are counted once per request.
    for _ in 0..7 {
        let r = send(
            &mut client,
            &Request::predict(&format!("{}?predictor=nope", predict_path()))
                .header("x-predictor-override", "RF"),
        );
        assert_ne!(served(&r), "shadow");
    }
    let c = gw.envoy.counters();
    assert_eq!(c["predictor_router.fraud-detection.shadow.decision.forced"], 40);
    assert_eq!(c["predictor_router.fraud-detection.override_rejected"], 7);
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn clients_cannot_route_themselves_with_the_routing_header() {
    let gw = Gateway::start(seed_plugin_config());
    let mut client = gw.client();
    // customer-1 hashes to one predictor; the spoofed header names the other.
    let table = BucketTable::new([50u32, 50].into_iter());
    let expected = ["xgb", "rf"][table
        .predictor_of(user_bucket("fraud-detection", b"customer-1"))
        .index()];
    let spoof = if expected == "xgb" { "rf" } else { "xgb" };
    for _ in 0..20 {
        let r = send(
            &mut client,
            &Request::predict(predict_path())
                .header("x-user-id", "customer-1")
                .header("x-predictor", spoof)
                .header("x-predictor", spoof),
        );
        assert_eq!(served(&r), expected);
    }
    let seen = gw.upstream(expected).received();
    assert_eq!(seen.len(), 20);
    for request in seen {
        let values: Vec<_> = request
            .headers
            .iter()
            .filter(|(k, _)| k == "x-predictor")
            .collect();
        assert_eq!(values.len(), 1, "exactly one routing header reaches the upstream");
        assert_eq!(values[0].1, expected.as_bytes());
    }
    assert!(gw.upstream(spoof).received().is_empty());
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn unmatched_requests_lose_the_routing_header_and_take_the_default_route() {
    let gw = Gateway::start(seed_plugin_config());
    let mut client = gw.client();
    for _ in 0..10 {
        let r = send(&mut client, &Request::get("/healthz").header("x-predictor", "rf"));
        assert_eq!(served(&r), "xgb", "the default route goes to the baseline");
        assert_eq!(
            r.header("x-predictor"),
            None,
            "no response header outside experiments"
        );
        assert!(r.headers_named("set-cookie").is_empty());
    }
    assert!(gw
        .upstream("xgb")
        .received()
        .iter()
        .all(|r| r.header("x-predictor").is_none()));
    assert!(gw.upstream("rf").received().is_empty());
    let c = gw.envoy.counters();
    assert_eq!(c["predictor_router.unmatched"], 10);
    assert!(!c.keys().any(|k| k.contains(".decision.")));
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn the_upstreams_own_set_cookie_is_kept() {
    let gw = Gateway::start(with_predictors(
        json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 0}]),
    ));
    gw.upstream("xgb").set_behaviour(Behaviour {
        status: 200,
        set_cookie: Some("session=abc; Path=/".into()),
        ..Default::default()
    });
    let r = send(&mut gw.client(), &Request::predict(predict_path()));
    assert_eq!(
        r.headers_named("set-cookie"),
        vec!["session=abc; Path=/", cookie_for("xgb").as_str()]
    );
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn responses_are_counted_by_class_including_envoys_local_replies() {
    let mut config = with_predictors(json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}]));
    config["experiments"][0]["response_header"] = json!("x-served-predictor");
    let gw = Gateway::start(config);
    gw.upstream("xgb").set_behaviour(Behaviour {
        status: 404,
        ..Default::default()
    });
    gw.upstream("rf").set_behaviour(Behaviour {
        status: 503,
        ..Default::default()
    });
    let mut client = gw.client();
    for _ in 0..5 {
        let r = client
            .send(&Request::predict(predict_path()).header("x-predictor-override", "xgb"))
            .unwrap();
        assert_eq!((r.status, r.header("x-served-predictor")), (404, Some("xgb")));
        let r = client
            .send(&Request::predict(predict_path()).header("x-predictor-override", "rf"))
            .unwrap();
        assert_eq!((r.status, r.header("x-served-predictor")), (503, Some("rf")));
    }
    let c = gw.envoy.counters();
    assert_eq!(c["predictor_router.fraud-detection.xgb.response.4xx"], 5);
    assert_eq!(c["predictor_router.fraud-detection.rf.response.5xx"], 5);

    // An upstream that is down: Envoy answers 503 itself, and that is counted too.
    let gw = {
        let upstreams = gw.upstreams;
        drop(gw.envoy);
        let dead = predictor_router_e2e::upstream::PredictorServer::start("rf");
        let dead_port = dead.port;
        drop(dead);
        let mut envoy_options = predictor_router_e2e::envoy::EnvoyOptions::new(
            with_predictors(json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}])),
            vec![("xgb".into(), upstreams[0].port), ("rf".into(), dead_port)],
        );
        envoy_options.concurrency = 1;
        predictor_router_e2e::envoy::Envoy::start(envoy_options).unwrap_or_else(|f| panic!("{}", f.log))
    };
    let mut client = HttpClient::new(gw.listener_port);
    let r = client
        .send(&Request::predict(predict_path()).header("x-predictor-override", "rf"))
        .unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("x-predictor"), Some("rf"));
    assert_eq!(gw.counter("predictor_router.fraud-detection.rf.response.5xx"), 1);
    gw.assert_no_wasm_errors();
}

#[test]
fn prometheus_labels_come_from_the_shipped_stats_tags() {
    let gw = Gateway::start(seed_plugin_config());
    let mut client = gw.client();
    send(
        &mut client,
        &Request::predict(predict_path()).header("x-predictor-override", "rf"),
    );
    send(
        &mut client,
        &Request::predict(&format!("{}?predictor=bogus", predict_path())).header("x-user-id", "u"),
    );
    send(&mut client, &Request::get("/elsewhere"));
    let lines = gw.envoy.prometheus();
    let has = |line: &str| lines.iter().any(|l| l == line);
    assert!(
        has(r#"predictor_router_decision{experiment="fraud-detection",predictor="rf",reason="forced"} 1"#),
        "{lines:#?}"
    );
    assert!(
        has(r#"predictor_router_response{experiment="fraud-detection",predictor="rf",class="2xx"} 1"#)
            || has(r#"predictor_router_response{experiment="fraud-detection",predictor="rf",class="2xx"} 2"#),
        "{lines:#?}"
    );
    assert!(
        has(r#"predictor_router_override_rejected{experiment="fraud-detection"} 1"#),
        "{lines:#?}"
    );
    assert!(has("predictor_router_unmatched{} 1"), "{lines:#?}");
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn hostile_requests_are_handled_without_a_trap() {
    let gw = Gateway::start(seed_plugin_config());
    let mut client = gw.client();
    let huge_cookie = format!("pr-fraud-detection={}", "x".repeat(50_000));
    // Envoy itself answers 431 beyond 100 headers (max_headers_count), before any filter runs.
    let many_lines: Vec<String> = (0..60)
        .map(|i| format!("c{i}=v{i}"))
        .chain(["pr-fraud-detection=rf".into()])
        .collect();
    let hostile: Vec<Request> = vec![
        Request::predict(predict_path()).header("cookie", &huge_cookie),
        Request::predict(predict_path()).header("cookie", b"pr-fraud-detection=\xff\xfe; a=\x80"),
        Request::predict(predict_path())
            .header("x-predictor-override", b"\xc3\x28")
            .header("x-user-id", b"\xff"),
        Request::predict(predict_path())
            .header("x-predictor-override", "")
            .header("x-user-id", "")
            .header("cookie", ""),
        Request::predict(predict_path())
            .header("cookie", "pr-fraud-detection=\"\"; ;;; =; ==; \"")
            .header("cookie", "pr-fraud-detection"),
        Request::predict(&format!("{}?predictor=%FF%FE&predictor=%&&&=%%%", predict_path())),
        Request::predict(&format!("{}?{}", predict_path(), "a=b&".repeat(2000))),
        Request::predict(predict_path()).header("x-user-id", "u".repeat(8000)),
        many_lines
            .iter()
            .fold(Request::predict(predict_path()), |r, line| {
                r.header("cookie", line)
            }),
        Request::predict(predict_path()).header("host", "MODELS.EXAMPLE.COM:99999"),
        Request::predict(predict_path()).header("host", "[::1]:80"),
    ];
    for request in &hostile {
        let r = client.send(request).expect("Envoy answers");
        assert_eq!(
            r.status,
            200,
            "for {:?}",
            request
                .headers
                .iter()
                .map(|(k, v)| (k, v.len()))
                .collect::<Vec<_>>()
        );
        assert!(r.served_by().is_some());
    }
    // Still serving normally afterwards, on every worker.
    for _ in 0..20 {
        send(&mut gw.client(), &Request::predict(predict_path()));
    }
    gw.envoy.assert_no_wasm_errors();
}
