//! What each of the worker's protocols reports and bounds, natively on the in-memory Envoy: the tick
//! period it asks for, its gauges and log lines, what it writes to shared data and when, the callout
//! registry's owners and replies, and the shadow's limits (admission, copy sizes, latencies, what a
//! stream that ends early leaves). The protocols' interleavings are in `worker_protocols`.

mod worker_support;

use std::cell::Cell;
use std::rc::Rc;

use predictor_router::router::outcomes::record::decode_record;
use predictor_router::router::outcomes::{record, Outcome};
use predictor_router::router::plan::Allocations;
use predictor_router::router::shadow::MAX_COPY_BYTES;
use predictor_router::router::worker::memory::{MemoryEnvoy, MemoryHost, MemoryReply};
use predictor_router::router::worker::shadow::{ShadowDesk, StreamCopy};
use predictor_router::router::worker::{Level, PortError, WorkerRoot};
use predictor_router_core_tests::invalid_configs::{experiment_with, fleet_with, shadow_with};
use serde_json::{json, Value};
use worker_support::*;

const MS: u64 = 1_000_000;
const T0: u64 = 1_800_000_000 * NANOS;

fn period(envoy: &MemoryEnvoy, worker: usize) -> Option<u32> {
    envoy.tick_periods.borrow().get(&worker).copied()
}

fn shadow_count(envoy: &MemoryEnvoy, measure: &str) -> u64 {
    envoy.counter(&format!(
        "predictor_router.fraud-detection.xgb.shadow.rf-v2.{measure}"
    ))
}

// --- the tick period -------------------------------------------------------------------------------

#[test]
fn the_tick_flushes_every_second_without_learners_and_ticks_every_half_second_with_them() {
    let envoy = MemoryEnvoy::new(T0);
    let _fixed = worker(&envoy, 0, &experiment_with(json!({})));
    let _adaptive = worker(
        &envoy,
        1,
        &experiment_with(json!({"adaptive": {"policy": "epsilon_greedy"}})),
    );
    assert_eq!(period(&envoy, 0), Some(1000));
    assert_eq!(period(&envoy, 1), Some(500));
    assert_eq!(
        envoy.writes.get(),
        1,
        "only the adaptive experiment claims its record"
    );
}

#[test]
fn the_tick_lands_on_a_rollouts_next_step_change() {
    // 200 ms before the first step ends (steps of 600 minutes).
    let envoy = MemoryEnvoy::new((START_UNIX + 600 * 60) * NANOS - 200 * MS);
    let mut root = worker(&envoy, 0, &rollout_config(10));
    assert_eq!(period(&envoy, 0), Some(200));
    envoy.advance(200 * MS);
    root.tick();
    assert_eq!(
        period(&envoy, 0),
        Some(500),
        "step 2 is the last: no change ahead"
    );
    assert_eq!(
        envoy.gauge_values(0, "predictor_router.fraud-detection.rollout.step"),
        vec![1, 2]
    );
}

#[test]
fn a_thompson_estimate_ticks_fast_until_it_completes_whether_the_tick_or_a_fleet_answer_started_it() {
    // Eight predictors alike (80 % successful): the estimate needs more draws than one tick makes.
    let envoy = MemoryEnvoy::new(T0);
    let predictors: Vec<Value> = (0..8)
        .map(|i| json!({"name": format!("p{i}"), "weight": 1}))
        .collect();
    let config = json!({"experiments": [{"name": "fraud-detection", "predictors": predictors,
        "adaptive": {"policy": "thompson", "update_seconds": 1, "min_outcomes": 1, "min_share_percent": 0}}]});
    let mut root = worker(&envoy, 0, &config);
    for i in 0..320 {
        let outcome = if i % 5 == 0 {
            Outcome::FAILURE
        } else {
            Outcome::SUCCESS
        };
        record_outcome(
            &root,
            predictor_router::router::ids::PredictorId::from_index(i % 8),
            outcome,
        );
    }
    envoy.advance(NANOS);
    root.tick();
    assert_eq!(period(&envoy, 0), Some(50), "estimating");
    let mut ticks = 0;
    while period(&envoy, 0) == Some(50) {
        ticks += 1;
        assert!(ticks < 20, "the estimate never completed");
        envoy.advance(50 * MS);
        root.tick();
    }
    assert_eq!(period(&envoy, 0), Some(500));

    // Pooled: the answer starts the estimate, and the timer is set from the answer.
    let envoy = MemoryEnvoy::new(T0);
    let mut pooled = fleet_with(json!({}));
    pooled["experiments"][0]["predictors"] = config["experiments"][0]["predictors"].clone();
    pooled["experiments"][0]["adaptive"] = json!({"policy": "thompson", "update_seconds": 10, "min_outcomes": 1,
        "min_share_percent": 0, "pooled": true});
    let mut root = worker(&envoy, 0, &pooled);
    let names: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    let alike: Vec<(&str, u64, u64)> = names.iter().map(|n| (n.as_str(), 400, 320_000)).collect();
    let mut answered = false;
    for _ in 0..60 {
        envoy.advance(NANOS / 2);
        root.tick();
        for call in envoy.take_calls(0) {
            envoy.reply(&mut root, call.token, prometheus_answer(&alike));
            answered = true;
        }
        if answered {
            break;
        }
    }
    assert!(answered);
    assert_eq!(period(&envoy, 0), Some(50), "the answer started an estimate");
}

// --- learners: resume, merge, serve ------------------------------------------------------------------

#[test]
fn a_worker_configured_after_the_envoy_turned_local_learns_locally_from_its_first_tick() {
    let envoy = MemoryEnvoy::new(T0);
    let config = pooled_config();
    let mut first = [worker(&envoy, 0, &config)];
    // Prometheus says rf is better; this Envoy's own outcomes say xgb.
    let rf_better = prometheus_answer(&[("xgb", 1000, 100_000), ("rf", 1000, 900_000)]);
    let down = MemoryReply::status("503", "");
    for step in 0..400 {
        for _ in 0..5 {
            record_outcome(&first[0], XGB(), Outcome::SUCCESS);
            record_outcome(&first[0], RF(), Outcome::FAILURE);
        }
        envoy.advance(NANOS / 2);
        first[0].tick();
        answer_fleet_queries(&envoy, &mut first, if step < 30 { &rf_better } else { &down });
        if !envoy.logged("learning from this Envoy's outcomes").is_empty() {
            break;
        }
    }
    assert!(!envoy.logged("learning from this Envoy's outcomes").is_empty());
    let late = worker(&envoy, 1, &config);
    let served = |root: &WorkerRoot<MemoryHost>| {
        let state = root.state().unwrap();
        let learning = state.learning.borrow();
        let experiment = &state.table.experiments()[0];
        let buckets = learning.assignments(EXPERIMENT(), experiment).buckets.clone();
        (buckets.clone(), buckets != experiment.buckets)
    };
    let mut late = [late];
    envoy.advance(NANOS / 2);
    first[0].tick();
    late[0].tick();
    let (late_buckets, learned) = served(&late[0]);
    assert!(
        learned,
        "the late worker serves a learned allocation, not the configured weights"
    );
    assert_eq!(
        late_buckets,
        served(&first[0]).0,
        "the same as the worker that turned local"
    );
    let rf_share = envoy
        .gauge("predictor_router.fraud-detection.rf.share_bp")
        .unwrap();
    assert!(
        rf_share < 5000,
        "learned from this Envoy's outcomes (xgb better), not Prometheus's: rf {rf_share}"
    );
    assert_eq!(envoy.gauge("predictor_router.fraud-detection.pooled"), Some(0));
}

#[test]
fn a_tick_with_nothing_to_merge_writes_nothing() {
    let envoy = MemoryEnvoy::new(T0);
    let config = experiment_with(json!({"adaptive": {"policy": "epsilon_greedy", "update_seconds": 1}}));
    let mut root = worker(&envoy, 0, &config);
    let after_claim = envoy.writes.get();
    for _ in 0..10 {
        envoy.advance(NANOS);
        root.tick();
    }
    assert_eq!(envoy.writes.get(), after_claim, "reads only");
    record_outcome(&root, XGB(), Outcome::SUCCESS);
    envoy.advance(NANOS);
    root.tick();
    assert_eq!(envoy.writes.get(), after_claim + 1, "one merge for one outcome");
}

#[test]
fn outcomes_still_pending_when_a_configuration_leaves_service_are_merged_then() {
    for config in [
        rollout_config(30),
        experiment_with(json!({"adaptive": {"policy": "epsilon_greedy"}})),
    ] {
        let envoy = MemoryEnvoy::new((START_UNIX + 5) * NANOS);
        let root = worker(&envoy, 0, &config);
        for _ in 0..7 {
            record_outcome(&root, RF(), Outcome::SUCCESS);
        }
        let state = root.state().unwrap().clone();
        drop(root);
        drop(state);
        let experiment = table(&config).experiments()[0].clone();
        let stored = envoy.shared(&record::key_of(&experiment)).unwrap();
        let (totals, _) = decode_record(&experiment, &stored).unwrap();
        assert_eq!(totals.arms[1].trials, 7, "{config}");
    }
}

// --- rollouts ------------------------------------------------------------------------------------------

#[test]
fn two_workers_that_judge_the_same_rollback_log_it_once_and_the_idle_ones_gauge_shows_it() {
    let envoy = MemoryEnvoy::new((START_UNIX + 5) * NANOS);
    let config = rollout_config(1);
    let mut roots = [
        worker(&envoy, 0, &config),
        worker(&envoy, 1, &config),
        worker(&envoy, 2, &config),
    ];
    assert_eq!(
        envoy.gauge_values(2, "predictor_router.fraud-detection.rollout.step"),
        vec![1]
    );
    for _ in 0..20 {
        if !serves_canary(&roots[0]) {
            break;
        }
        failing_canary_round(&roots[0]);
        failing_canary_round(&roots[1]);
        envoy.advance(NANOS);
        roots[0].tick();
        roots[1].tick();
    }
    assert!(!serves_canary(&roots[0]) && !serves_canary(&roots[1]));
    assert_eq!(envoy.logged("rolled back").len(), 1, "{:?}", envoy.logs.borrow());
    envoy.advance(NANOS / 2);
    roots[2].tick();
    assert_eq!(
        envoy
            .gauge_values(2, "predictor_router.fraud-detection.rollout.rolled_back")
            .last(),
        Some(&1)
    );
}

fn pooled_rollout_config() -> Value {
    let mut config = fleet_with(json!({}));
    let experiment = &mut config["experiments"][0];
    experiment.as_object_mut().unwrap().remove("adaptive");
    experiment["sticky"] = json!({"user_header": "x-user-id"});
    experiment["rollout"] = json!({"canary": "rf", "start": "2026-01-01T00:01:00Z",
        "steps": [{"percent": 50, "minutes": 600}, {"percent": 100}],
        "update_seconds": 5, "guard": {"min_outcomes": 50}, "pooled": true});
    config
}

/// Ticks `root` until it sends a fleet query, and answers it with `reply`.
fn answer_next_query(envoy: &MemoryEnvoy, root: &mut WorkerRoot<MemoryHost>, reply: MemoryReply) {
    for _ in 0..40 {
        envoy.advance(NANOS / 2);
        root.tick();
        if let Some(call) = envoy.take_calls(0).pop() {
            envoy.reply(root, call.token, reply);
            return;
        }
    }
    panic!("no query sent");
}

#[test]
fn a_pooled_rollouts_guard_judges_every_replicas_totals_and_this_envoys_after_a_failed_query() {
    // Every replica's totals show the canary failing; this Envoy saw nothing.
    let envoy = MemoryEnvoy::new((START_UNIX + 3600) * NANOS);
    let mut root = worker(&envoy, 0, &pooled_rollout_config());
    answer_next_query(
        &envoy,
        &mut root,
        prometheus_answer(&[("xgb", 1000, 1_000_000), ("rf", 1000, 700_000)]),
    );
    assert!(!serves_canary(&root), "rolled back on the pooled totals");

    // A failed query: the guard judges this Envoy's own outcomes (failing).
    let envoy = MemoryEnvoy::new((START_UNIX + 3600) * NANOS);
    let mut root = worker(&envoy, 0, &pooled_rollout_config());
    for _ in 0..3 {
        failing_canary_round(&root);
    }
    answer_next_query(&envoy, &mut root, MemoryReply::status("503", ""));
    assert!(!serves_canary(&root), "rolled back on this Envoy's totals");

    // Healthy pooled totals: no rollback, whatever this Envoy saw.
    let envoy = MemoryEnvoy::new((START_UNIX + 3600) * NANOS);
    let mut root = worker(&envoy, 0, &pooled_rollout_config());
    for _ in 0..3 {
        failing_canary_round(&root);
    }
    answer_next_query(
        &envoy,
        &mut root,
        prometheus_answer(&[("xgb", 1000, 1_000_000), ("rf", 1000, 1_000_000)]),
    );
    assert!(
        serves_canary(&root),
        "the pooled totals, not this Envoy's, are judged"
    );
}

// --- the fleet view's gauge and lines ----------------------------------------------------------------

#[test]
fn the_pooled_gauge_and_the_lines_follow_each_switch_once() {
    let envoy = MemoryEnvoy::new(T0);
    let mut roots = [worker(&envoy, 0, &pooled_config())];
    let good = pooled_answer();
    let down = MemoryReply::status("503", "");
    let pooled = "predictor_router.fraud-detection.pooled";
    for (step, reply) in std::iter::repeat_n(&good, 30)
        .chain(std::iter::repeat_n(&down, 100))
        .chain(std::iter::repeat_n(&good, 30))
        .enumerate()
    {
        envoy.advance(NANOS / 2);
        roots[0].tick();
        answer_fleet_queries(&envoy, &mut roots, reply);
        if step == 29 {
            assert_eq!(envoy.gauge(pooled), Some(1));
        }
        if step == 129 {
            assert_eq!(envoy.gauge(pooled), Some(0));
        }
    }
    assert_eq!(envoy.gauge(pooled), Some(1));
    assert_eq!(envoy.logged("learning from this Envoy's outcomes").len(), 1);
    assert_eq!(envoy.logged("answered again").len(), 1);
    assert!(!envoy
        .logged("pooled outcomes at 1799999970: xgb 100 trials 90000 reward_milli, rf 100 trials 10000 reward_milli")
        .is_empty());
}

#[test]
fn port_errors_read_as_the_host_named_them() {
    assert_eq!(PortError::CasMismatch.to_string(), "CasMismatch");
    assert_eq!(
        PortError::Refused("BadArgument".into()).to_string(),
        "BadArgument"
    );
}

// --- the shadow on one worker -------------------------------------------------------------------------

fn shadow_root(envoy: &Rc<MemoryEnvoy>, patch: Value) -> WorkerRoot<MemoryHost> {
    let mut shadow = json!({"percent": 100, "compare": "kserve_v1", "timeout_ms": 500});
    if let (Some(s), Some(p)) = (shadow.as_object_mut(), patch.as_object()) {
        s.extend(p.clone());
    }
    worker(envoy, 0, &shadow_with(shadow))
}

const PREDICTIONS: &[u8] = br#"{"predictions": [1, 0]}"#;

#[test]
fn the_shadows_and_the_clients_latencies_are_measured_from_the_hosts_clock() {
    let envoy = MemoryEnvoy::new(T0);
    let mut root = shadow_root(&envoy, json!({}));
    let state = root.state().unwrap().clone();
    let mut copy = StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
    copy.request_complete();
    envoy.advance(120 * MS);
    copy.response_headers(b"200", false);
    copy.response_chunk(PREDICTIONS.len(), true, |_| Some(PREDICTIONS.to_vec()));
    drop(copy);
    root.tick();
    let call = envoy.take_calls(0).pop().unwrap();
    envoy.advance(250 * MS);
    envoy.reply(&mut root, call.token, MemoryReply::ok(PREDICTIONS.to_vec()));
    state.flush();
    assert_eq!(shadow_count(&envoy, "agree"), 1);
    assert_eq!(shadow_count(&envoy, "served_latency_ms"), 120);
    assert_eq!(shadow_count(&envoy, "latency_ms"), 250);
}

#[test]
fn a_reply_without_headers_is_a_timeout_past_timeout_ms_and_a_failure_before() {
    for (after_ms, outcome) in [(600, "timeout"), (30, "failed")] {
        let envoy = MemoryEnvoy::new(T0);
        let mut root = shadow_root(&envoy, json!({}));
        let state = root.state().unwrap().clone();
        let mut copy =
            StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
        copy.request_complete();
        copy.response_headers(b"200", false);
        copy.response_chunk(PREDICTIONS.len(), true, |_| Some(PREDICTIONS.to_vec()));
        drop(copy);
        root.tick();
        let call = envoy.take_calls(0).pop().unwrap();
        envoy.advance(after_ms * MS);
        envoy.reply(&mut root, call.token, MemoryReply::none());
        state.flush();
        assert_eq!(shadow_count(&envoy, outcome), 1, "{outcome}");
    }
}

#[test]
fn max_in_flight_admits_that_many_copies_per_worker_and_counts_the_rest_skipped() {
    let envoy = MemoryEnvoy::new(T0);
    let root = shadow_root(&envoy, json!({"max_in_flight": 2}));
    let state = root.state().unwrap().clone();
    let start = || StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state));
    let (first, second) = (start(), start());
    assert!(first.is_some() && second.is_some());
    assert_eq!(state.shadow_in_flight(EXPERIMENT()), 2);
    assert!(start().is_none(), "the third waits for none: it is skipped");
    state.flush();
    assert_eq!(shadow_count(&envoy, "skipped"), 1);
    drop(first);
    assert_eq!(
        state.shadow_in_flight(EXPERIMENT()),
        1,
        "a copy that ended frees its place"
    );
    assert!(start().is_some());
}

/// A copy of a request whose body comes in `request` chunks, answered with `response` chunks; the
/// number of chunk reads; whether a callout was sent.
fn copy_with(
    envoy: &MemoryEnvoy,
    root: &mut WorkerRoot<MemoryHost>,
    request: &[usize],
    response: &[usize],
) -> (u32, bool) {
    let state = root.state().unwrap().clone();
    let reads = Cell::new(0u32);
    let read = |size: usize| {
        reads.set(reads.get() + 1);
        Some(vec![b' '; size])
    };
    let mut copy = StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
    for (i, size) in request.iter().enumerate() {
        copy.request_chunk(*size, i + 1 == request.len(), read);
    }
    copy.response_headers(b"200", false);
    for (i, size) in response.iter().enumerate() {
        copy.response_chunk(*size, i + 1 == response.len(), read);
    }
    drop(copy);
    root.tick();
    let sent = !envoy.take_calls(0).is_empty();
    (reads.get(), sent)
}

#[test]
fn copies_up_to_the_limit_are_sent_larger_ones_are_not_and_empty_chunks_are_never_read() {
    let envoy = MemoryEnvoy::new(T0);
    let mut root = shadow_root(&envoy, json!({}));
    assert_eq!(
        copy_with(&envoy, &mut root, &[0], &[0]),
        (0, true),
        "empty chunks: nothing read"
    );
    assert_eq!(
        copy_with(&envoy, &mut root, &[MAX_COPY_BYTES - 1, 1], &[1]),
        (3, true),
        "at the limit"
    );
    assert_eq!(
        copy_with(&envoy, &mut root, &[MAX_COPY_BYTES, 1], &[1]),
        (2, false),
        "one byte over"
    );
    let state = root.state().unwrap().clone();
    state.flush();
    assert_eq!(shadow_count(&envoy, "skipped"), 1, "the copy too large to make");
}

#[test]
fn a_clients_answer_over_the_copy_limit_is_not_compared() {
    let envoy = MemoryEnvoy::new(T0);
    let mut root = shadow_root(&envoy, json!({}));
    let state = root.state().unwrap().clone();
    // At the limit, the pair is compared (agree 1); one byte past it, it is not (agree stays 1).
    for (over, agreed) in [(false, 1), (true, 1)] {
        let mut copy =
            StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
        copy.request_complete();
        copy.response_headers(b"200", false);
        // The served answer, padded with spaces up to the limit (or one byte past it).
        let pad = MAX_COPY_BYTES - PREDICTIONS.len() + usize::from(over);
        copy.response_chunk(PREDICTIONS.len(), false, |_| Some(PREDICTIONS.to_vec()));
        copy.response_chunk(pad, true, |size| Some(vec![b' '; size]));
        drop(copy);
        root.tick();
        let call = envoy.take_calls(0).pop().unwrap();
        envoy.reply(&mut root, call.token, MemoryReply::ok(PREDICTIONS.to_vec()));
        state.flush();
        assert_eq!(
            shadow_count(&envoy, "agree"),
            agreed,
            "one byte over the limit: {over}"
        );
        assert_eq!(shadow_count(&envoy, "disagree"), 0);
    }
}

#[test]
fn a_stream_that_ends_before_its_request_or_its_answer_is_complete_sends_nothing() {
    let envoy = MemoryEnvoy::new(T0);
    let mut root = shadow_root(&envoy, json!({}));
    let state = root.state().unwrap().clone();
    // The client left during its request body.
    let mut copy = StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
    copy.request_chunk(10, false, |size| Some(vec![b'x'; size]));
    drop(copy);
    // The request was complete; the answer never was.
    let mut copy = StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
    copy.request_complete();
    copy.response_headers(b"200", false);
    drop(copy);
    root.tick();
    assert!(envoy.take_calls(0).is_empty());
    assert_eq!(state.shadow_in_flight(EXPERIMENT()), 0);
    state.flush();
    assert_eq!(shadow_count(&envoy, "skipped"), 2);
}

#[test]
fn each_wake_up_is_taken_off_the_queue_and_the_next_copy_posts_a_new_one() {
    let envoy = MemoryEnvoy::new(T0);
    let mut root = shadow_root(&envoy, json!({}));
    let state = root.state().unwrap().clone();
    let queue = root.desk().queue().unwrap();
    for round in 1..=2 {
        let mut copy =
            StreamCopy::start(&state, root.desk(), EXPERIMENT(), XGB(), copy_head(&state)).unwrap();
        copy.request_complete();
        copy.response_headers(b"200", true);
        drop(copy);
        assert_eq!(envoy.queue_len(queue), 1, "round {round}: one wake-up");
        root.woken(queue);
        assert_eq!(envoy.queue_len(queue), 0, "round {round}: taken off");
        assert_eq!(envoy.take_calls(0).len(), 1, "round {round}: sent on the wake-up");
    }
}

#[test]
fn each_root_has_a_queue_of_its_own_and_an_older_root_going_leaves_the_newer_ones() {
    let envoy = MemoryEnvoy::new(T0);
    let port = envoy.worker(0);
    let desk = Rc::new(ShadowDesk::new(port.clone()));
    let config = shadow_with(json!({"percent": 100}));
    let mut older = WorkerRoot::new(port.clone(), 7, desk.clone());
    older.configure(table(&config));
    let older_queue = desk.queue().unwrap();
    let mut newer = WorkerRoot::new(port, 8, desk.clone());
    newer.configure(table(&config));
    let newer_queue = desk.queue().unwrap();
    assert_ne!(older_queue, newer_queue);
    let names = [
        envoy.queue_name(older_queue).unwrap(),
        envoy.queue_name(newer_queue).unwrap(),
    ];
    assert!(names[0].starts_with("predictor_router.shadow.1.7."), "{names:?}");
    assert!(names[1].starts_with("predictor_router.shadow.2.8."), "{names:?}");
    drop(older);
    assert_eq!(
        desk.queue(),
        Some(newer_queue),
        "the newer root still gets the wake-ups"
    );
    drop(newer);
    assert_eq!(desk.queue(), None);
    assert!(envoy
        .logs
        .borrow()
        .iter()
        .all(|(_, level, _)| *level != Level::Warn));
}

#[test]
fn a_rollback_is_recorded_once_whoever_judges_it_again() {
    let envoy = MemoryEnvoy::new(T0);
    let config = rollout_config(10);
    let experiment = table(&config).experiments()[0].clone();
    let key = record::key_of(&experiment);
    let port = envoy.worker(0);
    use predictor_router::router::worker::merge::{claim, set_rolled_back};
    let (_, flags) = claim(&port, &key, &experiment);
    assert!(!flags.rolled_back);
    assert!(
        set_rolled_back(&port, &key, &experiment),
        "the first judge records it"
    );
    assert!(
        !set_rolled_back(&port, &key, &experiment),
        "a second finds it recorded"
    );
    assert!(claim(&port, &key, &experiment).1.rolled_back);
}

#[test]
fn a_worker_configured_after_a_pooled_answer_serves_it_from_its_first_request() {
    let envoy = MemoryEnvoy::new(T0);
    let config = pooled_config();
    let mut first = [worker(&envoy, 0, &config)];
    for _ in 0..40 {
        envoy.advance(NANOS / 2);
        first[0].tick();
        answer_fleet_queries(&envoy, &mut first, &pooled_answer());
        if envoy.counter("predictor_router.fleet.query_ok") > 0 {
            break;
        }
    }
    let late = worker(&envoy, 1, &config);
    let state = late.state().unwrap();
    let learning = state.learning.borrow();
    let experiment = &state.table.experiments()[0];
    assert_ne!(
        learning.assignments(EXPERIMENT(), experiment).buckets,
        &experiment.buckets,
        "before any tick, the last pooled answer is served"
    );
    assert_eq!(
        envoy.gauge_values(1, "predictor_router.fraud-detection.pooled"),
        vec![1]
    );
}

#[test]
fn a_plans_counts_and_outcome_reach_the_hosts_counters_and_the_learner() {
    use predictor_router::router::fake_request::FakeRequest;
    use predictor_router::router::plan::{plan_request, ConfiguredWeights};
    let envoy = MemoryEnvoy::new(T0);
    let config = experiment_with(json!({"adaptive": {"policy": "epsilon_greedy"}}));
    let root = worker(&envoy, 0, &config);
    let state = root.state().unwrap().clone();
    let mut request = FakeRequest::new().header(":path", "/predict").random(0);
    let plan = plan_request(&state.table, &ConfiguredWeights, &mut request);
    let routed = plan.routed.expect("the experiment matches every path");
    state.count_all(&plan.counts);
    state.apply(
        &plan.counts,
        routed.experiment,
        Some((routed.decision.predictor, Outcome::SUCCESS)),
    );
    state.flush();
    let predictor = &state.table.experiments()[0].predictors[routed.decision.predictor.index()].name;
    assert_eq!(
        envoy.counter(&format!(
            "predictor_router.fraud-detection.{predictor}.decision.random"
        )),
        2
    );
    drop(root);
    drop(state);
    let experiment = table(&config).experiments()[0].clone();
    let (totals, _) =
        decode_record(&experiment, &envoy.shared(&record::key_of(&experiment)).unwrap()).unwrap();
    assert_eq!(
        totals.outcomes(),
        1,
        "the outcome reached the learner, and was merged when the configuration left"
    );
}

#[test]
fn a_wake_up_empties_the_queue_whatever_the_host_posted() {
    use predictor_router::router::worker::HostPort;
    let envoy = MemoryEnvoy::new(T0);
    let mut root = shadow_root(&envoy, json!({}));
    let queue = root.desk().queue().unwrap();
    let port = envoy.worker(0);
    for _ in 0..3 {
        assert!(port.enqueue(queue));
    }
    root.woken(queue);
    assert_eq!(envoy.queue_len(queue), 0);
}
