//! The worker's protocols natively (`router::worker`): two and more workers of one Envoy on an
//! in-memory host (shared data with Envoy's compare-and-swap rules, one clock the test sets), driven
//! through the same entry points the proxy-wasm root context forwards to (configure, tick, callout
//! replies, queue wake-ups). The compiled module in the harness and in Envoy proves the adapter; these
//! prove the protocols, in every interleaving the property tests draw.

mod worker_support;

use predictor_router::router::outcomes::record::decode_record;
use predictor_router::router::outcomes::{record, Outcome};
use predictor_router::router::plan::Allocations;
use predictor_router::router::worker::memory::{MemoryEnvoy, MemoryHost, MemoryReply};
use predictor_router::router::worker::shadow::StreamCopy;
use predictor_router::router::worker::{Level, WorkerRoot};
use predictor_router_core_tests::invalid_configs::{experiment_with, shadow_with};
use proptest::prelude::*;
use serde_json::json;
use worker_support::*;

#[test]
fn an_idle_worker_stops_the_canary_on_its_next_tick_after_another_rolled_it_back() {
    let envoy = MemoryEnvoy::new((START_UNIX + 5) * NANOS);
    // update_seconds 30: the idle worker's own look is not due for 30 s.
    let config = rollout_config(30);
    let mut busy = worker(&envoy, 0, &config);
    let mut idle = worker(&envoy, 1, &config);
    busy.tick();
    idle.tick();
    assert!(serves_canary(&busy) && serves_canary(&idle));
    let mut rounds = 0;
    while serves_canary(&busy) {
        rounds += 1;
        assert!(rounds <= 20, "the guard never rolled back");
        failing_canary_round(&busy);
        envoy.advance(31 * NANOS);
        busy.tick();
    }
    assert_eq!(envoy.logged("rolled back").len(), 1, "{:?}", envoy.logs.borrow());
    // Half a tick later: the idle worker, with nothing to merge and no look due, reads the record.
    envoy.advance(NANOS / 2);
    idle.tick();
    assert!(
        !serves_canary(&idle),
        "the idle worker still gives new users the canary"
    );
    assert_eq!(
        envoy.logged("rolled back").len(),
        1,
        "the rollback is logged once per Envoy"
    );
}

#[test]
fn the_guard_keeps_looking_after_the_clock_jumps_back_an_hour() {
    // Two hours into the rollout: an hour back is still within its first step.
    let envoy = MemoryEnvoy::new((START_UNIX + 7200) * NANOS);
    let mut root = worker(&envoy, 0, &rollout_config(1));
    root.tick();
    // A look is due a second from now; the clock then goes back an hour. A deadline further ahead than
    // one period is due now: the guard must not wait an hour for its next look.
    envoy.advance(NANOS / 2);
    root.tick();
    envoy.clock.set(envoy.clock.get() - 3600 * NANOS);
    let mut ticks = 0;
    while serves_canary(&root) {
        ticks += 1;
        assert!(
            ticks <= 20,
            "no rollback in {ticks} ticks after the clock jumped back"
        );
        failing_canary_round(&root);
        envoy.advance(NANOS);
        root.tick();
    }
    // The rollback is never undone, whatever the clock does next.
    envoy.advance(7 * 24 * 3600 * NANOS);
    root.tick();
    assert!(!serves_canary(&root));
}

#[test]
fn after_turning_local_a_worker_without_traffic_shows_the_allocation_that_is_served() {
    let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
    let config = pooled_config();
    let mut roots = vec![worker(&envoy, 0, &config), worker(&envoy, 1, &config)];
    // Worker 0 serves every request, and xgb is clearly better. Prometheus answers for 20 s (both
    // workers learn from every replica's totals; worker 1 merges nothing and reads no local totals),
    // then goes down until the learners turn local.
    let gauge = "predictor_router.fraud-detection.rf.share_bp";
    let down = MemoryReply::status("503", "down");
    for step in 0..200 {
        for _ in 0..20 {
            record_outcome(&roots[0], XGB(), Outcome::SUCCESS);
            record_outcome(&roots[0], RF(), Outcome::FAILURE);
        }
        envoy.advance(NANOS / 2);
        for root in roots.iter_mut() {
            root.tick();
        }
        let reply = if step < 40 { pooled_answer() } else { down.clone() };
        answer_fleet_queries(&envoy, &mut roots, &reply);
        if !envoy.logged("learning from this Envoy's outcomes").is_empty() {
            break;
        }
    }
    let recorded_before_the_switch = envoy.gauge_values(1, gauge).len();
    assert!(
        !envoy.logged("learning from this Envoy's outcomes").is_empty(),
        "the learners never turned local: {:?}",
        envoy.logs.borrow()
    );
    // Let both workers recompute once more from what they merged.
    envoy.advance(11 * NANOS);
    for root in roots.iter_mut() {
        root.tick();
    }
    let served = |root: &WorkerRoot<MemoryHost>| {
        let state = root.state().unwrap();
        let learning = state.learning.borrow();
        learning
            .assignments(EXPERIMENT(), &state.table.experiments()[0])
            .buckets
            .clone()
    };
    assert_eq!(
        served(&roots[0]),
        served(&roots[1]),
        "both workers serve one allocation"
    );
    // Every share_bp the idle worker recorded after the switch is a learned one (rf below half), never
    // the burn-in 50 % of the totals it had before it turned pooled.
    let idle_rf = envoy.gauge_values(1, gauge).split_off(recorded_before_the_switch);
    assert!(
        idle_rf.iter().all(|v| *v < 5000),
        "the idle worker showed rf at {idle_rf:?} bp after the switch"
    );
}

#[test]
fn two_workers_claim_each_update_once_and_apply_the_same_answer() {
    let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
    let config = pooled_config();
    let mut roots = [worker(&envoy, 0, &config), worker(&envoy, 1, &config)];
    let mut sent_at = Vec::new();
    for step in 0..120 {
        envoy.advance(NANOS / 2);
        // Alternate which worker ticks first.
        let order: [usize; 2] = if step % 2 == 0 { [0, 1] } else { [1, 0] };
        for n in order {
            roots[n].tick();
        }
        for (n, root) in roots.iter_mut().enumerate() {
            for call in envoy.take_calls(n) {
                sent_at.push(call.plan.path.clone());
                envoy.reply(root, call.token, pooled_answer());
            }
        }
    }
    // 60 s of 10 s updates: about six queries, never two for one instant.
    let mut unique = sent_at.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        sent_at.len(),
        "an update was asked twice: {sent_at:#?}"
    );
    assert!((5..=7).contains(&sent_at.len()), "{} queries", sent_at.len());
    assert_eq!(
        envoy.counter("predictor_router.fleet.query_ok"),
        sent_at.len() as u64
    );
    let rf_share = envoy
        .gauge("predictor_router.fraud-detection.rf.share_bp")
        .unwrap();
    assert!(
        rf_share < 5000,
        "the pooled answer moved the allocation: rf {rf_share}"
    );
}

#[test]
fn a_shadow_copy_is_sent_by_the_root_and_its_reply_finishes_the_pair_once() {
    let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
    let config = shadow_with(json!({"percent": 100, "compare": "status"}));
    let mut root = worker(&envoy, 0, &config);
    let state = root.state().unwrap().clone();
    let desk = root.desk().clone();
    let mut copy =
        StreamCopy::start(&state, &desk, EXPERIMENT(), XGB(), copy_head(&state)).expect("admitted");
    copy.request_chunk(2, true, |_| Some(b"{}".to_vec()));
    copy.response_headers(b"200", true);
    drop(copy);
    assert_eq!(envoy.take_calls(0).len(), 0, "the copy waits for the root");
    let queue = desk.queue().expect("a queue was registered");
    assert_eq!(envoy.queue_len(queue), 1, "one wake-up posted");
    root.woken(queue);
    let calls = envoy.take_calls(0);
    assert_eq!(calls.len(), 1);
    assert_eq!(root.callouts_in_flight(), 1);
    envoy.reply(&mut root, calls[0].token, MemoryReply::ok("{}"));
    envoy.reply(&mut root, calls[0].token, MemoryReply::ok("{}"));
    assert_eq!(root.callouts_in_flight(), 0);
    assert_eq!(state.shadow_in_flight(EXPERIMENT()), 0);
    state.flush();
    // (`copied` is the request plan's count; the pair counts its outcome, once.)
    assert_eq!(
        envoy.counter("predictor_router.fraud-detection.xgb.shadow.rf-v2.agree"),
        1
    );
    assert_eq!(
        envoy.counter("predictor_router.fraud-detection.xgb.shadow.rf-v2.failed"),
        0
    );
}

#[test]
fn copies_in_flight_when_their_root_goes_are_counted_skipped() {
    let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
    let config = shadow_with(json!({"percent": 100, "compare": "status"}));
    let mut root = worker(&envoy, 0, &config);
    let state = root.state().unwrap().clone();
    let desk = root.desk().clone();
    for _ in 0..3 {
        let mut copy =
            StreamCopy::start(&state, &desk, EXPERIMENT(), XGB(), copy_head(&state)).expect("admitted");
        copy.request_complete();
        copy.response_headers(b"200", true);
    }
    root.tick();
    assert_eq!(root.callouts_in_flight(), 3);
    drop(root);
    assert_eq!(state.shadow_in_flight(EXPERIMENT()), 0);
    state.flush();
    assert_eq!(
        envoy.counter("predictor_router.fraud-detection.xgb.shadow.rf-v2.skipped"),
        3
    );
    assert!(envoy
        .logs
        .borrow()
        .iter()
        .all(|(_, level, _)| *level != Level::Warn));
}

/// What a worker does next, in a property test's schedule.
#[derive(Debug, Clone)]
enum Op {
    /// An outcome on worker `w`.
    Outcome { w: usize, rf: bool, success: bool },
    /// Worker `w`'s tick.
    Tick { w: usize },
    /// The next `n` shared-data writes lose their race.
    Contend { n: u32 },
    /// The clock moves on.
    Advance { millis: u64 },
}

fn op(workers: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..workers, any::<bool>(), any::<bool>()).prop_map(|(w, rf, success)| Op::Outcome { w, rf, success }),
        2 => (0..workers).prop_map(|w| Op::Tick { w }),
        1 => (1u32..12).prop_map(|n| Op::Contend { n }),
        1 => (1u64..3_000).prop_map(|millis| Op::Advance { millis }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The merge protocol: whatever the order of outcomes, ticks and lost races across two to four
    /// workers, once every worker's configuration leaves service the shared record holds every outcome
    /// exactly once.
    #[test]
    fn every_outcome_is_merged_exactly_once_in_any_interleaving(
        workers in 2usize..5,
        ops in prop::collection::vec(op(4), 1..200),
    ) {
        let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
        let config = experiment_with(json!({"adaptive": {"policy": "epsilon_greedy", "update_seconds": 1}}));
        let mut roots: Vec<_> = (0..workers).map(|n| worker(&envoy, n, &config)).collect();
        let mut expected = [(0u64, 0u64); 2];
        for op in ops {
            match op {
                Op::Outcome { w, rf, success } => {
                    let Some(root) = roots.get(w) else { continue };
                    let outcome = if success { Outcome::SUCCESS } else { Outcome::FAILURE };
                    record_outcome(root, if rf { RF() } else { XGB() }, outcome);
                    let arm = &mut expected[usize::from(rf)];
                    arm.0 += 1;
                    arm.1 += u64::from(outcome.reward_milli);
                }
                Op::Tick { w } => {
                    if let Some(root) = roots.get_mut(w) { root.tick() }
                }
                Op::Contend { n } => envoy.lose_races.set(n),
                Op::Advance { millis } => envoy.advance(millis * 1_000_000),
            }
        }
        envoy.lose_races.set(0);
        let experiment = table(&config).experiments()[0].clone();
        // Each configuration leaves service: what is still pending is merged then.
        for root in roots.drain(..) {
            let state = root.state().unwrap().clone();
            drop(root);
            drop(state);
        }
        let stored = envoy.shared(&record::key_of(&experiment)).expect("a record");
        let (totals, _) = decode_record(&experiment, &stored).expect("this experiment's record");
        let got: Vec<(u64, u64)> = totals.arms.iter().map(|a| (a.trials, a.reward_milli)).collect();
        prop_assert_eq!(got, expected.to_vec());
    }

    /// The pooled view's claims: however the workers' ticks interleave with the clock, each aligned
    /// update is asked of Prometheus at most once per Envoy.
    #[test]
    fn each_update_is_asked_once_whatever_the_order_of_ticks(
        workers in 2usize..5,
        ticks in prop::collection::vec((0usize..4, 1u64..1_500), 1..150),
    ) {
        let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
        let config = pooled_config();
        let mut roots: Vec<_> = (0..workers).map(|n| worker(&envoy, n, &config)).collect();
        let mut asked = Vec::new();
        for (w, millis) in ticks {
            envoy.advance(millis * 1_000_000);
            if let Some(root) = roots.get_mut(w % workers) { root.tick() }
            for n in 0..workers {
                for call in envoy.take_calls(n) {
                    asked.push(call.plan.path.clone());
                    if let Some(root) = roots.get_mut(n) {
                        envoy.reply(root, call.token, MemoryReply::status("503", ""));
                    }
                }
            }
        }
        let mut unique = asked.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), asked.len());
    }
}

#[test]
fn the_shadows_reply_body_is_read_and_compared_with_the_clients_answer() {
    let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
    let config = shadow_with(json!({"percent": 100, "compare": "kserve_v1"}));
    let mut root = worker(&envoy, 0, &config);
    let served = br#"{"predictions": [1, 0]}"#;
    copy_and_reply(
        &envoy,
        &mut root,
        served,
        MemoryReply::ok(r#"{"predictions": [1, 0]}"#),
    );
    copy_and_reply(
        &envoy,
        &mut root,
        served,
        MemoryReply::ok(r#"{"predictions": [1, 1]}"#),
    );
    // Too large to compare (the copy limit): read nowhere, failed.
    let huge = vec![b' '; predictor_router::router::shadow::MAX_COPY_BYTES + 1];
    let reads = envoy.body_reads.get();
    copy_and_reply(&envoy, &mut root, served, MemoryReply::ok(huge));
    assert_eq!(envoy.body_reads.get(), reads, "a body over the limit is not read");
    let state = root.state().unwrap().clone();
    state.flush();
    let count = |m: &str| envoy.counter(&format!("predictor_router.fraud-detection.xgb.shadow.rf-v2.{m}"));
    assert_eq!((count("agree"), count("disagree"), count("failed")), (1, 1, 1));
}

#[test]
fn a_fleet_reply_without_a_body_reads_none_and_a_replaced_configurations_reply_is_dropped() {
    let envoy = MemoryEnvoy::new(1_800_000_000 * NANOS);
    let config = pooled_config();
    let mut root = worker(&envoy, 0, &config);
    let mut sent = Vec::new();
    for _ in 0..40 {
        envoy.advance(NANOS / 2);
        root.tick();
        sent.extend(envoy.take_calls(0));
        if sent.len() == 2 {
            break;
        }
    }
    assert_eq!(sent.len(), 1, "one query in flight at a time");
    // An empty 200: no body to read (Envoy would be asked for nothing), the answer refused.
    envoy.reply(&mut root, sent[0].token, MemoryReply::ok(""));
    assert_eq!(envoy.body_reads.get(), 0);
    assert_eq!(envoy.counter("predictor_router.fleet.query_failed"), 1);
    // The next query is in flight when the configuration is replaced: its reply no longer applies.
    while envoy.calls.borrow().is_empty() {
        envoy.advance(NANOS / 2);
        root.tick();
    }
    let pending = envoy.take_calls(0);
    root.configure(table(&config));
    assert_eq!(
        root.callouts_in_flight(),
        0,
        "the replaced configuration's query is forgotten"
    );
    envoy.reply(&mut root, pending[0].token, pooled_answer());
    assert_eq!(
        envoy.counter("predictor_router.fleet.query_ok"),
        0,
        "a reply of no callout in flight is dropped"
    );
}
