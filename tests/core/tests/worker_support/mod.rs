//! What the worker's native suites share: workers of an in-memory Envoy, configurations, outcomes,
//! fleet answers and shadow copies.
#![allow(dead_code)]

use std::rc::Rc;

use predictor_router::router::ids::{ExperimentId, PredictorId};
use predictor_router::router::outcomes::Outcome;
use predictor_router::router::plan::{Allocations, ShadowCopy};
use predictor_router::router::shadow::copy::CopyHead;
use predictor_router::router::table::RoutingTable;
use predictor_router::router::worker::memory::{MemoryEnvoy, MemoryHost, MemoryReply};
use predictor_router::router::worker::shadow::{ShadowDesk, StreamCopy};
use predictor_router::router::worker::{RouterState, WorkerRoot};
use predictor_router_core_tests::invalid_configs::{experiment_with, fleet_with};
use serde_json::{json, Value};

pub const NANOS: u64 = 1_000_000_000;
/// 2026-01-01T00:01:00Z, the rollouts' start below.
pub const START_UNIX: u64 = 1_767_225_660;

#[allow(non_snake_case)]
pub fn XGB() -> PredictorId {
    PredictorId::from_index(0)
}
#[allow(non_snake_case)]
pub fn RF() -> PredictorId {
    PredictorId::from_index(1)
}
#[allow(non_snake_case)]
pub fn EXPERIMENT() -> ExperimentId {
    ExperimentId::from_index(0)
}

pub fn table(config: &Value) -> RoutingTable {
    RoutingTable::parse(config.to_string().as_bytes()).expect("a valid configuration")
}

/// Worker `n` of `envoy`, configured with `config`.
pub fn worker(envoy: &Rc<MemoryEnvoy>, n: usize, config: &Value) -> WorkerRoot<MemoryHost> {
    let port = envoy.worker(n);
    let desk = Rc::new(ShadowDesk::new(port.clone()));
    let mut root = WorkerRoot::new(port, 100 + n as u32, desk);
    root.configure(table(config));
    root
}

pub fn record_outcome(root: &WorkerRoot<MemoryHost>, predictor: PredictorId, outcome: Outcome) {
    let state = root.state().expect("configured");
    state
        .learning
        .borrow_mut()
        .record(EXPERIMENT(), predictor, outcome);
}

/// Whether new users of `root` can still be given the canary (`rf`).
pub fn serves_canary(root: &WorkerRoot<MemoryHost>) -> bool {
    let state = root.state().expect("configured");
    let learning = state.learning.borrow();
    let experiment = &state.table.experiments()[0];
    let assignments = learning.assignments(EXPERIMENT(), experiment);
    assignments.collects_outcomes && assignments.closed & (1 << RF().index()) == 0
}

/// A rollout at 50 % for its first ten hours.
pub fn rollout_config(update_seconds: u32) -> Value {
    experiment_with(json!({
        "sticky": {"user_header": "x-user-id"},
        "rollout": {"canary": "rf", "start": "2026-01-01T00:01:00Z",
                    "steps": [{"percent": 50, "minutes": 600}, {"percent": 100}],
                    "update_seconds": update_seconds, "guard": {"min_outcomes": 50}}
    }))
}

/// 200 baseline successes, and the canary failing 30 % of 200.
pub fn failing_canary_round(root: &WorkerRoot<MemoryHost>) {
    for i in 0..200 {
        record_outcome(root, XGB(), Outcome::SUCCESS);
        let canary = if i % 10 < 3 {
            Outcome::FAILURE
        } else {
            Outcome::SUCCESS
        };
        record_outcome(root, RF(), canary);
    }
}

pub fn pooled_config() -> Value {
    let mut config = fleet_with(json!({}));
    config["experiments"][0]["adaptive"]["update_seconds"] = json!(10);
    config["experiments"][0]["adaptive"]["policy"] = json!("epsilon_greedy");
    config
}

/// A Prometheus answer with these totals: (predictor, trials, reward_milli).
pub fn prometheus_answer(totals: &[(&str, u64, u64)]) -> MemoryReply {
    let result: Vec<Value> = totals
        .iter()
        .flat_map(|(p, trials, reward)| {
            [
                json!({"metric": {"predictor": p, "outcome": "trials"}, "value": [1, trials.to_string()]}),
                json!({"metric": {"predictor": p, "outcome": "reward_milli"}, "value": [1, reward.to_string()]}),
            ]
        })
        .collect();
    MemoryReply::ok(
        json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string(),
    )
}

/// A Prometheus answer: 100 trials of each predictor, xgb better.
pub fn pooled_answer() -> MemoryReply {
    let body = json!({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"predictor": "xgb", "outcome": "trials"}, "value": [1, "100"]},
        {"metric": {"predictor": "xgb", "outcome": "reward_milli"}, "value": [1, "90000"]},
        {"metric": {"predictor": "rf", "outcome": "trials"}, "value": [1, "100"]},
        {"metric": {"predictor": "rf", "outcome": "reward_milli"}, "value": [1, "10000"]}]}});
    MemoryReply::ok(body.to_string())
}

/// Answers every fleet query the workers sent: with `reply`.
pub fn answer_fleet_queries(envoy: &MemoryEnvoy, roots: &mut [WorkerRoot<MemoryHost>], reply: &MemoryReply) {
    for (n, root) in roots.iter_mut().enumerate() {
        for call in envoy.take_calls(n) {
            envoy.reply(root, call.token, reply.clone());
        }
    }
}

/// The copy of a `POST` to the experiment's path.
pub fn copy_head(state: &RouterState<MemoryHost>) -> ShadowCopy {
    let shadow = state.table.experiments()[0].shadow.as_ref().expect("a shadow");
    ShadowCopy::Copy(CopyHead::new(b"POST", b"/api/v1.0/predictions", "/", shadow, None).expect("copyable"))
}

/// One copied request through the worker: the client's answer `served`, the shadow's reply `reply`.
pub fn copy_and_reply(
    envoy: &MemoryEnvoy,
    root: &mut WorkerRoot<MemoryHost>,
    served: &[u8],
    reply: MemoryReply,
) {
    let state = root.state().unwrap().clone();
    let desk = root.desk().clone();
    let mut copy =
        StreamCopy::start(&state, &desk, EXPERIMENT(), XGB(), copy_head(&state)).expect("admitted");
    copy.request_chunk(2, true, |_| Some(b"{}".to_vec()));
    copy.response_headers(b"200", false);
    copy.response_chunk(served.len(), true, |_| Some(served.to_vec()));
    drop(copy);
    root.tick();
    let calls = envoy.take_calls(0);
    assert_eq!(calls.len(), 1);
    envoy.reply(root, calls[0].token, reply);
}
