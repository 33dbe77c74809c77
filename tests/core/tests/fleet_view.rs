//! The fleet view's core (contract "Fleet view"), natively: the aligned instant, the exact PromQL and URL of
//! the query, the query API's answer read into totals (and every way it can be refused), the exchange
//! the workers of one Envoy share (claims, answers, pooled and local), and that the same pooled totals
//! give the same allocation on every replica.

use predictor_router::router::adaptive::learner::Learner;
use predictor_router::router::callout::{Answer, Failure};
use predictor_router::router::config::{parse, Experiment};
use predictor_router::router::fleet::answer::{parse as parse_answer, totals_of, MAX_ANSWER_BYTES};
use predictor_router::router::fleet::exchange::{
    exchange_key, Consumer, Exchange, Source, CLAIM_GRACE_NANOS, LOCAL_AFTER_FAILURES,
};
use predictor_router::router::fleet::instant::{aligned_instant, rollout_window};
use predictor_router::router::fleet::promql::{
    escape_label_value, outcome_query, percent_encode, query_plan, sum_query,
};
use predictor_router::router::fleet::QueryFailure;
use predictor_router::router::outcomes::{ArmTotals, Totals};
use predictor_router::router::table::RoutingTable;
use predictor_router_core_tests::invalid_configs::{experiment_with, fleet_with};
use serde_json::json;

const NANOS: u64 = 1_000_000_000;

fn pooled_experiment() -> (Experiment, predictor_router::router::config::PrometheusSource) {
    let config = parse(
        fleet_with(json!({"selector": "namespace=\"istio-ingress\""}))
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let source = config.fleet().unwrap().prometheus.clone();
    (config.experiments()[0].clone(), source)
}

fn vector(samples: &[(&str, &str, &str)]) -> Vec<u8> {
    let result: Vec<_> = samples
        .iter()
        .map(|(predictor, outcome, value)| {
            json!({"metric": {"predictor": predictor, "outcome": outcome}, "value": [1_765_000_000.5, value]})
        })
        .collect();
    json!({"status": "success", "data": {"resultType": "vector", "result": result}})
        .to_string()
        .into_bytes()
}

fn arm(trials: u64, reward_milli: u64) -> ArmTotals {
    ArmTotals { trials, reward_milli }
}

#[test]
fn the_aligned_instant_is_the_same_anywhere_in_an_update_interval() {
    // update 10 s, delay 30 s: every instant of [1000, 1010) evaluates at 970.
    for now in 1000..1010 {
        assert_eq!(aligned_instant(now, 10, 30), 970);
    }
    assert_eq!(aligned_instant(1010, 10, 30), 980);
    assert_eq!(aligned_instant(1_765_000_123, 60, 0), 1_765_000_080);
    assert_eq!(aligned_instant(5, 10, 30), 0, "saturates before the epoch");
    assert_eq!(aligned_instant(7, 0, 0), 7, "update_seconds 0 is treated as 1");
    assert_eq!(rollout_window(1000, 1600), Some(600));
    assert_eq!(rollout_window(1000, 1000), None);
    assert_eq!(rollout_window(1000, 900), None);
}

#[test]
fn the_query_is_exactly_the_specs_two_sums_tagged_by_outcome() {
    assert_eq!(
        sum_query(
            "predictor_router_outcome_trials",
            "fraud-detection",
            "namespace=\"istio-ingress\"",
            3600
        ),
        "sum by (predictor) (increase(predictor_router_outcome_trials{experiment=\"fraud-detection\",namespace=\"istio-ingress\"}[3600s]))"
    );
    assert_eq!(
        sum_query("predictor_router_outcome_trials", "a", "", 60),
        "sum by (predictor) (increase(predictor_router_outcome_trials{experiment=\"a\"}[60s]))"
    );
    assert_eq!(
        outcome_query("fraud-detection", "", 600),
        "label_replace(sum by (predictor) (increase(predictor_router_outcome_trials{experiment=\"fraud-detection\"}[600s])), \
         \"outcome\", \"trials\", \"\", \"\") or label_replace(sum by (predictor) (increase(\
         predictor_router_outcome_reward_milli{experiment=\"fraud-detection\"}[600s])), \"outcome\", \"reward_milli\", \"\", \"\")"
    );
}

#[test]
fn label_values_are_escaped_as_promql_strings() {
    assert_eq!(escape_label_value("fraud-detection"), "fraud-detection");
    assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    assert_eq!(
        sum_query("m", "x\"}or{y", "", 60),
        "sum by (predictor) (increase(m{experiment=\"x\\\"}or{y\"}[60s]))"
    );
}

#[test]
fn the_plan_is_a_get_of_the_configured_path_with_query_and_time() {
    let (experiment, source) = pooled_experiment();
    let plan = query_plan(&source, &experiment.name, 3600, 1_765_000_000);
    assert_eq!(
        plan.cluster,
        "outbound|9090||prometheus.monitoring.svc.cluster.local"
    );
    assert_eq!(plan.authority, "prometheus.monitoring.svc.cluster.local:9090");
    assert_eq!(plan.method, "GET");
    assert_eq!(plan.timeout_ms, 2000);
    let query = outcome_query("fraud-detection", "namespace=\"istio-ingress\"", 3600);
    assert_eq!(
        plan.path,
        format!("/api/v1/query?query={}&time=1765000000", percent_encode(&query))
    );
    assert!(plan.path.starts_with(
        "/api/v1/query?query=label_replace%28sum%20by%20%28predictor%29%20%28increase%28predictor_router_outcome_trials%7Bexperiment%3D%22fraud-detection%22%2Cnamespace%3D%22istio-ingress%22%7D%5B3600s%5D%29%29"
    ));
    assert_eq!(percent_encode("a-Z_0.9~ /&=+%|"), "a-Z_0.9~%20%2F%26%3D%2B%25%7C");
    assert!(plan.body.is_empty());
}

#[test]
fn an_answer_becomes_totals_per_listed_predictor() {
    let (experiment, _) = pooled_experiment();
    let body = vector(&[
        ("xgb", "trials", "1200"),
        ("xgb", "reward_milli", "1140000"),
        ("rf", "trials", "299.6"),
        ("rf", "reward_milli", "150000.4"),
        // a predictor removed from the configuration: ignored
        ("svm", "trials", "10"),
    ]);
    let totals = parse_answer(&body, &experiment).unwrap();
    assert_eq!(totals.arms, vec![arm(1200, 1_140_000), arm(300, 150_000)]);
    // A predictor without samples (no traffic in the window) has zero.
    let body = vector(&[("xgb", "trials", "5"), ("xgb", "reward_milli", "5000")]);
    assert_eq!(
        parse_answer(&body, &experiment).unwrap().arms,
        vec![arm(5, 5000), arm(0, 0)]
    );
    // An empty vector: nothing yet.
    assert_eq!(parse_answer(&vector(&[]), &experiment).unwrap(), Totals::zero(2));
    // Extrapolation can put reward above 1000 per trial: capped.
    let body = vector(&[("rf", "trials", "10"), ("rf", "reward_milli", "10400")]);
    assert_eq!(parse_answer(&body, &experiment).unwrap().arms[1], arm(10, 10_000));
    // Rounded to the nearest whole number, .5 away from zero.
    let body = vector(&[("rf", "trials", "2.5"), ("rf", "reward_milli", "0.49")]);
    assert_eq!(parse_answer(&body, &experiment).unwrap().arms[1], arm(3, 0));
}

#[test]
fn values_that_are_not_finite_numbers_at_least_zero_fail_the_query() {
    let (experiment, _) = pooled_experiment();
    for value in ["NaN", "+Inf", "-Inf", "-1", "-0.6", "", "12abc", "0x10", "1e400"] {
        let body = vector(&[("xgb", "trials", value)]);
        assert_eq!(
            parse_answer(&body, &experiment),
            Err(QueryFailure::BadSample {
                predictor: "xgb".into(),
                value: value.into()
            }),
            "{value:?}"
        );
    }
    // -0 is zero; huge finite values saturate.
    let body = vector(&[("xgb", "trials", "-0"), ("rf", "trials", "1e30")]);
    let totals = parse_answer(&body, &experiment).unwrap();
    assert_eq!((totals.arms[0].trials, totals.arms[1].trials), (0, u64::MAX));
}

#[test]
fn anything_but_a_success_vector_of_our_series_fails_the_query() {
    let (experiment, _) = pooled_experiment();
    let cases: Vec<(Vec<u8>, QueryFailure)> = vec![
        (
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#.to_vec(),
            QueryFailure::NotSuccess("parse error at char 4".into()),
        ),
        (
            br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_vec(),
            QueryFailure::NotVector("matrix".into()),
        ),
        (
            br#"{"status":"success"}"#.to_vec(),
            QueryFailure::NotVector("none".into()),
        ),
        (
            vector(&[("xgb", "latency", "1")]),
            QueryFailure::UnexpectedSeries("{outcome=\"latency\",predictor=\"xgb\"}".into()),
        ),
        (
            vector(&[("xgb", "trials", "1"), ("xgb", "trials", "2")]),
            QueryFailure::UnexpectedSeries("{outcome=\"trials\",predictor=\"xgb\"}".into()),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            parse_answer(&body, &experiment),
            Err(expected),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    // A scalar's result is not a list of samples: refused while reading.
    let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#;
    for garbage in [
        &scalar[..],
        b"<html>502 Bad Gateway</html>",
        b"",
        b"{",
        b"null",
        b"[]",
    ] {
        assert!(
            matches!(parse_answer(garbage, &experiment), Err(QueryFailure::NotJson(_))),
            "{garbage:?}"
        );
    }
    let huge = vec![b' '; MAX_ANSWER_BYTES + 1];
    assert_eq!(parse_answer(&huge, &experiment), Err(QueryFailure::TooLarge));
}

#[test]
fn a_callouts_failure_or_status_fails_the_query() {
    let (experiment, _) = pooled_experiment();
    let ok = Answer::Response {
        status: 200,
        body: vector(&[("rf", "trials", "1")]),
    };
    assert_eq!(totals_of(&ok, &experiment).unwrap().arms[1].trials, 1);
    let cases = [
        (Answer::Failed(Failure::NoResponse), QueryFailure::NoResponse),
        (Answer::Failed(Failure::BadStatus), QueryFailure::BadStatusLine),
        (Answer::Failed(Failure::TooLarge), QueryFailure::TooLarge),
        (
            Answer::Response {
                status: 500,
                body: b"oops".to_vec(),
            },
            QueryFailure::Status(500),
        ),
        (
            Answer::Response {
                status: 204,
                body: Vec::new(),
            },
            QueryFailure::Status(204),
        ),
    ];
    for (answer, expected) in cases {
        assert_eq!(totals_of(&answer, &experiment), Err(expected));
    }
    // The reasons read well in a log line.
    assert_eq!(
        QueryFailure::NoResponse.to_string(),
        "no response (connection failed, reset or timed out)"
    );
    assert_eq!(QueryFailure::Status(503).to_string(), "HTTP status 503");
}

#[test]
fn one_claim_per_update_and_a_dead_askers_claim_expires() {
    let start = Exchange::new();
    let now = 1_000 * NANOS;
    let claimed = start.claim(970, now, 2000).expect("nobody asked yet");
    assert_eq!(claimed.claimed, 970);
    assert_eq!(claimed.asking_until, Some(now + 2 * NANOS + CLAIM_GRACE_NANOS));
    // Another worker, the same update: not its to ask.
    assert_eq!(claimed.claim(970, now + NANOS, 2000), None);
    // The next update while the query is in flight: not yet.
    assert_eq!(claimed.claim(980, now + NANOS, 2000), None);
    // The asker died: after the deadline, the same update is claimed again.
    let deadline = claimed.asking_until.unwrap();
    let again = claimed.claim(970, deadline, 2000).expect("expired claim");
    assert_eq!(again.claimed, 970);
    // Answered: nobody asks this update again; the next one is claimable.
    let answered = again.answer(970, Ok(Totals::zero(2))).unwrap();
    assert_eq!(answered.asking_until, None);
    assert_eq!(answered.answers, 1);
    assert_eq!(answered.claim(970, deadline + NANOS, 2000), None);
    assert_eq!(
        answered.claim(960, deadline + NANOS, 2000),
        None,
        "an older update"
    );
    assert!(answered.claim(980, deadline + NANOS, 2000).is_some());
    // A late answer of a claim taken over by a newer update is dropped.
    let newer = answered.claim(980, deadline + NANOS, 2000).unwrap();
    assert_eq!(newer.answer(970, Ok(Totals::zero(2))), None);
    assert_eq!(answered.answer(970, Ok(Totals::zero(2))), None, "answered twice");
}

#[test]
fn a_clock_jumping_back_does_not_stop_the_next_claim() {
    let now = 10_000 * NANOS;
    // Answered at 10,000 s; the clock then goes back an hour: the next update (6,390) is claimed.
    let answered = Exchange::new()
        .claim(9_990, now, 2000)
        .unwrap()
        .answer(9_990, Ok(Totals::zero(2)))
        .unwrap();
    let back = now - 3_600 * NANOS;
    let again = answered
        .claim(6_390, back, 2000)
        .expect("a claim from the future is stale");
    assert_eq!(again.claimed, 6_390);
    // ...and only once: the next worker at the same instant is not to ask.
    assert_eq!(again.claim(6_390, back + NANOS, 2000), None);
    // A claim in flight when the clock went back: its deadline is an hour ahead, more than any
    // claim made now could set, so it has expired.
    let in_flight = Exchange::new().claim(9_990, now, 2000).unwrap();
    assert!(in_flight.claim(6_390, back, 2000).is_some());
    // Without a jump, an older instant is still not claimed again.
    assert_eq!(answered.claim(9_989, now - NANOS / 2, 2000), None);
}

/// Runs updates with the given results through the exchange; the source after each.
fn sources(consumer: Consumer, results: &[bool]) -> Vec<Source> {
    let mut exchange = Exchange::new();
    let mut out = Vec::new();
    for (i, ok) in results.iter().enumerate() {
        let t = 1000 + 10 * i as u64;
        let now = t * NANOS + 30 * NANOS;
        exchange = exchange.claim(t, now, 2000).unwrap();
        let totals = Totals {
            arms: vec![arm(i as u64, 0), arm(0, 0)],
        };
        exchange = exchange
            .answer(t, if *ok { Ok(totals) } else { Err(()) })
            .unwrap();
        out.push(exchange.source(consumer));
    }
    out
}

#[test]
fn adaptive_keeps_the_last_pooled_totals_then_goes_local_after_three_failures_and_back_on_success() {
    use Source::{Local, Pooled};
    assert_eq!(LOCAL_AFTER_FAILURES, 3);
    assert_eq!(
        sources(
            Consumer::Adaptive,
            &[true, false, false, false, false, true, false]
        ),
        [Pooled, Pooled, Pooled, Local, Local, Pooled, Pooled]
    );
    // The last pooled totals are kept through failures.
    let mut exchange = Exchange::new();
    exchange = exchange.claim(10, 40 * NANOS, 2000).unwrap();
    let totals = Totals {
        arms: vec![arm(7, 7000), arm(3, 0)],
    };
    exchange = exchange.answer(10, Ok(totals.clone())).unwrap();
    exchange = exchange.claim(20, 50 * NANOS, 2000).unwrap();
    exchange = exchange.answer(20, Err(())).unwrap();
    assert_eq!(exchange.pooled, Some((10, totals)));
    assert_eq!(exchange.failures_in_row, 1);
}

#[test]
fn a_rollout_judges_its_own_envoy_from_the_first_failure() {
    use Source::{Local, Pooled};
    assert_eq!(
        sources(Consumer::Rollout, &[true, false, true, false, false]),
        [Pooled, Local, Pooled, Local, Local]
    );
    assert_eq!(Exchange::new().source(Consumer::Rollout), Pooled);
}

#[test]
fn the_exchange_round_trips_and_another_definitions_bytes_are_not_read() {
    let (experiment, _) = pooled_experiment();
    let mut exchange = Exchange::new();
    assert_eq!(
        Exchange::decode(&experiment, &exchange.encode(&experiment)),
        Some(exchange.clone())
    );
    exchange = exchange.claim(970, 1000 * NANOS, 2000).unwrap();
    assert_eq!(
        Exchange::decode(&experiment, &exchange.encode(&experiment)),
        Some(exchange.clone())
    );
    exchange = exchange
        .answer(
            970,
            Ok(Totals {
                arms: vec![arm(1200, 1_140_000), arm(300, 150_000)],
            }),
        )
        .unwrap();
    let bytes = exchange.encode(&experiment);
    assert_eq!(Exchange::decode(&experiment, &bytes), Some(exchange.clone()));
    // Another definition (a predictor renamed): not this experiment's exchange.
    let other = parse(
        json!({"experiments": [{"name": "fraud-detection",
            "predictors": [{"name": "xgb", "weight": 50}, {"name": "gbm", "weight": 50}],
            "adaptive": {"policy": "thompson", "pooled": true}}],
            "fleet": {"prometheus": {"cluster": "c", "authority": "a"}}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(Exchange::decode(&other.experiments()[0], &bytes), None);
    // Truncated or corrupted bytes never panic and read as nothing.
    for n in 0..bytes.len() {
        assert_eq!(Exchange::decode(&experiment, &bytes[..n]), None, "{n} bytes");
    }
    let mut flipped = bytes.clone();
    flipped[12] = 7; // the "asking" byte
    assert_eq!(Exchange::decode(&experiment, &flipped), None);
    assert_eq!(
        exchange_key("fraud-detection"),
        "predictor_router.fleet.fraud-detection"
    );
}

#[test]
fn the_same_pooled_totals_give_every_replica_the_same_allocation() {
    let (experiment, _) = pooled_experiment();
    let totals = Totals {
        arms: vec![arm(5_000, 4_750_000), arm(5_000, 2_500_000)],
    };
    // Two replicas whose own outcomes differ, and a third that just started.
    let own_a = Totals {
        arms: vec![arm(4_500, 4_275_000), arm(4_500, 2_250_000)],
    };
    let own_b = Totals {
        arms: vec![arm(500, 475_000), arm(500, 250_000)],
    };
    let (a, _) = Learner::resume_pooled(&experiment, own_a, Some(&totals));
    let (b, _) = Learner::resume_pooled(&experiment, own_b, Some(&totals));
    let (mut c, _) = Learner::resume_pooled(&experiment, Totals::zero(2), None);
    assert!(
        !c.allocation().learned,
        "nothing pooled yet: the configured weights"
    );
    // The Thompson estimate spread over slices (as on the tick) gives the same result.
    let mut report = c.recompute_from(&experiment, &totals, 1000);
    for i in 0u64.. {
        if !c.estimating() {
            break;
        }
        report = c.step(&experiment, i, 1000);
    }
    assert!(report.allocation_changed);
    assert_eq!(a.allocation(), b.allocation());
    assert_eq!(a.allocation(), c.allocation());
    assert!(a.allocation().learned);
    assert!(
        a.allocation().shares_bp[0] > 9000,
        "{:?}",
        a.allocation().shares_bp
    );
    assert_eq!(a.source(), Source::Pooled);
    // Pooled: the learner's own schedule is off; local: on.
    assert!(!a.needs_totals(u64::MAX));
    let mut local = a;
    local.set_source(Source::Local, 5);
    assert!(local.needs_totals(5));
}

#[test]
fn fleet_without_a_pooled_experiment_is_a_warning_and_pooled_with_fleet_is_valid() {
    let mut config = fleet_with(json!({}));
    config["experiments"][0]["adaptive"]["pooled"] = json!(false);
    let table = RoutingTable::parse(config.to_string().as_bytes()).unwrap();
    assert_eq!(
        table.warnings(),
        ["fleet: no experiment has `pooled: true`, so Prometheus is never queried"]
    );
    let table = RoutingTable::parse(fleet_with(json!({})).to_string().as_bytes()).unwrap();
    assert!(table.warnings().is_empty());
    let fleet = table.fleet().unwrap();
    assert_eq!(
        (
            fleet.prometheus.path.as_str(),
            fleet.prometheus.selector.as_str(),
            fleet.prometheus.timeout_ms,
            fleet.prometheus.delay_seconds,
            fleet.prometheus.window_seconds
        ),
        ("/api/v1/query", "", 2000, 30, 3600)
    );
    assert!(table.experiments()[0].is_pooled());
    // A pooled rollout is valid with fleet.
    let mut rollout = experiment_with(
        json!({"rollout": {"canary": "rf", "start": "2026-12-07T09:00:00Z",
        "steps": [{"percent": 5, "minutes": 30}, {"percent": 100}], "pooled": true}}),
    );
    rollout["fleet"] = fleet_with(json!({}))["fleet"].clone();
    let table = RoutingTable::parse(rollout.to_string().as_bytes()).unwrap();
    assert!(table.experiments()[0].is_pooled());
    // Selectors: matchers with any operator and quoting, spaces and a trailing comma.
    for selector in [
        "",
        "  ",
        "namespace=\"istio-ingress\"",
        "namespace = \"istio-ingress\" , pod=~'gw-.*',",
        "a!=\"\\\"x\\\\\",b!~\"y\"",
    ] {
        let config = fleet_with(json!({ "selector": selector }));
        assert!(parse(config.to_string().as_bytes()).is_ok(), "{selector:?}");
    }
    let config = parse(
        fleet_with(json!({"selector": " namespace=\"a\", "}))
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(config.fleet().unwrap().prometheus.selector, "namespace=\"a\"");
}
