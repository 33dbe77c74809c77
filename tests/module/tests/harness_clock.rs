//! The host clock is wall time, and wall time jumps (an NTP step, a VM restored from a snapshot, a
//! paused node): the compiled module in wasm-test-harness with the clock jumping back an hour, forward
//! a week, and standing still. Nothing traps; the rollout step follows the clock as the contract says
//! ("the current step follows from the host clock and `start` alone"), back as well as forward; a
//! rollback is never undone by a jump; and no periodic job (the guard's look, the fleet's query, the
//! bandit's recompute) waits for the clock to catch up with a deadline set before a jump back.

use predictor_router_module_tests::rollout_fixture::{
    canary_users, config, failing_canary, failing_traffic, gauge, hashed, lines, ramp, start,
    with_canary_cookie, PATH, SECOND,
};
use serde_json::json;
use wasm_test_harness::{Host, LogLevel, Upstream};

const HOUR: u64 = 3_600 * SECOND;
const WEEK: u64 = 7 * 24 * HOUR;
const PROMETHEUS: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";

/// (step, the canary's share in basis points, rolled back).
fn rollout_state(host: &Host) -> (u64, u64, u64) {
    let gauge = |name| gauge(host, name).unwrap_or_else(|| panic!("no gauge {name}"));
    (
        gauge("rollout.step"),
        gauge("rf.share_bp"),
        gauge("rollout.rolled_back"),
    )
}

/// The share of `users` the module sends to rf now.
fn on_canary(host: &mut Host, users: &[String]) -> f64 {
    let rf = users.iter().filter(|u| hashed(host, u) == "rf").count();
    rf as f64 / users.len() as f64
}

#[test]
fn the_step_follows_the_clock_back_an_hour_forward_a_week_and_standing_still() {
    let config = config(ramp());
    let mut host = start(&config, 2);
    let users: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    host.advance_clock(150 * SECOND); // start + 90 s: step 2
    host.tick().unwrap();
    assert_eq!(rollout_state(&host), (2, 2000, 0));
    let at_step_2 = host.clock_nanos();

    // Back an hour: before `start`, so step 0 and the canary gets no new users.
    host.set_clock(at_step_2 - HOUR);
    host.tick().unwrap();
    assert_eq!(rollout_state(&host), (0, 0, 0), "an hour back: before start");
    assert_eq!(on_canary(&mut host, &users), 0.0);
    // The tick never sleeps longer than its usual period, whatever the next change is.
    assert!(host.tick_periods_ms().iter().all(|p| (1..=500).contains(p)));

    // The clock comes back: step 2 again, the same users as before the jump.
    host.set_clock(at_step_2);
    host.tick().unwrap();
    assert_eq!(rollout_state(&host), (2, 2000, 0));
    let share = on_canary(&mut host, &users);
    assert!((share - 0.2).abs() < 0.04, "step 2: {share}");

    // Forward a week: the last step.
    host.set_clock(at_step_2 + WEEK);
    host.tick().unwrap();
    assert_eq!(rollout_state(&host), (4, 10_000, 0));
    assert_eq!(on_canary(&mut host, &users), 1.0);

    // Standing still: every read of the clock gives the same instant; requests, ticks, all the same.
    host.set_clock_step(0);
    let still = host.clock_nanos();
    for _ in 0..20 {
        assert_eq!(on_canary(&mut host, &users[..50]), 1.0);
        host.tick().unwrap();
    }
    assert_eq!(host.clock_nanos(), still, "the clock stood still");
    assert_eq!(rollout_state(&host), (4, 10_000, 0));
    assert!(
        host.logs_at_least(LogLevel::Error).is_empty(),
        "{:?}",
        host.logs_at_least(LogLevel::Error)
    );
}

#[test]
fn the_guard_keeps_looking_after_the_clock_jumps_back() {
    let config = config(failing_canary());
    let mut host = start(&config, 2);
    host.advance_clock(300 * SECOND); // start + 4 min: step 1, 50 %
    host.tick().unwrap();
    // The guard looks (nothing to judge yet) and sets its next look a second ahead.
    host.advance_clock(SECOND);
    host.tick().unwrap();
    // Two minutes back (still step 1): a look scheduled for start + 4 min must not wait two minutes.
    host.set_clock(host.clock_nanos() - 120 * SECOND);
    host.tick().unwrap();
    assert_eq!(rollout_state(&host), (1, 5000, 0));
    failing_traffic(&mut host, &config, 4);
    assert_eq!(
        rollout_state(&host),
        (1, 0, 1),
        "rolled back within four seconds of the new clock"
    );
    assert_eq!(lines(&host, LogLevel::Warn, "rollout rolled back rf").len(), 1);
}

#[test]
fn a_rollback_is_never_undone_by_a_clock_jump() {
    let config = config(failing_canary());
    let mut host = start(&config, 2);
    host.advance_clock(60 * SECOND);
    host.tick().unwrap();
    let canary = canary_users(&config, 50, 200);
    failing_traffic(&mut host, &config, 4);
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(1));
    let rolled_back_at = host.clock_nanos();
    let probe = &canary[..40];

    let check = |host: &mut Host, when: &str, step: u64| {
        host.tick().unwrap_or_else(|trap| panic!("{when}: {trap}"));
        assert_eq!(rollout_state(host), (step, 0, 1), "{when}");
        assert_eq!(on_canary(host, probe), 0.0, "{when}: a canary user was given rf");
        let e = with_canary_cookie(host, None);
        assert_eq!(
            e.upstream_header("x-predictor").as_deref(),
            Some("xgb"),
            "{when}: the cookie held"
        );
    };
    // Back before `start`, then past it again: the same rollout, still rolled back.
    host.set_clock(rolled_back_at - HOUR);
    check(&mut host, "an hour back", 0);
    // A configuration update that keeps the rollout, while the clock is before `start`.
    let mut kept = config.clone();
    kept["experiments"][0]["response_header"] = json!("x-served-by");
    host.reconfigure(kept.to_string()).unwrap();
    check(&mut host, "updated an hour back", 0);
    host.set_clock(rolled_back_at);
    check(&mut host, "back to the present", 1);
    host.set_clock(rolled_back_at + WEEK);
    check(&mut host, "a week ahead", 2);
    host.set_clock_step(0);
    for _ in 0..5 {
        check(&mut host, "standing still", 2);
    }
    assert_eq!(
        lines(&host, LogLevel::Warn, "rollout rolled back rf").len(),
        1,
        "rolled back once, never again"
    );
}

#[test]
fn a_pooled_experiment_keeps_querying_after_the_clock_jumps_back() {
    let config = json!({
        "experiments": [{
            "name": "fraud-detection",
            "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
            "adaptive": {"policy": "thompson", "update_seconds": 10, "min_outcomes": 100, "pooled": true}
        }],
        "fleet": {"prometheus": {"cluster": PROMETHEUS, "authority": "prometheus:9090", "timeout_ms": 2000}}
    });
    let mut host = start(&config, 2);
    host.upstream(
        PROMETHEUS,
        Upstream::respond(
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        ),
    );
    let queries = |host: &Host| host.counter("predictor_router.fleet.query_ok");
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
    host.advance_clock(10 * SECOND);
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
    assert_eq!(queries(&host), 2, "one query per update");
    // An hour back: the next update is asked at the next tick, not in an hour.
    host.set_clock(host.clock_nanos() - HOUR);
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
    assert_eq!(queries(&host), 3, "queried at once after the jump");
    host.advance_clock(SECOND);
    host.tick().unwrap();
    assert!(host.callouts().is_empty(), "and only once for that update");
    host.advance_clock(9 * SECOND);
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
    assert_eq!(queries(&host), 4, "then every update_seconds of the new clock");
    // A week ahead, and standing still there.
    host.set_clock(host.clock_nanos() + WEEK);
    host.set_clock_step(0);
    for _ in 0..5 {
        host.tick().unwrap();
        host.deliver_callouts().unwrap();
        host.request().path(PATH).send().unwrap();
    }
    assert_eq!(queries(&host), 5, "one query for the instant the clock stands at");
}
