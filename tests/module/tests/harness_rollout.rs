//! Progressive rollout through the compiled module in wasm-test-harness (contract "Progressive rollout"):
//! the step follows the host clock the harness sets (no test sleeps through a schedule), hashed canary
//! users never move, the guard rolls a failing canary back on every worker, a rollback outlives an
//! update that keeps the rollout, and a new `start` starts again.

use predictor_router_module_tests::rollout_fixture::{
    canary_users, config, failing_canary, failing_round, failing_traffic, gauge, hashed, lines, ramp, start,
    with_canary_cookie, PATH, SECOND,
};
use serde_json::json;
use wasm_test_harness::{Host, LogLevel};

#[test]
fn the_step_follows_the_clock_and_hashed_canary_users_never_move() {
    let config = config(ramp());
    let mut host = start(&config, 2);
    let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();

    // Before start: step 0, the canary gets nothing.
    assert_eq!(gauge(&host, "rollout.step"), Some(0));
    assert_eq!(gauge(&host, "rf.share_bp"), Some(0));
    assert_eq!(gauge(&host, "xgb.share_bp"), Some(10_000));
    assert!(users.iter().all(|u| hashed(&mut host, u) == "xgb"));
    assert_eq!(host.tick_periods_ms(), vec![500, 500]);

    let mut on_rf_before: Vec<String> = Vec::new();
    for (step, percent) in [(1u64, 5u32), (2, 20), (3, 50), (4, 100)] {
        host.advance_clock(60 * SECOND);
        host.tick().unwrap();
        assert_eq!(gauge(&host, "rollout.step"), Some(step), "step {step}");
        assert_eq!(gauge(&host, "rf.share_bp"), Some(u64::from(percent) * 100));
        let on_rf: Vec<String> = users
            .iter()
            .filter(|u| hashed(&mut host, u) == "rf")
            .cloned()
            .collect();
        let share = on_rf.len() as f64 / users.len() as f64;
        assert!(
            (share - f64::from(percent) / 100.0).abs() < 0.03,
            "step {step}: {share}"
        );
        for u in &on_rf_before {
            assert!(on_rf.contains(u), "{u} left the canary at step {step}");
        }
        on_rf_before = on_rf;
        let expected = format!("predictor_router: fraud-detection rollout step {step}/4: rf {percent}%");
        assert_eq!(
            lines(&host, LogLevel::Info, &expected).len(),
            2,
            "one line per worker: {expected}"
        );
    }
    assert_eq!(on_rf_before.len(), users.len(), "100 %: everyone");
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(0));
}

#[test]
fn the_tick_lands_on_the_next_step_change() {
    let mut host = start(&config(ramp()), 1);
    host.advance_clock(59 * SECOND + 700_000_000);
    host.tick().unwrap();
    let period = host.tick_periods_ms()[0];
    assert!((290..=300).contains(&period), "300 ms to the start: {period}");
    host.advance_clock(300_000_000);
    host.tick().unwrap();
    assert_eq!(gauge(&host, "rollout.step"), Some(1), "on time");
    assert_eq!(host.tick_periods_ms(), vec![500]);
}

#[test]
fn outcomes_count_only_from_start() {
    let mut host = start(&config(ramp()), 1);
    for i in 0..50 {
        hashed(&mut host, &format!("early-{i}"));
    }
    host.tick().unwrap();
    assert_eq!(
        host.counter("predictor_router.fraud-detection.xgb.outcome.trials"),
        0
    );
    host.advance_clock(60 * SECOND);
    host.tick().unwrap();
    for i in 0..50 {
        hashed(&mut host, &format!("late-{i}"));
    }
    host.advance_clock(SECOND);
    host.tick().unwrap();
    let trials = host.counter("predictor_router.fraud-detection.xgb.outcome.trials")
        + host.counter("predictor_router.fraud-detection.rf.outcome.trials");
    assert_eq!(trials, 50);
}

#[test]
fn a_failing_canary_is_rolled_back_on_every_worker_and_its_users_reassigned() {
    let config = config(failing_canary());
    let mut host = start(&config, 2);
    host.advance_clock(60 * SECOND);
    host.tick().unwrap();
    failing_traffic(&mut host, &config, 3);
    host.tick().unwrap();

    let warn = lines(&host, LogLevel::Warn, "rollout rolled back rf");
    assert_eq!(
        warn.len(),
        1,
        "logged once, by the worker that recorded it: {warn:?}"
    );
    assert!(
        warn[0].starts_with("predictor_router: fraud-detection rollout rolled back rf: success 7")
            && warn[0].contains("% vs baseline 100.0% (")
            && warn[0].ends_with(" outcomes, mSPRT at 99%)"),
        "{}",
        warn[0]
    );
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(1));
    assert_eq!(gauge(&host, "rf.share_bp"), Some(0));

    // Every worker: hashed canary users, cookie holders and new users all go to the baseline.
    let canary = canary_users(&config, 50, 20);
    for worker in 0..2 {
        for user in &canary {
            let e = host
                .request()
                .on_worker(worker)
                .path(PATH)
                .header("x-user-id", user)
                .send()
                .unwrap();
            assert_eq!(e.upstream_header("x-predictor").as_deref(), Some("xgb"));
        }
        let e = with_canary_cookie(&mut host, Some(worker));
        assert_eq!(
            e.upstream_header("x-predictor").as_deref(),
            Some("xgb"),
            "the cookie no longer holds"
        );
        assert!(e
            .response_header_values("set-cookie")
            .iter()
            .any(|c| c.starts_with("pr-fraud-detection=xgb;")));
        // Testers can still reach the failed canary.
        let e = host
            .request()
            .on_worker(worker)
            .path(PATH)
            .header("x-predictor-override", "rf")
            .send()
            .unwrap();
        assert_eq!(e.upstream_header("x-predictor").as_deref(), Some("rf"));
    }
    // The schedule still says step 1; the clock moving on changes nothing for the canary.
    host.advance_clock(600 * SECOND);
    host.tick().unwrap();
    assert_eq!(gauge(&host, "rollout.step"), Some(2));
    assert_eq!(gauge(&host, "rf.share_bp"), Some(0));
    assert_eq!(
        lines(&host, LogLevel::Info, "rollout step 2/2").len(),
        0,
        "no step lines after a rollback"
    );
}

#[test]
fn a_rollback_outlives_an_update_that_keeps_the_rollout_and_a_new_start_starts_again() {
    let config = config(failing_canary());
    let mut host = start(&config, 2);
    host.advance_clock(60 * SECOND);
    host.tick().unwrap();
    failing_traffic(&mut host, &config, 3);
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(1));

    // The same rollout with another routing detail (a response header): still rolled back.
    let mut kept = config.clone();
    kept["experiments"][0]["response_header"] = json!("x-served-by");
    host.reconfigure(kept.to_string()).unwrap();
    let user = &canary_users(&config, 50, 1)[0];
    assert_eq!(hashed(&mut host, user), "xgb");
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(1));

    // A new start (two seconds after the first, already past on the clock): a new rollout, from zero.
    let mut again = config.clone();
    again["experiments"][0]["rollout"]["start"] = json!("2026-01-01T00:01:02Z");
    host.reconfigure(again.to_string()).unwrap();
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(0));
    assert_eq!(gauge(&host, "rf.share_bp"), Some(5000));
    assert_eq!(hashed(&mut host, user), "rf");
}

#[test]
fn a_canary_as_good_as_the_baseline_is_not_rolled_back() {
    let config = config(failing_canary());
    let mut host = start(&config, 2);
    host.advance_clock(60 * SECOND);
    host.tick().unwrap();
    for round in 0..20 {
        for i in 0..100 {
            let status = if (i + round) % 50 == 0 { 503 } else { 200 };
            host.request()
                .path(PATH)
                .header("x-user-id", format!("aa-{round}-{i}"))
                .upstream_status(status)
                .send()
                .unwrap();
        }
        host.advance_clock(SECOND);
        host.tick().unwrap();
    }
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(0));
    assert!(host.counter("predictor_router.fraud-detection.rf.outcome.trials") > 500);
}

#[test]
fn feedback_of_a_sticky_user_before_start_is_neither_an_outcome_nor_unattributed() {
    let feedback = "/seldon/default/fraud-detection/api/v1.0/feedback";
    let mut rollout = ramp();
    rollout["reward"] = json!("feedback");
    rollout["feedback_path"] = json!(feedback);
    let mut host = start(&config(rollout), 1);
    let send = |host: &mut Host, extra: (&str, &str)| {
        host.request()
            .method("POST")
            .path(feedback)
            .header(extra.0, extra.1)
            .body(r#"{"reward": 1}"#)
            .send()
            .unwrap();
    };
    // Before start: a sticky feedback is not counted (outcomes count from start) and not unattributed
    // (it was decided sticky); a random one is unattributed, as always.
    send(&mut host, ("cookie", "pr-fraud-detection=xgb"));
    send(&mut host, ("x-request-id", "anonymous"));
    host.tick().unwrap();
    let counter = |host: &Host, name: &str| host.counter(&format!("predictor_router.fraud-detection.{name}"));
    assert_eq!(counter(&host, "feedback_unattributed"), 1);
    assert_eq!(counter(&host, "xgb.outcome.trials"), 0);
    // From start, the same sticky feedback is an outcome.
    host.advance_clock(60 * SECOND);
    host.tick().unwrap();
    send(&mut host, ("cookie", "pr-fraud-detection=xgb"));
    host.advance_clock(SECOND);
    host.tick().unwrap();
    assert_eq!(counter(&host, "xgb.outcome.trials"), 1);
    assert_eq!(counter(&host, "feedback_unattributed"), 1);
}

/// A worker with nothing to merge still reads the rollback on its next tick: the guard looks every 30 s
/// here, and a worker that had looked just before the other one rolled back must not hand the canary to
/// new users until its own next look.
#[test]
fn an_idle_worker_stops_the_canary_on_its_next_tick_not_at_its_next_look() {
    let mut canary = failing_canary();
    canary["update_seconds"] = json!(30);
    let config = config(canary);
    let mut host = start(&config, 2);
    host.advance_clock(60 * SECOND);
    host.tick().unwrap(); // step 1; both workers look (nothing yet), next look in 30 s.

    // All the failing traffic on worker 1, with no tick in between: nothing is merged before the look.
    let users = canary_users(&config, 50, 200);
    for round in 0..3 {
        failing_round(&mut host, &users, round, Some(1));
    }
    // Worker 0 ticks first: it looks at the (still empty) totals, then worker 1 merges and rolls back.
    host.advance_clock(30 * SECOND);
    host.tick().unwrap();
    assert_eq!(gauge(&host, "rollout.rolled_back"), Some(1));
    assert_eq!(lines(&host, LogLevel::Warn, "rollout rolled back rf").len(), 1);

    // One tick later (29 s before worker 0's next look), worker 0 gives the canary's users the baseline.
    host.advance_clock(SECOND);
    host.tick().unwrap();
    let fresh = canary_users(&config, 50, 220);
    for user in fresh.iter().skip(200) {
        let e = host
            .request()
            .on_worker(0)
            .path(PATH)
            .header("x-user-id", user)
            .send()
            .unwrap();
        assert_eq!(
            e.upstream_header("x-predictor").as_deref(),
            Some("xgb"),
            "{user} on worker 0 a tick after the rollback"
        );
    }
}
