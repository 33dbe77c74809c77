//! No client impact, in a real Envoy under load (contract "Shadow comparison": the client's request and
//! response are never held back or changed). For each fault of the shadow (answering beyond
//! `timeout_ms`, answering 500s, answering garbage, nothing listening) the same Envoy serves paced load
//! (4 clients × 300 requests/s, about a fifth of what it answers here at saturation) in alternating
//! rounds without and with the `shadow` block at the shipped variant's 10 % (a configuration update
//! between rounds, so drift of the machine falls on both alike): clients see 0 non-2xx, the same
//! bodies, and every copy ends in exactly one outcome. The p50 and p99 are printed for the reader but
//! not asserted: latency is a benchmark's figure, not a test's verdict (on two shared cores a p99 moves
//! by 2–3× between runs). `make bench` measures the shadow against Envoy's native
//! `request_mirror_policies` and no copy, pinned to cores, and BENCHMARKS.md holds the figures.
//!
//! Alone in its test binary, so that the load it generates does not slow other tests' timeouts.

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use predictor_router_e2e::envoy::Envoy;
use predictor_router_e2e::http::Request;
use predictor_router_e2e::load::{paced, quantile, Answered};
use predictor_router_e2e::scenario::{predict_path, seed_plugin_config};
use predictor_router_e2e::shadow::{self, measure, outcome_sum, seed_upstreams, settled, totals};
use predictor_router_e2e::upstream::PredictorServer;
use serde_json::json;

const ROUNDS: usize = 6;
const ROUND: Duration = Duration::from_millis(1250);
/// The shipped shadow variant's share (`envoyfilter/overlays/shadow/wasmplugin.yaml`).
const PERCENT: f64 = 10.0;
const THREADS: usize = 4;
const RATE_PER_THREAD: u32 = 300;

/// One arm's round: paced predictions without cookies (new users, both predictors).
fn round(envoy: &Envoy) -> Vec<Answered> {
    // Let the new configuration's root contexts settle before measuring.
    thread::sleep(Duration::from_millis(300));
    paced(
        envoy.listener_port,
        THREADS,
        RATE_PER_THREAD,
        ROUND,
        &Request::predict(predict_path()),
    )
}

fn bodies(answers: &[Answered]) -> BTreeSet<(Option<String>, Vec<u8>)> {
    answers
        .iter()
        .map(|a| (a.served_by.clone(), a.body.clone()))
        .collect()
}

#[test]
fn under_load_the_shadows_faults_leave_the_clients_answers_untouched() {
    let upstreams = seed_upstreams();
    let shadow_server = PredictorServer::start("rf-v2");
    shadow_server
        .record
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let without = seed_plugin_config();
    let with = shadow::plugin_config(json!({"timeout_ms": 200, "percent": PERCENT}));
    for fault in shadow::faults() {
        let (expected, port) = (fault.outcome, shadow::port_for(&fault, &shadow_server));
        let fault = fault.name;
        // Started with the shadow: Envoy skips an update identical to what it runs, so each round's
        // update must change something.
        let mut envoy = shadow::gateway(&with, &upstreams, port, 2);
        let (mut plain, mut shadowed) = (Vec::new(), Vec::new());
        let (mut cpu_plain, mut cpu_shadowed) = (0u64, 0u64);
        for _ in 0..ROUNDS {
            envoy.update_plugin_config(&without);
            let before = envoy.cpu_nanos();
            plain.extend(round(&envoy));
            cpu_plain += envoy.cpu_nanos() - before;
            envoy.update_plugin_config(&with);
            let before = envoy.cpu_nanos();
            shadowed.extend(round(&envoy));
            cpu_shadowed += envoy.cpu_nanos() - before;
        }
        // Back to no shadow: copies still out are finished (as `skipped`, their root is gone) or answered.
        envoy.update_plugin_config(&without);
        let copied = measure(&totals(&envoy), "copied");
        let outcomes = settled(&envoy, copied);
        let (p99_plain, p99_shadowed) = (quantile(&plain, 0.99), quantile(&shadowed, 0.99));
        println!(
            "shadow {fault}: {} requests without, {} with; p50 {:?} vs {:?}, p99 {:?} vs {:?} ({:.2}×); Envoy CPU per request {:.0} µs vs {:.0} µs; {outcomes:?}",
            plain.len(),
            shadowed.len(),
            quantile(&plain, 0.5),
            quantile(&shadowed, 0.5),
            p99_plain,
            p99_shadowed,
            p99_shadowed.as_secs_f64() / p99_plain.as_secs_f64(),
            cpu_plain as f64 / 1e3 / plain.len() as f64,
            cpu_shadowed as f64 / 1e3 / shadowed.len() as f64,
        );
        let not_2xx =
            |answers: &[Answered]| answers.iter().filter(|a| !(200..300).contains(&a.status)).count();
        assert_eq!(not_2xx(&plain), 0, "{fault}: without the shadow");
        assert_eq!(not_2xx(&shadowed), 0, "{fault}: with the shadow");
        assert_eq!(bodies(&shadowed), bodies(&plain), "{fault}: the clients' bodies");
        assert_eq!(bodies(&plain).len(), 2, "{fault}: both predictors served");
        // Every copy ends in exactly one outcome: the fault's, or `skipped` for the copies a
        // configuration update cut off (the replaced root and its callouts are gone).
        assert_eq!(outcome_sum(&outcomes), copied, "{fault}: {outcomes:?}");
        let expected_copies = shadowed.len() as f64 * PERCENT / 100.0;
        assert!(
            (copied as f64 - expected_copies).abs() < 5.0 * (expected_copies * 0.9).sqrt(),
            "{fault}: {copied} copied of {} at {PERCENT} %",
            shadowed.len()
        );
        let other = outcome_sum(&outcomes) - measure(&outcomes, expected) - measure(&outcomes, "skipped");
        assert_eq!(other, 0, "{fault}: {outcomes:?}");
        assert!(
            measure(&outcomes, expected) >= copied / 2,
            "{fault}: {outcomes:?}"
        );
        envoy.assert_no_wasm_errors();
    }
}
