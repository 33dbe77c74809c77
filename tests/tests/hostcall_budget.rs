//! The hostcall budget of a request (issue 11): in Envoy's V8 runtime every call between the module
//! and Envoy costs microseconds, far more than the decision. Counted by wasm-test-harness on the
//! compiled module with the shipped configuration, per decision path, after a warm-up (first-use metric
//! definitions and the random generator's seeding are one-off costs, not per request).

use predictor_router_tests::module::module_bytes;
use predictor_router_tests::scenario::{predict_path, seed_plugin_config};
use wasm_test_harness::{Exchange, Host};

fn host() -> Host {
    Host::new(module_bytes())
        .with_config(seed_plugin_config().to_string())
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

type Send = fn(&mut Host) -> Exchange;

/// The request of each decision path: a GET of the prediction path (a POST body adds one
/// `proxy_get_buffer_bytes` only for feedback paths of adaptive experiments).
fn paths() -> [(&'static str, usize, Send); 5] {
    [
        ("forced", 5, |h| {
            h.request()
                .path(predict_path())
                .header("x-predictor-override", "rf")
                .send()
                .unwrap()
        }),
        ("sticky", 6, |h| {
            h.request()
                .path(predict_path())
                .cookie("pr-fraud-detection=rf")
                .send()
                .unwrap()
        }),
        ("hashed", 8, |h| {
            h.request()
                .path(predict_path())
                .header("x-user-id", "alice")
                .send()
                .unwrap()
        }),
        ("random", 8, |h| h.request().path(predict_path()).send().unwrap()),
        ("unmatched", 2, |h| h.request().path("/health").send().unwrap()),
    ]
}

#[test]
fn hostcalls_per_request_stay_within_the_budget_of_each_decision_path() {
    let mut host = host();
    for _ in 0..3 {
        for (_, _, send) in paths() {
            send(&mut host);
        }
    }
    let mut over = Vec::new();
    println!("hostcalls per request (shipped configuration, after warm-up):");
    for (path, budget, send) in paths() {
        let e = send(&mut host);
        let calls: Vec<&str> = e
            .hostcalls
            .iter()
            .copied()
            .filter(|c| *c != "proxy_define_metric")
            .collect();
        println!(
            "  {path:<9} {:>2} (budget {budget}), VM entries {} + {} malloc: {}",
            calls.len(),
            e.fuel.callbacks().len(),
            e.allocator_entries,
            calls.join(", ")
        );
        if calls.len() > budget {
            over.push(format!("{path}: {} > {budget}: {calls:?}", calls.len()));
        }
        // Four entries into the VM (create, request headers, response headers, delete), and at most
        // one allocator entry per header value read.
        assert_eq!(e.fuel.callbacks().len(), 4, "{path}: {:?}", e.fuel.callbacks());
        let reads = calls
            .iter()
            .filter(|c| **c == "proxy_get_header_map_value")
            .count();
        assert!(
            e.allocator_entries <= reads,
            "{path}: {} allocator entries",
            e.allocator_entries
        );
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}
