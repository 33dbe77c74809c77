//! Counter names are part of the contract: dashboards and stats_tags regexes depend on them.

use std::collections::HashSet;

use predictor_router::router::decision::Reason;
use predictor_router::router::ids::{ExperimentId as E, PredictorId as P};
use predictor_router::router::metrics::{
    counter_name, share_gauge_name, Counter, CounterCatalog, StatusClass,
};
use predictor_router::router::table::RoutingTable;
use serde_json::json;

#[test]
fn names_follow_the_contract_and_slots_are_dense_and_distinct() {
    let config = RoutingTable::parse(
        json!({"experiments": [
            {"name": "fraud-detection", "predictors": [{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 1}]},
            {"name": "income", "match": {"path_prefix": "/i"}, "predictors": [{"name": "v1", "weight": 1}]}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let name = |c| counter_name(&config, c).unwrap();
    assert_eq!(name(Counter::Unmatched), "predictor_router.unmatched");
    assert_eq!(
        name(Counter::OverrideRejected { experiment: E(1) }),
        "predictor_router.income.override_rejected"
    );
    assert_eq!(
        name(Counter::Decision {
            experiment: E(0),
            predictor: P(1),
            reason: Reason::Hashed
        }),
        "predictor_router.fraud-detection.rf.decision.hashed"
    );
    assert_eq!(
        name(Counter::Response {
            experiment: E(0),
            predictor: P(0),
            class: StatusClass::ServerError
        }),
        "predictor_router.fraud-detection.xgb.response.5xx"
    );
    assert_eq!(
        name(Counter::OutcomeTrials {
            experiment: E(0),
            predictor: P(1)
        }),
        "predictor_router.fraud-detection.rf.outcome.trials"
    );
    assert_eq!(
        name(Counter::OutcomeRewardMilli {
            experiment: E(0),
            predictor: P(0)
        }),
        "predictor_router.fraud-detection.xgb.outcome.reward_milli"
    );
    assert_eq!(
        name(Counter::FeedbackUnattributed { experiment: E(1) }),
        "predictor_router.income.feedback_unattributed"
    );
    assert_eq!(
        name(Counter::FeedbackInvalid { experiment: E(0) }),
        "predictor_router.fraud-detection.feedback_invalid"
    );
    assert_eq!(
        share_gauge_name("fraud-detection", "rf"),
        "predictor_router.fraud-detection.rf.share_bp"
    );

    let catalog = CounterCatalog::new(&config);
    let mut all = vec![Counter::Unmatched];
    for (e, exp) in config.iter() {
        all.push(Counter::OverrideRejected { experiment: e });
        all.push(Counter::FeedbackUnattributed { experiment: e });
        all.push(Counter::FeedbackInvalid { experiment: e });
        for p in (0..exp.predictors.len()).map(P::from_index) {
            all.push(Counter::OutcomeTrials {
                experiment: e,
                predictor: p,
            });
            all.push(Counter::OutcomeRewardMilli {
                experiment: e,
                predictor: p,
            });
            all.extend(Reason::ALL.iter().map(|&reason| Counter::Decision {
                experiment: e,
                predictor: p,
                reason,
            }));
            all.extend(StatusClass::ALL.iter().map(|&class| Counter::Response {
                experiment: e,
                predictor: p,
                class,
            }));
        }
    }
    let slots: HashSet<usize> = all.iter().map(|c| catalog.slot(*c).unwrap()).collect();
    let names: HashSet<String> = all.iter().map(|c| name(*c)).collect();
    assert_eq!(slots.len(), all.len());
    assert_eq!(names.len(), all.len());
    assert_eq!(catalog.count(), all.len());
    assert!(slots.iter().all(|s| *s < catalog.count()));
    assert_eq!(catalog.slot(Counter::OverrideRejected { experiment: E(2) }), None);
    assert_eq!(
        catalog.slot(Counter::Decision {
            experiment: E(9),
            predictor: P(0),
            reason: Reason::Forced
        }),
        None
    );
}

#[test]
fn status_classes() {
    let class = |s: &str| StatusClass::of(s.as_bytes()).map(StatusClass::as_str);
    assert_eq!(class("200"), Some("2xx"));
    assert_eq!(class("302"), Some("3xx"));
    assert_eq!(class("404"), Some("4xx"));
    assert_eq!(class("503"), Some("5xx"));
    assert_eq!(class("100"), None, "1xx is not counted");
    assert_eq!(class("600"), None);
    assert_eq!(class(""), None);
    assert_eq!(class("abc"), None);
    assert_eq!(class("20"), None);
    assert_eq!(class("2000"), None);
    assert_eq!(class("2x0"), None);
    assert_eq!(class(" 200"), None);
}
