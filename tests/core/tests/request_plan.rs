//! The request and response plans: every rule that touches a request, natively, and the host
//! operations each decision path costs (one header read per `reads` entry, one write per plan entry).

use predictor_router::router::decision::Reason;
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::ids::{ExperimentId, PredictorId};
use predictor_router::router::metrics::{Counter, StatusClass};
use predictor_router::router::plan::{plan_request, plan_response, ConfiguredWeights, Learning, RequestPlan};
use predictor_router::router::table::RoutingTable;
use predictor_router_core_tests::shipped::predict_path;
use serde_json::json;

/// The shipped shape: one experiment on a path prefix, cookie, user id and override query parameter;
/// and a second experiment on another prefix with its own routing header.
fn table() -> RoutingTable {
    RoutingTable::parse(
        json!({"experiments": [
            {"name": "fraud-detection", "match": {"path_prefix": "/seldon/default/fraud-detection/"},
             "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}, {"name": "shadow", "weight": 0}],
             "sticky": {"user_header": "x-user-id"}, "override": {"query_param": "predictor"}},
            {"name": "income", "match": {"path_prefix": "/income/"}, "routing_header": "x-income-model",
             "predictors": [{"name": "v1", "weight": 1}]}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

fn plan<'t>(table: &'t RoutingTable, request: &mut FakeRequest) -> RequestPlan<'t> {
    plan_request(table, &ConfiguredWeights, request)
}

fn counts(plan: &RequestPlan) -> Vec<(Counter, u64)> {
    plan.counts.iter().collect()
}

const E0: ExperimentId = ExperimentId(0);

#[test]
fn each_decision_path_reads_only_what_it_needs_and_writes_one_header() {
    let t = table();
    // Each path reads one source more than the one before it; a random decision reads them all.
    let sources = [
        ":path",
        "x-income-model",
        "x-predictor-override",
        "cookie",
        "x-user-id",
    ];
    let predict = || FakeRequest::new().header(":path", predict_path());
    let cases: Vec<(FakeRequest, Reason, &[&str])> = vec![
        (
            predict().header("x-predictor-override", "rf"),
            Reason::Forced,
            &sources[..3],
        ),
        (
            predict().cookie("pr-fraud-detection=rf"),
            Reason::Sticky,
            &sources[..4],
        ),
        (
            predict().header("x-user-id", "alice"),
            Reason::Hashed,
            &sources[..],
        ),
        (predict().random(7), Reason::Random, &sources[..]),
    ];
    for (mut request, reason, reads) in cases {
        let p = plan(&t, &mut request);
        let routed = p.routed.expect("matched");
        assert_eq!(routed.decision.reason, reason);
        assert_eq!(request.reads, reads, "{reason:?}");
        assert!(p.remove.is_empty());
        let (header, predictor) = p.set.expect("routing header set");
        assert_eq!(header, "x-predictor");
        assert_eq!(
            predictor,
            t.experiments()[0].predictors[routed.decision.predictor.index()].name
        );
        assert_eq!(
            counts(&p),
            vec![(
                Counter::Decision {
                    experiment: E0,
                    predictor: routed.decision.predictor,
                    reason
                },
                1
            )]
        );
        assert_eq!(routed.learning, Learning::Nothing, "fixed weights learn nothing");
    }
}

#[test]
fn every_other_routing_header_the_client_sent_is_removed_and_its_own_replaced() {
    let t = table();
    let mut request = FakeRequest::new()
        .header(":path", predict_path())
        .header("x-predictor", "rf")
        .header("x-income-model", "v1")
        .header("x-predictor-override", "xgb");
    let p = plan(&t, &mut request);
    assert_eq!(
        p.remove,
        vec!["x-income-model"],
        "the matched experiment's header is replaced, not removed"
    );
    assert_eq!(p.set, Some(("x-predictor", "xgb")));
}

#[test]
fn unmatched_requests_are_only_stripped_and_counted() {
    let t = table();
    let mut clean = FakeRequest::new().header(":path", "/other");
    let p = plan(&t, &mut clean);
    assert_eq!(clean.reads, vec![":path", "x-predictor", "x-income-model"]);
    assert!(p.remove.is_empty(), "look before removing: nothing to remove");
    assert_eq!(p.set, None);
    assert_eq!(p.routed, None);
    assert_eq!(counts(&p), vec![(Counter::Unmatched, 1)]);

    let mut spoofed = FakeRequest::new()
        .header(":path", "/other")
        .header("x-predictor", "rf")
        .header("x-income-model", "v1");
    let p = plan(&t, &mut spoofed);
    assert_eq!(p.remove, vec!["x-predictor", "x-income-model"]);
    assert_eq!(counts(&p), vec![(Counter::Unmatched, 1)]);

    let mut no_path = FakeRequest::new();
    assert_eq!(counts(&plan(&t, &mut no_path)), vec![(Counter::Unmatched, 1)]);
}

#[test]
fn a_rejected_override_is_counted_once_beside_the_decision() {
    let t = table();
    let mut request = FakeRequest::new()
        .header(":path", format!("{}?predictor=nope", predict_path()))
        .header("x-predictor-override", "also-nope")
        .random(0);
    let p = plan(&t, &mut request);
    let routed = p.routed.unwrap();
    assert_eq!(routed.decision.reason, Reason::Random);
    assert_eq!(
        counts(&p),
        vec![
            (
                Counter::Decision {
                    experiment: E0,
                    predictor: routed.decision.predictor,
                    reason: Reason::Random
                },
                1
            ),
            (Counter::OverrideRejected { experiment: E0 }, 1)
        ]
    );
}

#[test]
fn the_authority_is_read_only_when_an_experiment_names_hosts() {
    let t = RoutingTable::parse(
        json!({"experiments": [{"name": "a", "match": {"hosts": ["models.example.com"]},
                                "predictors": [{"name": "p", "weight": 1}]}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut request = FakeRequest::new()
        .header(":authority", "Models.Example.com:443")
        .header(":path", "/")
        .random(1);
    let p = plan(&t, &mut request);
    assert_eq!(request.reads[..2], [":authority", ":path"]);
    assert!(p.routed.is_some());
}

#[test]
fn the_response_plan_counts_the_class_reports_and_sets_the_cookie_for_new_assignments_only() {
    let t = table();
    for (request, sets_cookie) in [
        (FakeRequest::new().header(":path", predict_path()).random(1), true),
        (
            FakeRequest::new()
                .header(":path", predict_path())
                .header("x-user-id", "u"),
            true,
        ),
        (
            FakeRequest::new()
                .header(":path", predict_path())
                .cookie("pr-fraud-detection=rf"),
            false,
        ),
        (
            FakeRequest::new()
                .header(":path", predict_path())
                .header("x-predictor-override", "shadow"),
            false,
        ),
    ] {
        let mut request = request;
        let routed = plan(&t, &mut request).routed.unwrap();
        let name = t.experiments()[0].predictors[routed.decision.predictor.index()]
            .name
            .clone();
        for (status, class) in [
            ("200", Some(StatusClass::Success)),
            ("302", Some(StatusClass::Redirect)),
            ("404", Some(StatusClass::ClientError)),
            ("503", Some(StatusClass::ServerError)),
            ("100", None),
            ("", None),
        ] {
            let r = plan_response(&t, &routed, status.as_bytes(), None).unwrap();
            let expected: Vec<_> = class
                .map(|class| {
                    (
                        Counter::Response {
                            experiment: E0,
                            predictor: routed.decision.predictor,
                            class,
                        },
                        1,
                    )
                })
                .into_iter()
                .collect();
            assert_eq!(r.counts.iter().collect::<Vec<_>>(), expected, "{status}");
            assert_eq!(r.report, Some(("x-predictor", name.as_str())));
            assert_eq!(r.set_cookie.is_some(), sets_cookie);
            if let Some(cookie) = r.set_cookie {
                assert_eq!(
                    cookie,
                    format!("pr-fraud-detection={name}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax")
                );
            }
            assert_eq!(r.outcome, None);
        }
    }
    assert_eq!(
        PredictorId(2),
        t.experiments()[0].predictor_named(b"shadow").unwrap()
    );
}

#[test]
fn set_cookie_carries_secure_then_domain_when_configured() {
    let with = |sticky: serde_json::Value| {
        RoutingTable::parse(
            json!({"experiments": [{"name": "fraud-detection", "predictors": [{"name": "xgb", "weight": 1}],
                                    "sticky": sticky}]})
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    };
    let cookie_of = |t: &RoutingTable| {
        let mut request = FakeRequest::new().header(":path", "/").random(0);
        let routed = plan(t, &mut request).routed.unwrap();
        plan_response(t, &routed, b"200", None)
            .unwrap()
            .set_cookie
            .unwrap()
            .to_string()
    };
    let base = "pr-fraud-detection=xgb; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax";
    assert_eq!(cookie_of(&with(json!({}))), base);
    assert_eq!(cookie_of(&with(json!({"secure": false}))), base);
    assert_eq!(
        cookie_of(&with(json!({"secure": true}))),
        format!("{base}; Secure")
    );
    assert_eq!(
        cookie_of(&with(json!({"domain": "example.com"}))),
        format!("{base}; Domain=example.com")
    );
    assert_eq!(
        cookie_of(&with(
            json!({"secure": true, "domain": "shop.example.com", "max_age_seconds": 60})
        )),
        "pr-fraud-detection=xgb; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure; Domain=shop.example.com"
    );
}

/// The shipped experiment with adaptive allocation and the given reward settings.
fn adaptive_table(reward: serde_json::Value) -> RoutingTable {
    let mut adaptive = json!({"policy": "thompson"});
    adaptive
        .as_object_mut()
        .unwrap()
        .extend(reward.as_object().unwrap().clone());
    RoutingTable::parse(
        json!({"experiments": [
            {"name": "fraud-detection", "match": {"path_prefix": "/seldon/default/fraud-detection/"},
             "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
             "sticky": {"user_header": "x-user-id"}, "adaptive": adaptive}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

const FEEDBACK: &str = "/seldon/default/fraud-detection/api/v1.0/feedback";

/// A request of each decision path to `path`, with the reason it must get.
fn each_reason(path: &str) -> Vec<(FakeRequest, Reason)> {
    let request = || FakeRequest::new().header(":path", path);
    vec![
        (request().random(1), Reason::Random),
        (request().header("x-user-id", "u"), Reason::Hashed),
        (request().cookie("pr-fraud-detection=rf"), Reason::Sticky),
        (request().header("x-predictor-override", "rf"), Reason::Forced),
    ]
}

#[test]
fn a_response_reward_learns_from_every_routed_request_except_forced_ones() {
    for (max_latency_ms, reward) in [
        (None, json!({"reward": "response"})),
        (Some(250), json!({"reward": "response", "max_latency_ms": 250})),
    ] {
        let t = adaptive_table(reward);
        for (mut request, reason) in each_reason(predict_path()) {
            let routed = plan(&t, &mut request).routed.unwrap();
            assert_eq!(routed.decision.reason, reason);
            let expected = if reason == Reason::Forced {
                Learning::Nothing
            } else {
                Learning::Response { max_latency_ms }
            };
            assert_eq!(routed.learning, expected, "{reason:?}");
            // The clock is read on the request only when there is a bound to hold the response to.
            assert_eq!(
                routed.times_the_response(),
                max_latency_ms.is_some() && reason != Reason::Forced,
                "{reason:?}"
            );
        }
    }
}

#[test]
fn a_response_outcome_is_a_success_only_for_a_2xx_within_the_latency_bound() {
    let t = adaptive_table(json!({"reward": "response", "max_latency_ms": 250}));
    let mut request = FakeRequest::new().header(":path", predict_path()).random(1);
    let routed = plan(&t, &mut request).routed.unwrap();
    let predictor = routed.decision.predictor;
    for (status, elapsed_ms, reward_milli) in [
        ("200", Some(0), Some(1000)),
        ("204", Some(250), Some(1000)),
        ("200", Some(251), Some(0)),
        ("200", None, Some(1000)),
        ("302", Some(10), Some(0)),
        ("404", Some(10), Some(0)),
        ("503", Some(10), Some(0)),
        ("503", None, Some(0)),
        ("", Some(10), None),
    ] {
        let r = plan_response(&t, &routed, status.as_bytes(), elapsed_ms).unwrap();
        let outcome = r.outcome.map(|(p, o)| (p, o.reward_milli));
        assert_eq!(
            outcome,
            reward_milli.map(|m| (predictor, m)),
            "{status} after {elapsed_ms:?} ms"
        );
        let outcome_counts: Vec<_> = r
            .counts
            .iter()
            .filter(|(c, _)| !matches!(c, Counter::Response { .. }))
            .collect();
        let expected: Vec<_> = reward_milli
            .map(|m| {
                vec![
                    (
                        Counter::OutcomeTrials {
                            experiment: E0,
                            predictor,
                        },
                        1,
                    ),
                    (
                        Counter::OutcomeRewardMilli {
                            experiment: E0,
                            predictor,
                        },
                        u64::from(m),
                    ),
                ]
            })
            .unwrap_or_default();
        assert_eq!(outcome_counts, expected, "{status} after {elapsed_ms:?} ms");
    }

    // Without a bound, the time is not looked at.
    let unbounded = adaptive_table(json!({"reward": "response"}));
    let routed = plan(
        &unbounded,
        &mut FakeRequest::new().header(":path", predict_path()).random(1),
    )
    .routed
    .unwrap();
    let r = plan_response(&unbounded, &routed, b"200", Some(u64::MAX)).unwrap();
    assert_eq!(r.outcome.map(|(_, o)| o.reward_milli), Some(1000));
}

#[test]
fn a_feedback_request_teaches_only_when_a_cookie_or_user_id_decided_it() {
    let t = adaptive_table(json!({"reward": "feedback", "feedback_path": FEEDBACK}));
    let with_query = format!("{FEEDBACK}?source=app");
    for path in [FEEDBACK, with_query.as_str()] {
        for (mut request, reason) in each_reason(path) {
            let p = plan(&t, &mut request);
            let attributed = matches!(reason, Reason::Sticky | Reason::Hashed);
            let learning = p.routed.unwrap().learning;
            let expected = if attributed {
                Learning::FeedbackBody
            } else {
                Learning::Nothing
            };
            assert_eq!(learning, expected, "{path} {reason:?}");
            let unattributed = counts(&p).contains(&(Counter::FeedbackUnattributed { experiment: E0 }, 1));
            assert_eq!(unattributed, !attributed, "{path} {reason:?}");
        }
    }
    // Predictions, and paths that only start like the feedback path, are not feedback: nothing to
    // learn from the response either (the reward is the feedback), and nothing unattributed.
    let longer = format!("{FEEDBACK}s");
    for path in [predict_path(), longer.as_str()] {
        for (mut request, reason) in each_reason(path) {
            let p = plan(&t, &mut request);
            assert_eq!(p.routed.unwrap().learning, Learning::Nothing, "{path} {reason:?}");
            assert!(
                counts(&p)
                    .iter()
                    .all(|(c, _)| matches!(c, Counter::Decision { .. })),
                "{path} {reason:?}: {:?}",
                counts(&p)
            );
        }
    }
}
