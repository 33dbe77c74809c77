//! Counter names are part of the contract: dashboards and stats_tags regexes depend on them.

use std::collections::HashSet;

use predictor_router::router::config::parse;
use predictor_router::router::decision::Reason;
use predictor_router::router::metrics::{counter_name, Counter, CounterCatalog, StatusClass};
use serde_json::json;

#[test]
fn names_follow_the_contract_and_slots_are_dense_and_distinct() {
    let config = parse(
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
        name(Counter::OverrideRejected { experiment: 1 }),
        "predictor_router.income.override_rejected"
    );
    assert_eq!(
        name(Counter::Decision {
            experiment: 0,
            predictor: 1,
            reason: Reason::Hashed
        }),
        "predictor_router.fraud-detection.rf.decision.hashed"
    );
    assert_eq!(
        name(Counter::Response {
            experiment: 0,
            predictor: 0,
            class: StatusClass::ServerError
        }),
        "predictor_router.fraud-detection.xgb.response.5xx"
    );

    let catalog = CounterCatalog::new(&config);
    let mut all = vec![Counter::Unmatched];
    for (e, exp) in config.experiments().iter().enumerate() {
        all.push(Counter::OverrideRejected { experiment: e });
        for p in 0..exp.predictors.len() {
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
    assert_eq!(catalog.len(), all.len());
    assert!(slots.iter().all(|s| *s < catalog.len()));
    assert_eq!(catalog.slot(Counter::OverrideRejected { experiment: 2 }), None);
    assert_eq!(
        catalog.slot(Counter::Decision {
            experiment: 9,
            predictor: 0,
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
