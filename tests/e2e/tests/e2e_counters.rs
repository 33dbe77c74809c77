//! Batched counters in a real Envoy (contract "Metrics"): the filter holds increments inside the VM and
//! hands them to Envoy on its tick, at least once a second, and when a configuration leaves service.
//! No count may be lost across configuration updates, and a reader waits at most a second.

use std::thread;
use std::time::{Duration, Instant};

use predictor_router_e2e::gateway::Gateway;
use predictor_router_e2e::http::Request;
use predictor_router_e2e::load::Load;
use predictor_router_e2e::scenario::{predict_path, seed_plugin_config};
use serde_json::json;

fn sum_of(counters: &std::collections::BTreeMap<String, u64>, part: &str) -> u64 {
    counters
        .iter()
        .filter(|(name, _)| name.contains(part))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn no_count_is_lost_across_configuration_updates_under_load() {
    let mut gw = Gateway::start_with_workers(seed_plugin_config(), 2);
    let port = gw.envoy.listener_port;
    let load = Load::start(port, 4, predict_path());
    for weights in [(90, 10), (20, 80), (50, 50)] {
        thread::sleep(Duration::from_millis(400));
        let mut config = seed_plugin_config();
        config["experiments"][0]["predictors"] =
            json!([{"name": "xgb", "weight": weights.0}, {"name": "rf", "weight": weights.1}]);
        gw.envoy.update_plugin_config(&config);
    }
    thread::sleep(Duration::from_millis(400));
    let (sent, failed) = load.finish();
    assert!(sent > 300, "the load ran ({sent} requests)");
    assert_eq!(failed, 0);
    assert_eq!(
        gw.envoy.ecds_stat("config_reload"),
        4,
        "three updates were applied"
    );
    let counters = gw.envoy.counters();
    assert_eq!(
        sum_of(&counters, ".decision."),
        sent,
        "every request's decision is counted once"
    );
    assert_eq!(sum_of(&counters, ".response."), sent, "and its response");
    gw.envoy.assert_no_wasm_errors();
}

#[test]
fn counts_are_visible_within_a_second() {
    let gw = Gateway::start(seed_plugin_config());
    let mut client = gw.client();
    // The counters exist once used; the measured batch then only moves their values.
    client.send(&Request::predict(predict_path())).unwrap();
    let before = sum_of(&gw.envoy.counters(), ".decision.");
    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        for _ in 0..10 {
            client.send(&Request::predict(predict_path())).unwrap();
        }
        let sent_at = Instant::now();
        let want = before + 10 * (round + 1);
        loop {
            let seen = sum_of(&gw.envoy.counters_now(), ".decision.");
            if seen == want {
                break;
            }
            assert!(seen < want, "counted {seen}, sent {want}");
            assert!(
                sent_at.elapsed() < Duration::from_millis(1250),
                "round {round}: counts not visible after {:?} ({seen} of {want})",
                sent_at.elapsed()
            );
            thread::sleep(Duration::from_millis(20));
        }
        slowest = slowest.max(sent_at.elapsed());
    }
    println!("slowest: counts visible {slowest:?} after the last request");
}
