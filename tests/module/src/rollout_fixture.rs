//! The seed's experiment with a `rollout` block in wasm-test-harness, shared by the harness suites of
//! the rollout (`harness_rollout`), the clock (`harness_clock`) and trust (`harness_trust`, `hashed`): its configuration, a ramp, a
//! canary that fails, and the hashed users a step gives the canary (computed offline by the core).

use predictor_router::router::bucketing::user_bucket;
use predictor_router::router::config::parse;
use predictor_router::router::rollout::shares::phase_table;
use serde_json::{json, Value};
use wasm_test_harness::{Host, LogLevel, RequestBuilder};

use crate::module::module_bytes;

pub const PREFIX: &str = "/seldon/default/fraud-detection/";
pub const PATH: &str = "/seldon/default/fraud-detection/api/v1.0/predictions";
pub const SECOND: u64 = 1_000_000_000;
/// The harness clock starts at 2026-01-01T00:00:00Z; the rollouts here start a minute later.
pub const START: &str = "2026-01-01T00:01:00Z";

pub fn config(rollout: Value) -> Value {
    json!({"experiments": [{
        "name": "fraud-detection",
        "match": {"path_prefix": PREFIX},
        "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
        "sticky": {"user_header": "x-user-id"},
        "rollout": rollout
    }]})
}

pub fn ramp() -> Value {
    json!({"canary": "rf", "start": START,
           "steps": [{"percent": 5, "minutes": 1}, {"percent": 20, "minutes": 1}, {"percent": 50, "minutes": 1}, {"percent": 100}]})
}

pub fn failing_canary() -> Value {
    json!({"canary": "rf", "start": START, "steps": [{"percent": 50, "minutes": 10}, {"percent": 100}],
           "update_seconds": 1, "guard": {"min_outcomes": 50}})
}

pub fn start(config: &Value, workers: usize) -> Host {
    Host::new(module_bytes())
        .with_config(config.to_string())
        .workers(workers)
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn hashed(host: &mut Host, user: &str) -> String {
    host.request()
        .path(PATH)
        .header("x-user-id", user)
        .send()
        .unwrap()
        .upstream_header("x-predictor")
        .unwrap()
}

/// A request of a user whose cookie says the canary (`rf`), on `worker` (`None`: the next in turn).
pub fn with_canary_cookie(host: &mut Host, worker: Option<usize>) -> wasm_test_harness::Exchange {
    on(host.request(), worker)
        .path(PATH)
        .cookie("pr-fraud-detection=rf")
        .send()
        .unwrap()
}

/// The users (of `u0`..) that the canary's share at `percent` assigns to rf, computed offline.
pub fn canary_users(config: &Value, percent: u32, count: usize) -> Vec<String> {
    let experiment = parse(config.to_string().as_bytes())
        .unwrap()
        .into_experiments()
        .remove(0);
    let rollout = experiment.rollout.clone().unwrap();
    let table = phase_table(&experiment, &rollout, percent);
    (0..)
        .map(|i| format!("u{i}"))
        .filter(|u| {
            table
                .buckets
                .predictor_of(user_bucket("fraud-detection", u.as_bytes()))
                == rollout.canary
        })
        .take(count)
        .collect()
}

/// Sends `rounds` of traffic from hashed users, a tick a second: rf answers 503 for 30 % of its
/// requests.
pub fn failing_traffic(host: &mut Host, config: &Value, rounds: usize) {
    let canary = canary_users(config, 50, 200);
    for round in 0..rounds {
        failing_round(host, &canary, round, None);
        host.advance_clock(SECOND);
        host.tick().unwrap();
    }
}

/// One round of [`failing_traffic`], with no tick: each canary user once (rf answers 503 for 30 % of
/// them, a different 30 % each round) and as many new baseline users, on `worker` or on the next
/// worker in turn.
pub fn failing_round(host: &mut Host, canary: &[String], round: usize, worker: Option<usize>) {
    for (i, user) in canary.iter().enumerate() {
        let status = if (i + round) % 10 < 3 { 503 } else { 200 };
        on(host.request(), worker)
            .path(PATH)
            .header("x-user-id", user)
            .upstream_status(status)
            .send()
            .unwrap();
        on(host.request(), worker)
            .path(PATH)
            .header("x-user-id", format!("base-{round}-{i}"))
            .send()
            .unwrap();
    }
}

fn on(request: RequestBuilder<'_>, worker: Option<usize>) -> RequestBuilder<'_> {
    match worker {
        Some(w) => request.on_worker(w),
        None => request,
    }
}

/// The experiment's gauge `name` (`rollout.step`, `rf.share_bp`, ...), when defined.
pub fn gauge(host: &Host, name: &str) -> Option<u64> {
    host.metrics()
        .get(&format!("predictor_router.fraud-detection.{name}"))
        .copied()
}

/// The log lines at exactly `level` that contain `needle`.
pub fn lines(host: &Host, level: LogLevel, needle: &str) -> Vec<String> {
    host.logs_at_least(level)
        .into_iter()
        .filter(|l| l.level == level && l.message.contains(needle))
        .map(|l| l.message)
        .collect()
}
