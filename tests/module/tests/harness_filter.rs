//! The compiled module (dist/predictor_router.wasm) through wasm-test-harness: every contract behaviour once
//! more, deterministic and fast, plus what only a host can see (traps, fuel, memory, route cache).

use predictor_router::router::bucketing::{user_bucket, BucketTable};
use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::scenario::seed_plugin_config;
use predictor_router_e2e::stats::{chi_square, chi_square_critical_p001};
use predictor_router_module_tests::module::module_bytes;
use predictor_router_module_tests::request_mix::linear_memory;
use serde_json::{json, Value};
use wasm_test_harness::{
    module_exports, module_imports, Exchange, Host, LogLevel, StartError, IMPORTS, WASI_IMPORTS, WASI_MODULE,
};

fn config_with(predictors: Value) -> Value {
    let mut config = seed_plugin_config();
    config["experiments"][0]["predictors"] = predictors;
    config
}

fn host(config: &Value) -> Host {
    Host::new(module_bytes())
        .with_config(config.to_string())
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn predict(host: &mut Host) -> wasm_test_harness::RequestBuilder<'_> {
    host.request()
        .method("POST")
        .path(predict_path())
        .body(r#"{"data":{"ndarray":[[1,2,3]]}}"#)
}

fn routed(e: &Exchange) -> String {
    e.upstream_header("x-predictor")
        .expect("the routing header reaches the upstream")
}

#[test]
fn every_import_of_the_module_is_implemented() {
    assert_eq!(
        IMPORTS.len(),
        37,
        "every import proxy-wasm-rust-sdk 0.2.5 can declare"
    );
    let imports = module_imports(module_bytes()).unwrap();
    assert!(!imports.is_empty());
    for import in &imports {
        // The proxy-wasm ABI, and WASI's environment calls (signed overrides' keys), which Envoy offers.
        let implemented = match import.split_once('.') {
            Some(("env", name)) => IMPORTS.contains(&name),
            Some((WASI_MODULE, name)) => WASI_IMPORTS.contains(&name),
            _ => false,
        };
        assert!(implemented, "{import} is not implemented by the harness");
    }
}

#[test]
fn the_module_exports_only_the_callbacks_it_uses() {
    // Envoy enters V8 for every exported callback; `make build` strips the SDK's unused ones.
    let kept: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../../src/host/kept-exports.json")).unwrap();
    let mut expected: Vec<String> = kept
        .iter()
        .map(|k| k["export"].as_str().unwrap().to_string())
        .collect();
    let mut exports = module_exports(module_bytes()).unwrap();
    expected.sort();
    exports.sort();
    assert_eq!(
        exports, expected,
        "dist/predictor_router.wasm was not stripped by `make build` (binaryen missing?)"
    );
    let e = Host::new(module_bytes())
        .with_config(seed_plugin_config().to_string())
        .start()
        .unwrap()
        .request()
        .path(predict_path())
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(
        e.fuel.callbacks(),
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_request_body",
            "proxy_on_response_headers",
            "proxy_on_delete"
        ],
        "four entries into the VM per request, and one per request body chunk (feedback bodies of \
         adaptive experiments are copied as they pass); none per response body"
    );
}

#[test]
fn random_split_follows_the_weights() {
    let mut host = host(&config_with(
        json!([{"name": "xgb", "weight": 80}, {"name": "rf", "weight": 20}]),
    ));
    let mut counts = [0u64; 2];
    for _ in 0..10_000 {
        let e = predict(&mut host).send().unwrap();
        counts[usize::from(routed(&e) == "rf")] += 1;
    }
    let chi2 = chi_square(&counts, &[80.0, 20.0]);
    assert!(chi2 < chi_square_critical_p001(1), "{counts:?}: chi2 {chi2}");
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(
        host.counter("predictor_router.fraud-detection.xgb.decision.random"),
        counts[0]
    );
    assert_eq!(
        host.counter("predictor_router.fraud-detection.rf.decision.random"),
        counts[1]
    );
}

#[test]
fn hashed_assignments_match_the_independent_vectors() {
    #[derive(serde::Deserialize)]
    struct Fixture {
        weight_tables: Vec<Vec<u32>>,
        vectors: Vec<Vector>,
    }
    #[derive(serde::Deserialize)]
    struct Vector {
        experiment: String,
        user_id_hex: String,
        predictor_by_weights: Vec<usize>,
    }
    let fixture: Fixture = serde_json::from_str(include_str!("../../fixtures/bucket_vectors.json")).unwrap();
    let unhex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    for (t, weights) in fixture.weight_tables.iter().enumerate() {
        // One experiment per name in the fixture, each on its own path, all with this weight table.
        let names: Vec<String> = {
            let mut n: Vec<String> = fixture.vectors.iter().map(|v| v.experiment.clone()).collect();
            n.dedup();
            n
        };
        let experiments: Vec<Value> = names
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "match": {"path_prefix": format!("/{name}/")},
                    "predictors": weights.iter().enumerate().map(|(i, w)| json!({"name": format!("p{i}"), "weight": w})).collect::<Vec<_>>(),
                    "sticky": {"user_header": "x-user-id"}
                })
            })
            .collect();
        let mut host = host(&json!({ "experiments": experiments }));
        for v in &fixture.vectors {
            let user = unhex(&v.user_id_hex);
            let mut request = host.request().path(&format!("/{}/predict", v.experiment));
            if !user.is_empty() {
                request = request.header("x-user-id", &user);
            }
            let e = request.send().unwrap();
            if user.is_empty() {
                continue; // an empty id counts as absent: a random decision, checked elsewhere
            }
            assert_eq!(
                routed(&e),
                format!("p{}", v.predictor_by_weights[t]),
                "{} / {:?} / {weights:?}",
                v.experiment,
                user
            );
        }
    }
}

#[test]
fn cookies_keep_users_and_are_set_only_for_new_assignments() {
    let mut host = host(&seed_plugin_config());
    for _ in 0..200 {
        let first = predict(&mut host).send().unwrap();
        let predictor = routed(&first);
        let set_cookie = first.response_header_values("set-cookie");
        assert_eq!(
            set_cookie,
            vec![format!(
                "pr-fraud-detection={predictor}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
            )]
        );
        let again = predict(&mut host)
            .cookie(format!("a=1; pr-fraud-detection={predictor}"))
            .send()
            .unwrap();
        assert_eq!(routed(&again), predictor);
        assert!(again.response_header_values("set-cookie").is_empty());
        assert_eq!(again.response_header("x-predictor"), Some(predictor));
    }
}

#[test]
fn quoted_repeated_and_multi_line_cookies_follow_the_rules() {
    let mut host = host(&seed_plugin_config());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["pr-fraud-detection=\"rf\""], "rf"),
        (vec!["x=1", "pr-fraud-detection=rf"], "rf"),
        (vec!["pr-fraud-detection=rf; pr-fraud-detection=xgb"], "rf"),
        (vec!["pr-fraud-detection=rf", "pr-fraud-detection=xgb"], "rf"),
        (vec![" pr-fraud-detection = xgb ;"], "xgb"),
    ];
    for (lines, expected) in cases {
        let mut request = predict(&mut host);
        for line in &lines {
            request = request.cookie(line);
        }
        assert_eq!(routed(&request.send().unwrap()), expected, "{lines:?}");
    }
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(
        host.counter("predictor_router.fraud-detection.rf.decision.sticky"),
        4
    );
}

#[test]
fn hashed_users_get_their_bucket_and_a_cookie() {
    let mut host = host(&seed_plugin_config());
    let table = BucketTable::new([50u32, 50].into_iter());
    for user in 0..300 {
        let id = format!("customer-{user}");
        let expected = ["xgb", "rf"][table
            .predictor_of(user_bucket("fraud-detection", id.as_bytes()))
            .index()];
        let e = predict(&mut host).header("x-user-id", &id).send().unwrap();
        assert_eq!(routed(&e), expected);
        assert_eq!(e.response_header_values("set-cookie").len(), 1);
    }
}

#[test]
fn overrides_force_any_predictor_including_weight_zero() {
    let mut host = host(&config_with(
        json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 0}]),
    ));
    for _ in 0..10 {
        let e = predict(&mut host)
            .header("x-predictor-override", "rf")
            .cookie("pr-fraud-detection=xgb")
            .send()
            .unwrap();
        assert_eq!(routed(&e), "rf");
        assert!(e.response_header_values("set-cookie").is_empty());
        let e = host
            .request()
            .path(&format!("{}?predictor=r%66", predict_path()))
            .send()
            .unwrap();
        assert_eq!(routed(&e), "rf", "percent-decoded query parameter");
    }
    let e = predict(&mut host)
        .header("x-predictor-override", "RF")
        .send()
        .unwrap();
    assert_eq!(routed(&e), "xgb");
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(
        host.counter("predictor_router.fraud-detection.rf.decision.forced"),
        20
    );
    assert_eq!(
        host.counter("predictor_router.fraud-detection.override_rejected"),
        1
    );
}

#[test]
fn spoofed_routing_headers_are_replaced_without_a_route_cache_call() {
    let mut host = host(&config_with(
        json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 0}]),
    ));
    let e = predict(&mut host)
        .header("x-predictor", "rf")
        .header("X-Predictor", "rf")
        .send()
        .unwrap();
    assert_eq!(
        e.upstream_header_values("x-predictor"),
        vec![b"xgb".to_vec()],
        "exactly one value, the filter's"
    );
    // Envoy re-selects the route after a filter's header change on ABI 0.2.1 (contract): the module
    // spends no hostcall on `clear_route_cache`. That the route follows the header is proven in a real
    // Envoy: e2e_routing::clients_cannot_route_themselves_with_the_routing_header.
    assert_eq!(e.route_cache_clears(), 0);
    assert!(e.foreign_calls.is_empty(), "{:?}", e.foreign_calls);
}

#[test]
fn unmatched_requests_are_stripped_of_every_routing_header_and_otherwise_untouched() {
    let mut config = seed_plugin_config();
    config["experiments"].as_array_mut().unwrap().push(json!({
        "name": "income", "match": {"path_prefix": "/income/"}, "routing_header": "x-income-model",
        "predictors": [{"name": "v1", "weight": 1}]
    }));
    let mut host = host(&config);
    let e = host
        .request()
        .path("/health")
        .header("x-predictor", "rf")
        .header("x-income-model", "v1")
        .send()
        .unwrap();
    assert!(e.upstream_header("x-predictor").is_none());
    assert!(e.upstream_header("x-income-model").is_none());
    assert_eq!(e.route_cache_clears(), 0, "Envoy re-selects the route by itself");
    assert!(e.response_header("x-predictor").is_none());
    assert!(e.response_header_values("set-cookie").is_empty());
    host.request().path("/health").send().unwrap();
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(host.counter("predictor_router.unmatched"), 2);
    // A routed request strips the other experiment's routing header too.
    let e = predict(&mut host).header("x-income-model", "v1").send().unwrap();
    assert!(e.upstream_header("x-income-model").is_none());
}

#[test]
fn the_upstreams_set_cookie_is_kept_and_status_classes_are_counted() {
    let mut host = host(&config_with(json!([{"name": "xgb", "weight": 1}])));
    let e = predict(&mut host)
        .upstream_header("set-cookie", "session=abc")
        .upstream_status(503)
        .send()
        .unwrap();
    assert_eq!(e.response_header_values("set-cookie")[0], "session=abc");
    assert_eq!(e.response_header_values("set-cookie").len(), 2);
    for status in [200, 204, 302, 404, 500, 101] {
        predict(&mut host).upstream_status(status).send().unwrap();
    }
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(
        host.counter("predictor_router.fraud-detection.xgb.response.2xx"),
        2
    );
    assert_eq!(
        host.counter("predictor_router.fraud-detection.xgb.response.3xx"),
        1
    );
    assert_eq!(
        host.counter("predictor_router.fraud-detection.xgb.response.4xx"),
        1
    );
    assert_eq!(
        host.counter("predictor_router.fraud-detection.xgb.response.5xx"),
        2
    );
}

#[test]
fn invalid_configurations_are_refused_with_the_json_path_in_the_log() {
    let cases = [
        (
            config_with(json!([{"name": "xgb", "weight": 1.5}])),
            "experiments[0].predictors[0].weight: must be an integer from 0 to 1000000",
        ),
        (
            json!({"experiments": [{"name": "a", "predictors": [], "extra": 1}]}),
            "experiments[0].extra: unknown field `extra`",
        ),
        (json!({}), "$: missing field `experiments`"),
    ];
    for (config, expected) in cases {
        match Host::new(module_bytes()).with_config(config.to_string()).start() {
            Err(StartError::ConfigurationRejected { logs }) => {
                let errors: Vec<_> = logs.iter().filter(|l| l.level == LogLevel::Error).collect();
                assert_eq!(errors.len(), 1, "one error line: {logs:?}");
                assert!(
                    errors[0].message.contains(expected),
                    "{:?} lacks {expected}",
                    errors[0].message
                );
            }
            Err(other) => panic!("unexpected failure: {other}"),
            Ok(_) => panic!("accepted {config}"),
        }
    }
    // Not even an empty configuration traps.
    assert!(matches!(
        Host::new(module_bytes()).start(),
        Err(StartError::ConfigurationRejected { .. })
    ));
}

#[test]
fn a_runtime_update_applies_and_a_refused_one_keeps_the_last_good() {
    let mut host = Host::new(module_bytes())
        .with_config(seed_plugin_config().to_string())
        .workers(2)
        .start()
        .unwrap();
    let all_rf = config_with(json!([{"name": "xgb", "weight": 0}, {"name": "rf", "weight": 1}]));
    host.reconfigure(all_rf.to_string()).unwrap();
    for _ in 0..20 {
        assert_eq!(routed(&predict(&mut host).send().unwrap()), "rf");
    }
    let refused = host.reconfigure(config_with(json!([{"name": "xgb", "weight": -1}])).to_string());
    assert!(matches!(refused, Err(StartError::ConfigurationRejected { .. })));
    for _ in 0..20 {
        assert_eq!(
            routed(&predict(&mut host).send().unwrap()),
            "rf",
            "the last good configuration serves"
        );
    }
}

#[test]
fn workers_share_metrics_and_agree_on_hashed_users() {
    let mut host = Host::new(module_bytes())
        .with_config(seed_plugin_config().to_string())
        .workers(4)
        .start()
        .unwrap();
    for user in 0..100 {
        let id = format!("u{user}");
        let answers: Vec<String> = (0..4)
            .map(|w| {
                routed(
                    &predict(&mut host)
                        .header("x-user-id", &id)
                        .on_worker(w)
                        .send()
                        .unwrap(),
                )
            })
            .collect();
        assert!(
            answers.windows(2).all(|p| p[0] == p[1]),
            "workers disagree on {id}: {answers:?}"
        );
    }
    host.tick().unwrap(); // hand the batched counts to the host
    let hashed: u64 = host
        .counters()
        .iter()
        .filter(|(k, _)| k.ends_with("decision.hashed"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(hashed, 400);
}

#[test]
fn random_sequences_differ_between_workers() {
    let mut host = Host::new(module_bytes())
        .with_config(seed_plugin_config().to_string())
        .workers(2)
        .start()
        .unwrap();
    let mut per_worker = [Vec::new(), Vec::new()];
    for i in 0..64 {
        let e = predict(&mut host).on_worker(i % 2).send().unwrap();
        per_worker[i % 2].push(routed(&e));
    }
    assert_ne!(per_worker[0], per_worker[1], "two workers drew the same sequence");
}

#[test]
fn hostile_requests_never_trap() {
    let mut host = host(&seed_plugin_config());
    let huge = vec![b'x'; 200_000];
    let mut all_bytes: Vec<u8> = (0u8..=255).collect();
    all_bytes.retain(|b| *b != b'\r' && *b != b'\n');
    let mut cookie_huge = b"pr-fraud-detection=".to_vec();
    cookie_huge.extend_from_slice(&huge);
    let hostile: Vec<Vec<(&str, Vec<u8>)>> = vec![
        vec![("cookie", cookie_huge.clone())],
        vec![
            ("cookie", all_bytes.clone()),
            ("x-user-id", all_bytes.clone()),
            ("x-predictor-override", all_bytes.clone()),
        ],
        vec![("cookie", b"\xff\xfe=\xff; pr-fraud-detection=\xc3\x28".to_vec())],
        vec![
            ("cookie", b";;;;====;;\"\"\"".to_vec()),
            ("cookie", b"".to_vec()),
            ("cookie", b"pr-fraud-detection".to_vec()),
        ],
        vec![("x-user-id", huge.clone())],
        vec![
            ("x-predictor-override", b"".to_vec()),
            ("x-user-id", b"".to_vec()),
        ],
        (0..500)
            .map(|i| ("cookie", format!("c{i}=v{i}").into_bytes()))
            .collect(),
    ];
    for headers in hostile {
        let mut request = predict(&mut host);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let e = request.send().unwrap_or_else(|trap| panic!("{trap}"));
        assert!(["xgb", "rf"].contains(&routed(&e).as_str()));
    }
    for path in [
        "",
        "?",
        "/seldon/default/fraud-detection/?predictor=%",
        "/seldon/default/fraud-detection/?predictor=%ff%fe&&&=&",
    ] {
        host.request()
            .path(path)
            .send()
            .unwrap_or_else(|trap| panic!("{trap}"));
    }
    for authority in [
        "",
        ":",
        "[",
        "[::1",
        "MODELS.example.com:99999999",
        "\u{00e9}.example.com",
    ] {
        host.request()
            .authority(authority)
            .path(predict_path())
            .send()
            .unwrap_or_else(|trap| panic!("{trap}"));
    }
    for status in ["", "abc", "99999999999", "2000"] {
        predict(&mut host)
            .upstream_status(200)
            .upstream_header(":status", status)
            .send()
            .unwrap_or_else(|trap| panic!("{trap}"));
    }
    assert!(
        host.logs_at_least(LogLevel::Error).is_empty(),
        "{:?}",
        host.logs_at_least(LogLevel::Error)
    );
}

#[test]
fn linear_memory_stays_flat_over_100_000_requests() {
    let (before, after) = linear_memory(module_bytes(), 100_000);
    println!("linear memory: {before} bytes after warm-up, {after} bytes after 100,000 requests");
    assert_eq!(before, after, "linear memory grew from {before} to {after} bytes");
}

#[test]
fn fuel_per_request_for_each_decision_reason() {
    let mut host = host(&seed_plugin_config());
    for _ in 0..10 {
        predict(&mut host).send().unwrap(); // warm-up: lazy counter definitions, RNG seeding
        predict(&mut host).header("x-user-id", "alice").send().unwrap();
        predict(&mut host).cookie("pr-fraud-detection=rf").send().unwrap();
        predict(&mut host)
            .header("x-predictor-override", "rf")
            .send()
            .unwrap();
    }
    type Send = fn(&mut Host) -> Exchange;
    let cases: [(&str, Send); 5] = [
        ("forced", |h| {
            predict(h).header("x-predictor-override", "rf").send().unwrap()
        }),
        ("sticky", |h| {
            predict(h).cookie("pr-fraud-detection=rf").send().unwrap()
        }),
        ("hashed", |h| {
            predict(h).header("x-user-id", "alice").send().unwrap()
        }),
        ("random", |h| predict(h).send().unwrap()),
        ("unmatched", |h| h.request().path("/health").send().unwrap()),
    ];
    println!("fuel per request (wasm instructions, approximately), POST with a body:");
    for (reason, send) in cases {
        let e = send(&mut host);
        println!(
            "  {reason:<9} total {:>6}  request_headers {:>6}  response_headers {:>6}",
            e.fuel.total(),
            e.fuel.of("proxy_on_request_headers"),
            e.fuel.of("proxy_on_response_headers")
        );
        assert!(e.fuel.total() > 0);
        assert!(
            e.fuel.total() < 200_000,
            "{reason}: {} fuel is far beyond a routing decision",
            e.fuel.total()
        );
    }
    let start = &host.start_fuel()[0];
    println!("  start-up (initialize, vm_start, configure): {}", start.total());
}

#[test]
fn set_cookie_carries_secure_and_domain_through_the_module() {
    let mut config = seed_plugin_config();
    config["experiments"][0]["sticky"]["secure"] = json!(true);
    config["experiments"][0]["sticky"]["domain"] = json!("example.com");
    let mut host = host(&config);
    let e = predict(&mut host).send().unwrap();
    let predictor = e.response_header("x-predictor").unwrap();
    assert_eq!(
        e.response_header_values("set-cookie"),
        vec![format!(
            "pr-fraud-detection={predictor}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax; Secure; Domain=example.com"
        )]
    );
}

#[test]
fn batched_counts_reach_the_host_on_the_tick_and_when_a_configuration_leaves_service() {
    let mut host = host(&seed_plugin_config());
    let decisions = |host: &Host| -> u64 {
        host.counters()
            .iter()
            .filter(|(name, _)| name.contains(".decision."))
            .map(|(_, v)| v)
            .sum()
    };
    for _ in 0..50 {
        predict(&mut host).send().unwrap();
    }
    // Defined on first use, but held in the VM until the tick.
    assert_eq!(decisions(&host), 0, "no hostcall per request for counting");
    host.tick().unwrap();
    assert_eq!(decisions(&host), 50);
    for _ in 0..30 {
        predict(&mut host).send().unwrap();
    }
    // An update replaces the configuration: the old one hands over its counts as it leaves.
    host.reconfigure(
        config_with(json!([{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 3}])).to_string(),
    )
    .unwrap();
    assert_eq!(
        decisions(&host),
        80,
        "nothing lost across the update, without waiting for a tick"
    );
}
