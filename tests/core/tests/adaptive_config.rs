//! The `adaptive` block: defaults, bounds, cross-field rules, and the exact JSON path of each error.

use predictor_router::router::config::{parse, Adaptive, Policy, Reward};
use serde_json::{json, Value};

/// The fraud-detection experiment (path prefix, xgb/rf 50/50, a weight-0 shadow) with `adaptive`.
fn with_adaptive(adaptive: Value) -> Value {
    json!({"experiments": [{
        "name": "fraud-detection",
        "match": {"path_prefix": "/seldon/default/fraud-detection/"},
        "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}, {"name": "shadow", "weight": 0}],
        "adaptive": adaptive
    }]})
}

fn adaptive_of(adaptive: Value) -> Adaptive {
    let config = parse(with_adaptive(adaptive).to_string().as_bytes()).expect("valid");
    config.experiments()[0].adaptive.clone().expect("adaptive")
}

fn error_of(adaptive: Value) -> String {
    match parse(with_adaptive(adaptive.clone()).to_string().as_bytes()) {
        Ok(_) => panic!("accepted an invalid adaptive block: {adaptive}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_of_each_policy_and_reward() {
    assert_eq!(
        adaptive_of(json!({"policy": "thompson"})),
        Adaptive {
            policy: Policy::Thompson,
            reward: Reward::Response { max_latency_ms: None },
            update_seconds: 10,
            min_outcomes: 100,
            min_share_percent: 1,
            pooled: false,
        }
    );
    assert_eq!(
        adaptive_of(json!({"policy": "epsilon_greedy"})).policy,
        Policy::EpsilonGreedy { epsilon_percent: 10 }
    );
    assert_eq!(
        adaptive_of(json!({"policy": "thompson", "reward": "feedback",
                           "feedback_path": "/seldon/default/fraud-detection/api/v1.0/feedback"}))
        .reward,
        Reward::Feedback {
            path: "/seldon/default/fraud-detection/api/v1.0/feedback".into()
        }
    );
    assert!(parse(
        json!({"experiments": [{"name": "a", "predictors": [{"name": "p", "weight": 1}]}]})
            .to_string()
            .as_bytes()
    )
    .unwrap()
    .experiments()[0]
        .adaptive
        .is_none());
}

#[test]
fn every_field_taken_as_written_with_integral_doubles() {
    assert_eq!(
        adaptive_of(
            json!({"policy": "epsilon_greedy", "epsilon_percent": 25.0, "reward": "response",
                           "max_latency_ms": 300, "update_seconds": 1, "min_outcomes": 0, "min_share_percent": 50})
        ),
        Adaptive {
            policy: Policy::EpsilonGreedy { epsilon_percent: 25 },
            reward: Reward::Response {
                max_latency_ms: Some(300)
            },
            update_seconds: 1,
            min_outcomes: 0,
            min_share_percent: 50,
            pooled: false,
        }
    );
}

#[test]
fn invalid_adaptive_blocks_name_the_json_path_and_the_reason() {
    let p = "experiments[0].adaptive";
    let cases: Vec<(Value, String)> = vec![
        (json!({}), format!("{p}.policy: is required: \"thompson\" or \"epsilon_greedy\"")),
        (json!({"policy": "ucb"}), format!("{p}.policy: \"ucb\" is not a policy: \"thompson\" or \"epsilon_greedy\"")),
        (json!({"policy": 1}), format!("{p}.policy: invalid type: integer `1`, expected a string")),
        (json!({"policy": "thompson", "epsilon_percent": 5}), format!("{p}.epsilon_percent: only applies to policy \"epsilon_greedy\"")),
        (json!({"policy": "epsilon_greedy", "epsilon_percent": 0}), format!("{p}.epsilon_percent: must be an integer from 1 to 100")),
        (json!({"policy": "epsilon_greedy", "epsilon_percent": 101}), format!("{p}.epsilon_percent: must be an integer from 1 to 100")),
        (json!({"policy": "epsilon_greedy", "epsilon_percent": 2.5}), format!("{p}.epsilon_percent: must be an integer from 1 to 100")),
        (json!({"policy": "thompson", "reward": "clicks"}), format!("{p}.reward: \"clicks\" is not a reward: \"response\" or \"feedback\"")),
        (json!({"policy": "thompson", "reward": "feedback"}), format!("{p}.feedback_path: is required with reward \"feedback\"")),
        (json!({"policy": "thompson", "reward": "feedback", "feedback_path": "feedback"}), format!("{p}.feedback_path: must start with \"/\"")),
        (
            json!({"policy": "thompson", "reward": "feedback", "feedback_path": "/other/feedback"}),
            format!("{p}.feedback_path: \"/other/feedback\" must start with the experiment's match.path_prefix \"/seldon/default/fraud-detection/\": feedback requests are requests of the experiment"),
        ),
        (
            json!({"policy": "thompson", "reward": "feedback", "feedback_path": "/seldon/default/fraud-detection/f", "max_latency_ms": 10}),
            format!("{p}.max_latency_ms: only applies to reward \"response\""),
        ),
        (json!({"policy": "thompson", "feedback_path": "/seldon/default/fraud-detection/f"}), format!("{p}.feedback_path: only applies to reward \"feedback\"")),
        (json!({"policy": "thompson", "max_latency_ms": 0}), format!("{p}.max_latency_ms: must be an integer from 1 to 600000")),
        (json!({"policy": "thompson", "max_latency_ms": 600001}), format!("{p}.max_latency_ms: must be an integer from 1 to 600000")),
        (json!({"policy": "thompson", "update_seconds": 0}), format!("{p}.update_seconds: must be an integer from 1 to 3600")),
        (json!({"policy": "thompson", "update_seconds": 3601}), format!("{p}.update_seconds: must be an integer from 1 to 3600")),
        (json!({"policy": "thompson", "update_seconds": 1.5}), format!("{p}.update_seconds: must be an integer from 1 to 3600")),
        (json!({"policy": "thompson", "min_outcomes": -1}), format!("{p}.min_outcomes: must be an integer from 0 to 1000000")),
        (json!({"policy": "thompson", "min_outcomes": 1000001}), format!("{p}.min_outcomes: must be an integer from 0 to 1000000")),
        (
            json!({"policy": "thompson", "min_share_percent": 51}),
            format!("{p}.min_share_percent: must be an integer from 0 to 50 (100 / 2 predictors with weight > 0)"),
        ),
        (
            json!({"policy": "thompson", "min_share_percent": 0.5}),
            format!("{p}.min_share_percent: must be an integer from 0 to 50 (100 / 2 predictors with weight > 0)"),
        ),
        (json!({"policy": "thompson", "min_outcomes": "100"}), format!("{p}.min_outcomes: invalid type: string \"100\", expected a JSON number")),
        (
            json!({"policy": "thompson", "typo": 1}),
            format!("{p}.typo: unknown field `typo`, expected one of `policy`, `epsilon_percent`, `reward`, `max_latency_ms`, `feedback_path`, `update_seconds`, `min_outcomes`, `min_share_percent`, `pooled`"),
        ),
        (json!("thompson"), format!("{p}: invalid type: string \"thompson\", expected an adaptive object")),
    ];
    assert!(cases.len() >= 15);
    for (adaptive, expected) in cases {
        assert_eq!(error_of(adaptive.clone()), expected, "for {adaptive}");
    }
}

#[test]
fn the_share_floor_limit_counts_only_predictors_taking_part() {
    // 3 predictors, one at weight 0: n = 2, so up to 50 %.
    assert_eq!(
        adaptive_of(json!({"policy": "thompson", "min_share_percent": 50})).min_share_percent,
        50
    );
    let four = json!({"experiments": [{"name": "a", "predictors": [
        {"name": "p1", "weight": 1}, {"name": "p2", "weight": 1}, {"name": "p3", "weight": 1}, {"name": "p4", "weight": 1}],
        "adaptive": {"policy": "thompson", "min_share_percent": 26}}]});
    assert_eq!(
        parse(four.to_string().as_bytes()).unwrap_err().to_string(),
        "experiments[0].adaptive.min_share_percent: must be an integer from 0 to 25 (100 / 4 predictors with weight > 0)"
    );
}
