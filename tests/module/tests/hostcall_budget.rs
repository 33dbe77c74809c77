//! The hostcall budget of a request (issue 11): in Envoy's V8 runtime every call between the module
//! and Envoy costs microseconds, far more than the decision. Counted by wasm-test-harness on the
//! compiled module with the shipped configuration, per decision path, after a warm-up (first-use metric
//! definitions and the random generator's seeding are one-off costs, not per request).

use predictor_router_e2e::scenario::seed_plugin_config;
use predictor_router_module_tests::module::module_bytes;
use predictor_router_module_tests::request_mix::decision_path_requests;
use wasm_test_harness::Host;

fn host() -> Host {
    Host::new(module_bytes())
        .with_config(seed_plugin_config().to_string())
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The most hostcalls a request of each decision path may make (`proxy_define_metric` aside: a
/// counter's first use only). The requests are GETs of the prediction path (a POST body adds one
/// `proxy_get_buffer_bytes` only for feedback paths of adaptive experiments).
const BUDGETS: [(&str, usize); 5] = [
    ("forced", 5),
    ("sticky", 6),
    ("hashed", 8),
    ("random", 8),
    ("unmatched", 2),
];

fn budget_of(path: &str) -> usize {
    BUDGETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| *b)
        .unwrap_or_else(|| panic!("no budget for the decision path {path}"))
}

#[test]
fn hostcalls_per_request_stay_within_the_budget_of_each_decision_path() {
    let mut host = host();
    for _ in 0..3 {
        for (_, send) in decision_path_requests() {
            send(&mut host);
        }
    }
    let mut over = Vec::new();
    println!("hostcalls per request (shipped configuration, after warm-up):");
    for (path, send) in decision_path_requests() {
        let budget = budget_of(path);
        let e = send(&mut host);
        let calls: Vec<&str> = e
            .hostcalls
            .iter()
            .copied()
            .filter(|c| *c != "proxy_define_metric")
            .collect();
        println!(
            "  {path:<9} {:>2} (budget {budget}), VM entries {} + {} malloc, fuel {}: {}",
            calls.len(),
            e.fuel.callbacks().len(),
            e.allocator_entries,
            e.fuel.total(),
            calls.join(", ")
        );
        println!(
            "    fuel by callback: {:?}",
            e.fuel.by_callback.iter().map(|c| c.fuel).collect::<Vec<_>>()
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
