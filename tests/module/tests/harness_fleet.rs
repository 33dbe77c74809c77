//! The fleet view through the compiled module in wasm-test-harness (contract "Fleet view"): one query per
//! update per Envoy whatever its worker count, sent from the tick (never from a request), evaluated at
//! the aligned instant; the answer applied by every worker; failures, timeouts, garbage and oversized
//! answers handled without a trap; local learning after three failed updates and back; a dead asker's
//! claim taken over; a pooled rollout rolled back from pooled numbers. The harness clock is the only
//! clock: no test sleeps.

use predictor_router::router::adaptive::allocation::allocate;
use predictor_router::router::config::parse;
use predictor_router::router::fleet::promql::{outcome_query, percent_encode};
use predictor_router::router::outcomes::{ArmTotals, Totals};
use predictor_router_module_tests::module::module_bytes;
use serde_json::{json, Value};
use wasm_test_harness::{Host, LogLevel, Upstream};

const PATH: &str = "/seldon/default/fraud-detection/api/v1.0/predictions";
const SECOND: u64 = 1_000_000_000;
const CLUSTER: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";
/// The harness clock starts at 2026-01-01T00:00:00Z.
const CLOCK_START: u64 = 1_767_225_600;

fn config(pooled: Value) -> Value {
    let mut experiment = json!({
        "name": "fraud-detection",
        "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
        "sticky": {"user_header": "x-user-id"},
    });
    let block = if pooled.get("canary").is_some() {
        "rollout"
    } else {
        "adaptive"
    };
    experiment[block] = pooled;
    json!({
        "experiments": [experiment],
        "fleet": {"prometheus": {"cluster": CLUSTER, "authority": "prometheus:9090",
                                 "timeout_ms": 2000, "delay_seconds": 30, "window_seconds": 600}}
    })
}

fn adaptive() -> Value {
    json!({"policy": "thompson", "update_seconds": 10, "min_outcomes": 100, "pooled": true})
}

fn start(config: &Value, workers: usize) -> Host {
    Host::new(module_bytes())
        .with_config(config.to_string())
        .workers(workers)
        .log_level(LogLevel::Debug)
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The query API's answer with these totals (trials, reward_milli) per predictor.
fn answer(arms: &[(&str, f64, f64)]) -> String {
    let mut result = Vec::new();
    for (predictor, trials, reward) in arms {
        for (outcome, value) in [("trials", trials), ("reward_milli", reward)] {
            result.push(json!({"metric": {"predictor": predictor, "outcome": outcome},
                               "value": [1_767_225_570, value.to_string()]}));
        }
    }
    json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string()
}

fn xgb_wins() -> String {
    answer(&[("xgb", 5000.0, 4_750_000.0), ("rf", 5000.0, 2_500_000.0)])
}

/// What the core computes for the same totals (the allocation every replica must serve).
fn expected_shares(config: &Value, arms: &[(u64, u64)]) -> Vec<u64> {
    let experiment = parse(config.to_string().as_bytes())
        .unwrap()
        .into_experiments()
        .remove(0);
    let totals = Totals {
        arms: arms
            .iter()
            .map(|(trials, reward_milli)| ArmTotals {
                trials: *trials,
                reward_milli: *reward_milli,
            })
            .collect(),
    };
    allocate(&experiment, &totals)
        .shares_bp
        .into_iter()
        .map(u64::from)
        .collect()
}

fn metric(host: &Host, name: &str) -> Option<u64> {
    host.metrics().get(name).copied()
}

fn shares(host: &Host) -> Vec<u64> {
    ["xgb", "rf"]
        .iter()
        .map(|p| metric(host, &format!("predictor_router.fraud-detection.{p}.share_bp")).unwrap_or(0))
        .collect()
}

fn pooled_gauge(host: &Host) -> Option<u64> {
    metric(host, "predictor_router.fraud-detection.pooled")
}

fn warn_lines(host: &Host, needle: &str) -> usize {
    host.logs_at_least(LogLevel::Warn)
        .iter()
        .filter(|l| l.message.contains(needle))
        .count()
}

/// One tick on every worker, then every answer due delivered.
fn update(host: &mut Host) {
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
}

#[test]
fn one_query_per_update_whatever_the_worker_count_at_the_aligned_instant() {
    let config = config(adaptive());
    let mut host = start(&config, 4);
    assert!(host.callouts().is_empty(), "nothing is sent at configuration");
    host.tick().unwrap();
    let callouts = host.callouts();
    assert_eq!(callouts.len(), 1, "one query for four workers: {callouts:?}");
    let query = &callouts[0];
    assert_eq!(query.upstream, CLUSTER);
    assert_eq!(query.timeout_ms, 2000);
    assert!(!query.from_stream, "sent from the root context");
    // T = floor(now / 10) * 10 - 30; the harness clock starts on a multiple of 10 s.
    let t = CLOCK_START - 30;
    let path = format!(
        "/api/v1/query?query={}&time={t}",
        percent_encode(&outcome_query("fraud-detection", "", 600))
    );
    assert_eq!(query.headers.get(":path"), Some(path.as_bytes()));
    assert_eq!(query.headers.get(":method"), Some(&b"GET"[..]));
    assert_eq!(query.headers.get(":authority"), Some(&b"prometheus:9090"[..]));
    // More ticks in the same update: no more queries while one is in flight (within its deadline).
    host.advance_clock(2 * SECOND);
    host.tick().unwrap();
    assert_eq!(host.callouts().len(), 1);
    host.upstream(CLUSTER, Upstream::respond(200, xgb_wins()));
    assert_eq!(host.deliver_callouts().unwrap(), 1);
    host.tick().unwrap();
    assert!(host.callouts().is_empty());
    // Requests never send anything.
    for i in 0..200 {
        host.request()
            .path(PATH)
            .header("x-user-id", format!("u{i}"))
            .send()
            .unwrap();
    }
    assert!(host.callouts().is_empty());
    // The next update: exactly one more, at T + 10.
    host.advance_clock(8 * SECOND);
    host.tick().unwrap();
    let callouts = host.callouts();
    assert_eq!(callouts.len(), 1);
    let path = String::from_utf8(callouts[0].headers.get(":path").unwrap().to_vec()).unwrap();
    assert!(path.ends_with(&format!("&time={}", t + 10)), "{path}");
    assert_eq!(host.counter("predictor_router.fleet.query_ok"), 1);
}

#[test]
fn every_worker_serves_the_allocation_of_the_pooled_totals() {
    let config = config(adaptive());
    let mut host = start(&config, 3);
    host.upstream(CLUSTER, Upstream::respond(200, xgb_wins()));
    // Before the first answer: the configured weights, pooled gauge 1.
    assert_eq!(shares(&host), [5000, 5000]);
    assert_eq!(pooled_gauge(&host), Some(1));
    update(&mut host);
    let expected = expected_shares(&config, &[(5000, 4_750_000), (5000, 2_500_000)]);
    assert!(expected[0] > 9000, "{expected:?}");
    // The asker applied it at once; the others on their next tick.
    host.tick().unwrap();
    assert_eq!(shares(&host), expected);
    // Every worker routes hashed users from the same allocation (each request goes to the next worker).
    let users: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    let mut route_all = || -> Vec<String> {
        users
            .iter()
            .map(|u| {
                host.request()
                    .path(PATH)
                    .header("x-user-id", u)
                    .send()
                    .unwrap()
                    .upstream_header("x-predictor")
                    .unwrap()
            })
            .collect()
    };
    let first = route_all();
    for _ in 0..2 {
        assert_eq!(route_all(), first, "another worker, the same predictors");
    }
    let on_xgb = first.iter().filter(|p| *p == "xgb").count();
    assert!(on_xgb > 250, "{on_xgb} of 300 on xgb");
    // The totals the update used, at debug level, once (by the worker that asked).
    let debug: Vec<String> = host
        .logs()
        .into_iter()
        .filter(|l| l.message.contains("pooled outcomes at"))
        .map(|l| l.message)
        .collect();
    assert_eq!(
        debug,
        [format!(
            "predictor_router: fraud-detection pooled outcomes at {}: xgb 5000 trials 4750000 reward_milli, \
             rf 5000 trials 2500000 reward_milli",
            CLOCK_START - 30
        )]
    );
    let info: Vec<String> = host
        .logs_at_least(LogLevel::Info)
        .into_iter()
        .filter(|l| l.message.contains("allocation"))
        .map(|l| l.message)
        .collect();
    assert!(
        info.iter()
            .all(|l| l.ends_with("(thompson, 10000 outcomes of every replica)")),
        "{info:?}"
    );
}

#[test]
fn failures_keep_the_pooled_allocation_then_learn_locally_after_three_and_pool_again() {
    let config = config(adaptive());
    let mut host = start(&config, 2);
    host.upstream(CLUSTER, Upstream::respond(200, xgb_wins()));
    update(&mut host);
    host.tick().unwrap();
    let pooled = shares(&host);
    assert!(pooled[0] > 9000);

    host.upstream(CLUSTER, Upstream::respond(500, "{\"status\":\"error\"}"));
    for failed in 1..=3u64 {
        host.advance_clock(10 * SECOND);
        update(&mut host);
        host.tick().unwrap();
        assert_eq!(host.counter("predictor_router.fleet.query_failed"), failed);
        if failed < 3 {
            assert_eq!(shares(&host), pooled, "kept after {failed} failure(s)");
            assert_eq!(pooled_gauge(&host), Some(1));
        }
    }
    // Local: this Envoy's own outcomes (none yet: burn-in, the configured weights).
    assert_eq!(pooled_gauge(&host), Some(0));
    assert_eq!(shares(&host), [5000, 5000]);
    assert_eq!(
        warn_lines(
            &host,
            "fleet queries failed 3 updates in a row (HTTP status 500): learning from this Envoy's outcomes"
        ),
        1,
        "one line per change, by the worker that wrote it"
    );
    // A fourth failure changes nothing more.
    host.advance_clock(10 * SECOND);
    update(&mut host);
    assert_eq!(warn_lines(&host, "fleet queries failed"), 1);

    host.upstream(CLUSTER, Upstream::respond(200, xgb_wins()));
    host.advance_clock(10 * SECOND);
    update(&mut host);
    host.tick().unwrap();
    assert_eq!(pooled_gauge(&host), Some(1));
    assert_eq!(shares(&host), pooled);
    assert_eq!(
        warn_lines(
            &host,
            "fleet query answered again: learning from every replica's outcomes"
        ),
        1
    );
    assert_eq!(host.counter("predictor_router.fleet.query_ok"), 2);
}

#[test]
fn slow_refused_garbage_and_oversized_answers_fail_the_query_without_a_trap() {
    let nan = answer(&[("xgb", f64::NAN, 0.0)]);
    let negative = answer(&[("rf", -3.0, 0.0)]);
    let huge = format!("{{\"status\":\"success\",\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    let cases: Vec<(&str, Upstream)> = vec![
        ("slow", Upstream::respond(200, xgb_wins()).after_ms(2500)),
        ("silent", Upstream::Silent),
        ("refused", Upstream::Fail),
        ("500", Upstream::respond(500, "boom")),
        ("garbage", Upstream::respond(200, "<html>Bad Gateway</html>")),
        ("2 MiB", Upstream::respond(200, huge)),
        ("NaN", Upstream::respond(200, nan)),
        ("negative", Upstream::respond(200, negative)),
        (
            "matrix",
            Upstream::respond(
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            ),
        ),
    ];
    let config = config(adaptive());
    for (name, upstream) in cases {
        let mut host = start(&config, 2);
        host.upstream(CLUSTER, upstream);
        host.tick().unwrap();
        host.advance_clock(3 * SECOND); // past the timeout
        host.deliver_callouts().unwrap();
        host.tick().unwrap();
        // A trap would have failed the unwraps above (the harness returns traps as errors).
        assert_eq!(host.counter("predictor_router.fleet.query_failed"), 1, "{name}");
        assert_eq!(host.counter("predictor_router.fleet.query_ok"), 0, "{name}");
        assert_eq!(shares(&host), [5000, 5000], "{name}");
        for i in 0..20 {
            let response = host
                .request()
                .path(PATH)
                .header("x-user-id", format!("u{i}"))
                .send()
                .unwrap();
            assert_eq!(response.status(), 200, "{name}");
        }
    }
}

#[test]
fn a_claim_whose_asker_never_answers_is_taken_over_after_its_deadline() {
    let config = config(adaptive());
    let mut host = start(&config, 2);
    host.tick().unwrap();
    let first = host.callouts();
    assert_eq!(first.len(), 1);
    // No answer is ever delivered (the asker's VM is gone, say). Within the deadline (timeout 2 s +
    // 1 s grace) nobody asks again.
    host.advance_clock(2 * SECOND);
    host.tick().unwrap();
    assert_eq!(host.callouts().len(), 1);
    host.advance_clock(1_500_000_000);
    host.tick().unwrap();
    let callouts = host.callouts();
    assert_eq!(callouts.len(), 2, "taken over: {callouts:?}");
    let taken_over: Vec<_> = callouts.iter().filter(|c| c.worker != first[0].worker).collect();
    assert_eq!(taken_over.len(), 1, "by the other worker: {callouts:?}");
    assert_eq!(
        taken_over[0].headers.get(":path"),
        first[0].headers.get(":path"),
        "the same update"
    );
}

#[test]
fn a_pooled_rollout_is_rolled_back_from_the_pooled_numbers_and_judges_locally_when_a_query_fails() {
    let rollout = json!({"canary": "rf", "start": "2026-01-01T00:00:00Z",
        "steps": [{"percent": 50, "minutes": 60}, {"percent": 100}],
        "update_seconds": 10, "guard": {"min_outcomes": 50}, "pooled": true});
    let config = config(rollout);
    let mut host = start(&config, 2);
    // T = start - 30 s: nothing to pool before start, no query.
    host.tick().unwrap();
    assert!(host.callouts().is_empty());
    // 40 s later T = start + 10 s: the window is the 10 s since start.
    host.advance_clock(40 * SECOND);
    host.tick().unwrap();
    let callouts = host.callouts();
    assert_eq!(callouts.len(), 1);
    let path = String::from_utf8(callouts[0].headers.get(":path").unwrap().to_vec()).unwrap();
    assert!(path.contains(&percent_encode("[10s]")), "{path}");
    // This Envoy saw nothing wrong; the fleet's numbers say the canary fails 40 % of the time.
    host.upstream(
        CLUSTER,
        Upstream::respond(
            200,
            answer(&[("xgb", 2000.0, 1_980_000.0), ("rf", 2000.0, 1_200_000.0)]),
        ),
    );
    host.deliver_callouts().unwrap();
    host.tick().unwrap();
    assert_eq!(
        metric(&host, "predictor_router.fraud-detection.rollout.rolled_back"),
        Some(1)
    );
    assert_eq!(shares(&host), [10_000, 0]);
    assert_eq!(warn_lines(&host, "rollout rolled back rf"), 1);
    assert_eq!(host.counter("predictor_router.fleet.query_ok"), 1);
    // Rolled back: no more queries.
    host.advance_clock(10 * SECOND);
    host.tick().unwrap();
    assert!(host.callouts().is_empty());

    // A failed query: the guard judges this Envoy's own outcomes at once (the safety net stays on).
    let mut host = start(&config, 2);
    host.advance_clock(40 * SECOND);
    host.upstream(CLUSTER, Upstream::Fail);
    update(&mut host);
    host.tick().unwrap();
    assert_eq!(pooled_gauge(&host), Some(0));
    assert_eq!(
        warn_lines(&host, "fleet query failed (no response (connection failed, reset or timed out)): the guard judges this Envoy's outcomes"),
        1
    );
    assert_eq!(
        metric(&host, "predictor_router.fraud-detection.rollout.rolled_back"),
        Some(0),
        "no local evidence either"
    );
}
