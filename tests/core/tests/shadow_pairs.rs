//! Shadow comparison's pairs and plans, natively: a pair of answers finishes exactly once whatever the
//! order its two sides report in (the stream and the root context do not know of each other); the
//! request plan samples only eligible requests, with one draw, and reads the copy's headers only then;
//! the copy carries the method, the rewritten path, `content-type` and the body, nothing else; the
//! counters are named as the contract says.

use predictor_router::router::config::Compare;
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::ids::{ExperimentId, PredictorId};
use predictor_router::router::metrics::{counter_name, Counter, CounterCatalog};
use predictor_router::router::plan::{plan_request, ConfiguredWeights, ShadowCopy};
use predictor_router::router::shadow::compare::Outcome;
use predictor_router::router::shadow::pair::{Finished, Pair, ServedEnd, ShadowEnd, ShadowMeasure};
use predictor_router::router::table::RoutingTable;
use predictor_router_core_tests::invalid_configs::shadow_with;
use proptest::prelude::*;
use serde_json::json;

const XGB_ANSWER: &[u8] = br#"{"data":{"names":["t:0","t:1"],"ndarray":[[0.9,0.1],[0.2,0.8]]},"meta":{}}"#;
const SAME_CLASSES: &[u8] = br#"{"data":{"ndarray":[[0.7,0.3],[0.4,0.6]]}}"#;
const OTHER_CLASSES: &[u8] = br#"{"data":{"ndarray":[[0.3,0.7],[0.4,0.6]]}}"#;

fn complete(body: &[u8], latency_ms: u64) -> ServedEnd {
    ServedEnd::Complete {
        status: 200,
        body: Some(body.to_vec()),
        latency_ms,
    }
}

fn replied(body: &[u8], latency_ms: u64) -> ShadowEnd {
    ShadowEnd::Replied {
        status: 200,
        body: Some(body.to_vec()),
        latency_ms,
    }
}

#[test]
fn a_pair_finishes_when_its_second_side_reports_in_either_order() {
    for served_first in [true, false] {
        let mut pair = Pair::new(Compare::Seldon, 1000);
        let (first, second) = if served_first {
            (
                pair.served(complete(XGB_ANSWER, 7)),
                pair.shadow(replied(SAME_CLASSES, 30)),
            )
        } else {
            let shadow = pair.shadow(replied(SAME_CLASSES, 30));
            (shadow, pair.served(complete(XGB_ANSWER, 7)))
        };
        assert_eq!(first, None, "served first: {served_first}");
        assert_eq!(
            second,
            Some(Finished {
                outcome: Outcome::Agree { abs_diff_milli: 200 },
                latencies_ms: Some((30, 7)),
            })
        );
        assert!(pair.is_finished() && pair.shadow_ended());
        // Nothing after the finish counts again.
        assert_eq!(pair.served(ServedEnd::Gone), None);
        assert_eq!(pair.shadow(ShadowEnd::NotSent), None);
    }
}

#[test]
fn a_client_gone_or_a_copy_never_sent_finishes_the_pair_at_once_as_skipped() {
    // The client left before its answer was complete: skipped now, while the copy is still out; the
    // copy still counts as outstanding until the shadow's side reports.
    let mut pair = Pair::new(Compare::Seldon, 1000);
    let gone = pair.served(ServedEnd::Gone).expect("finished");
    assert_eq!(gone.outcome, Outcome::Skipped);
    assert!(!pair.shadow_ended());
    assert_eq!(pair.shadow(replied(SAME_CLASSES, 5)), None);
    assert!(pair.shadow_ended());

    // Too large to copy: skipped before the client's answer, which then changes nothing.
    let mut pair = Pair::new(Compare::Seldon, 1000);
    assert_eq!(
        pair.shadow(ShadowEnd::NotSent).map(|f| f.outcome),
        Some(Outcome::Skipped)
    );
    assert_eq!(pair.served(complete(XGB_ANSWER, 3)), None);
}

/// What a finished pair adds to its counters.
type Measures = Vec<(ShadowMeasure, u64)>;

#[test]
fn every_outcome_of_a_pair_and_what_it_counts() {
    let cases: Vec<(ServedEnd, ShadowEnd, Outcome, Measures)> = vec![
        (
            complete(XGB_ANSWER, 7),
            replied(OTHER_CLASSES, 30),
            Outcome::Disagree { abs_diff_milli: 600 },
            vec![
                (ShadowMeasure::Disagree, 1),
                (ShadowMeasure::AbsDiffMilli, 600),
                (ShadowMeasure::LatencyMs, 30),
                (ShadowMeasure::ServedLatencyMs, 7),
            ],
        ),
        (
            complete(XGB_ANSWER, 7),
            ShadowEnd::Replied {
                status: 500,
                body: Some(b"oops".to_vec()),
                latency_ms: 2,
            },
            Outcome::Failed,
            vec![(ShadowMeasure::Failed, 1)],
        ),
        (
            complete(XGB_ANSWER, 7),
            replied(b"not json", 2),
            Outcome::Failed,
            vec![(ShadowMeasure::Failed, 1)],
        ),
        (
            complete(XGB_ANSWER, 7),
            ShadowEnd::NoResponse { elapsed_ms: 1000 },
            Outcome::Timeout,
            vec![(ShadowMeasure::Timeout, 1)],
        ),
        (
            // Envoy's own 504 at the timeout is a timeout; another 504 is the shadow's: a failure.
            complete(XGB_ANSWER, 7),
            ShadowEnd::Replied {
                status: 504,
                body: Some(b"upstream request timeout".to_vec()),
                latency_ms: 1000,
            },
            Outcome::Timeout,
            vec![(ShadowMeasure::Timeout, 1)],
        ),
        (
            complete(XGB_ANSWER, 7),
            ShadowEnd::Replied {
                status: 504,
                body: Some(b"gateway timeout from the shadow's own proxy".to_vec()),
                latency_ms: 1000,
            },
            Outcome::Failed,
            vec![(ShadowMeasure::Failed, 1)],
        ),
        (
            complete(XGB_ANSWER, 7),
            ShadowEnd::NoResponse { elapsed_ms: 3 },
            Outcome::Failed,
            vec![(ShadowMeasure::Failed, 1)],
        ),
        (
            ServedEnd::Complete {
                status: 503,
                body: Some(b"no healthy upstream".to_vec()),
                latency_ms: 1,
            },
            replied(SAME_CLASSES, 30),
            Outcome::Skipped,
            vec![(ShadowMeasure::Skipped, 1)],
        ),
        (
            ServedEnd::Complete {
                status: 200,
                body: None, // over the copy limit
                latency_ms: 1,
            },
            replied(SAME_CLASSES, 30),
            Outcome::Skipped,
            vec![(ShadowMeasure::Skipped, 1)],
        ),
    ];
    for (served, shadow, expected, measures) in cases {
        let mut pair = Pair::new(Compare::Seldon, 1000);
        assert_eq!(pair.served(served.clone()), None);
        let finished = pair.shadow(shadow.clone()).expect("finished");
        assert_eq!(finished.outcome, expected, "{served:?} / {shadow:?}");
        assert_eq!(finished.measures().collect::<Vec<_>>(), measures, "{expected:?}");
    }
    // `status`: only the classes.
    let mut pair = Pair::new(Compare::Status, 1000);
    pair.served(complete(b"anything", 1));
    let finished = pair
        .shadow(ShadowEnd::Replied {
            status: 201,
            body: None,
            latency_ms: 4,
        })
        .expect("finished");
    assert_eq!(finished.outcome, Outcome::Agree { abs_diff_milli: 0 });
}

fn any_served() -> impl Strategy<Value = ServedEnd> {
    prop_oneof![
        Just(ServedEnd::Gone),
        (
            prop_oneof![Just(200u16), Just(503), Just(0)],
            any::<bool>(),
            0u64..5000
        )
            .prop_map(|(status, same, latency_ms)| ServedEnd::Complete {
                status,
                body: Some(if same { XGB_ANSWER } else { b"x" as &[u8] }.to_vec()),
                latency_ms,
            }),
    ]
}

fn any_shadow() -> impl Strategy<Value = ShadowEnd> {
    prop_oneof![
        Just(ShadowEnd::NotSent),
        (0u64..3000).prop_map(|elapsed_ms| ShadowEnd::NoResponse { elapsed_ms }),
        (prop_oneof![Just(200u16), Just(500)], any::<bool>(), 0u64..5000).prop_map(
            |(status, agree, latency_ms)| ShadowEnd::Replied {
                status,
                body: Some(if agree { SAME_CLASSES } else { OTHER_CLASSES }.to_vec()),
                latency_ms,
            }
        ),
    ]
}

proptest! {
    /// Any sequence of reports, repeated and in any order, finishes the pair exactly once when both
    /// sides have reported (or earlier, for gone / not sent), and never before either has.
    #[test]
    fn a_pair_finishes_exactly_once(
        served in any_served(),
        shadow in any_shadow(),
        order in proptest::collection::vec(any::<bool>(), 2..8),
    ) {
        let mut pair = Pair::new(Compare::Seldon, 1000);
        let mut finishes = 0;
        let (mut served_seen, mut shadow_seen) = (false, false);
        for served_turn in order.iter().copied().chain([true, false]) {
            let finished = if served_turn {
                served_seen = true;
                pair.served(served.clone())
            } else {
                shadow_seen = true;
                pair.shadow(shadow.clone())
            };
            if finished.is_some() {
                finishes += 1;
                let early = matches!(served, ServedEnd::Gone) || matches!(shadow, ShadowEnd::NotSent);
                prop_assert!(early || (served_seen && shadow_seen));
            }
        }
        prop_assert_eq!(finishes, 1);
        prop_assert!(pair.is_finished());
    }
}

fn table(patch: serde_json::Value) -> RoutingTable {
    RoutingTable::parse(shadow_with(patch).to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn with_match(patch: serde_json::Value) -> RoutingTable {
    let mut config = shadow_with(patch);
    config["experiments"][0]["match"] = json!({"path_prefix": "/seldon/default/fraud-detection/"});
    RoutingTable::parse(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn prediction() -> FakeRequest {
    FakeRequest::new()
        .header(
            ":path",
            "/seldon/default/fraud-detection/api/v1.0/predictions?x=1",
        )
        .header(":method", "POST")
        .header("content-type", "application/json")
        .header("cookie", "session=s3cret")
}

#[test]
fn a_sampled_request_gets_its_copy_head_and_counts_copied() {
    let table = with_match(json!({"percent": 50}));
    // Draw 0 picks the random predictor (first draw), draw 1 samples: u32::MAX/4 is 25 % < 50 %.
    let mut request = prediction().random(0).random(u32::MAX / 4);
    let plan = plan_request(&table, &ConfiguredWeights, &mut request);
    let Some(ShadowCopy::Copy(head)) = plan.shadow else {
        panic!("sampled: {:?}", plan.shadow)
    };
    let shadow = table.experiments()[0].shadow.as_ref().unwrap();
    let callout = head.into_plan(shadow, b"{\"data\":{}}".to_vec());
    assert_eq!(
        callout.cluster,
        "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local"
    );
    assert_eq!(callout.method, "POST");
    assert_eq!(callout.path, "/api/v1.0/predictions?x=1");
    assert_eq!(
        callout.authority,
        "fraud-detection-rf-v2.default.svc.cluster.local:8000"
    );
    assert_eq!(
        callout.headers,
        vec![("content-type".to_string(), b"application/json".to_vec())]
    );
    assert_eq!(callout.body, b"{\"data\":{}}");
    assert_eq!(callout.timeout_ms, 1000);
    let routed = plan.routed.expect("routed");
    let copied = Counter::Shadow {
        experiment: ExperimentId(0),
        predictor: routed.decision.predictor,
        measure: ShadowMeasure::Copied,
    };
    assert!(
        plan.counts.iter().any(|(c, n)| c == copied && n == 1),
        "{:?}",
        plan.counts
    );
    // The cookie is the client's, never the shadow's.
    assert!(!callout.headers.iter().any(|(k, _)| k == "cookie"));
}

#[test]
fn only_eligible_requests_draw_and_only_sampled_ones_read_the_copy_headers() {
    let table = with_match(json!({"percent": 50}));
    // Not sampled: u32::MAX is 100 % ≥ 50 %. Two draws (decision, sample); no :method read.
    let mut request = prediction().random(0).random(u32::MAX);
    let plan = plan_request(&table, &ConfiguredWeights, &mut request);
    assert_eq!(plan.shadow, None);
    assert_eq!(request.random_draws, 2);
    assert!(
        !request
            .reads
            .iter()
            .any(|r| r == ":method" || r == "content-type"),
        "{:?}",
        request.reads
    );

    // Forced: no draw for the shadow at all.
    let mut forced = prediction().header("x-predictor-override", "rf");
    let plan = plan_request(&table, &ConfiguredWeights, &mut forced);
    assert_eq!(plan.shadow, None);
    assert_eq!(forced.random_draws, 0);

    // Feedback requests are never copied (sticky by cookie, so no decision draw either).
    let mut config = shadow_with(json!({"percent": 100}));
    config["experiments"][0]["adaptive"] =
        json!({"policy": "thompson", "reward": "feedback", "feedback_path": "/api/v1.0/feedback"});
    let adaptive = RoutingTable::parse(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut feedback = FakeRequest::new()
        .header(":path", "/api/v1.0/feedback")
        .header(":method", "POST")
        .header("cookie", "pr-fraud-detection=xgb");
    let plan = plan_request(&adaptive, &ConfiguredWeights, &mut feedback);
    assert_eq!(plan.shadow, None, "{:?}", plan.routed);

    // An experiment without a shadow never draws for one.
    let plain = RoutingTable::parse(
        br#"{"experiments":[{"name":"e","predictors":[{"name":"a","weight":1},{"name":"b","weight":1}]}]}"#,
    )
    .unwrap();
    let mut request = prediction().random(0);
    plan_request(&plain, &ConfiguredWeights, &mut request);
    assert_eq!(request.random_draws, 1);
}

#[test]
fn a_request_that_cannot_be_copied_faithfully_counts_copied_and_skipped() {
    let table = table(json!({"percent": 100}));
    let mut request = FakeRequest::new()
        .header(":path", b"/api/\xff".as_slice())
        .header(":method", "POST")
        .random(0)
        .random(0);
    let plan = plan_request(&table, &ConfiguredWeights, &mut request);
    assert_eq!(plan.shadow, Some(ShadowCopy::Uncopyable));
    let names: Vec<String> = plan
        .counts
        .iter()
        .filter_map(|(c, _)| counter_name(&table, c))
        .collect();
    assert!(
        names.contains(&"predictor_router.fraud-detection.xgb.shadow.rf-v2.copied".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"predictor_router.fraud-detection.xgb.shadow.rf-v2.skipped".to_string()),
        "{names:?}"
    );
}

#[test]
fn shadow_counters_are_named_and_numbered_densely_only_for_experiments_with_a_shadow() {
    let mut config = shadow_with(json!({}));
    let plain = json!({"name": "plain", "match": {"path_prefix": "/plain"}, "predictors": [{"name": "a", "weight": 1}]});
    config["experiments"].as_array_mut().unwrap().push(plain);
    let table = RoutingTable::parse(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let catalog = CounterCatalog::new(&table);
    let mut slots = std::collections::BTreeSet::new();
    let mut names = Vec::new();
    for predictor in 0..2 {
        for measure in ShadowMeasure::ALL {
            let counter = Counter::Shadow {
                experiment: ExperimentId(0),
                predictor: PredictorId(predictor),
                measure,
            };
            let slot = catalog.slot(counter).expect("a slot");
            assert!(slot < catalog.count());
            assert!(slots.insert(slot), "slot {slot} twice");
            names.push(counter_name(&table, counter).expect("a name"));
        }
    }
    assert_eq!(
        names[0],
        "predictor_router.fraud-detection.xgb.shadow.rf-v2.copied"
    );
    assert_eq!(
        names[8],
        "predictor_router.fraud-detection.xgb.shadow.rf-v2.served_latency_ms"
    );
    assert_eq!(
        names[15],
        "predictor_router.fraud-detection.rf.shadow.rf-v2.abs_diff_milli"
    );
    // No other counter shares a shadow slot.
    for predictor in 0..2 {
        for reason in [
            predictor_router::router::decision::Reason::Forced,
            predictor_router::router::decision::Reason::Random,
        ] {
            let slot = catalog
                .slot(Counter::Decision {
                    experiment: ExperimentId(0),
                    predictor: PredictorId(predictor),
                    reason,
                })
                .unwrap();
            assert!(!slots.contains(&slot));
        }
    }
    let plain_decision = catalog
        .slot(Counter::Decision {
            experiment: ExperimentId(1),
            predictor: PredictorId(0),
            reason: predictor_router::router::decision::Reason::Random,
        })
        .unwrap();
    assert!(!slots.contains(&plain_decision));
    // The experiment without a shadow has no shadow counters.
    let none = Counter::Shadow {
        experiment: ExperimentId(1),
        predictor: PredictorId(0),
        measure: ShadowMeasure::Copied,
    };
    assert_eq!(catalog.slot(none), None);
    assert_eq!(counter_name(&table, none), None);
}
