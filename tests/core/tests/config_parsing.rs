//! Configuration: defaults, validation, and the exact JSON path and reason of every error.

use predictor_router::router::config::{ConfigError, HostPattern};
use predictor_router::router::table::RoutingTable;
use predictor_router_core_tests::invalid_configs::{experiment_with, invalid_configurations};
use serde_json::json;

/// The configuration as the filter loads it: parsed, validated, and compiled into its routing table.
fn parse(bytes: &[u8]) -> Result<RoutingTable, ConfigError> {
    RoutingTable::parse(bytes)
}

fn error_of(config: serde_json::Value) -> String {
    match parse(config.to_string().as_bytes()) {
        Ok(_) => panic!("accepted an invalid configuration: {config}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn minimal_config_gets_every_default() {
    let config = parse(experiment_with(json!({})).to_string().as_bytes()).unwrap();
    let exp = &config.experiments()[0];
    assert_eq!(exp.hosts, vec![HostPattern::Any]);
    assert_eq!(exp.path_prefix, "/");
    assert_eq!(exp.routing_header, "x-predictor");
    assert_eq!(exp.response_header.as_deref(), Some("x-predictor"));
    assert_eq!(exp.sticky.cookie.as_deref(), Some("pr-fraud-detection"));
    assert_eq!(exp.sticky.max_age_seconds, 2_592_000);
    assert_eq!(exp.sticky.user_header, None);
    assert!(!exp.sticky.secure);
    assert_eq!(exp.sticky.domain, None);
    let ov = exp.override_.as_ref().unwrap();
    assert_eq!(ov.header, "x-predictor-override");
    assert_eq!(ov.query_param, None);
    assert_eq!(config.routing_headers(), ["x-predictor"]);
}

#[test]
fn full_config_is_taken_as_written() {
    let config = parse(
        json!({"experiments": [{
            "name": "fraud-detection",
            "match": {"hosts": ["Models.Example.com", "*.example.org", "*"], "path_prefix": "/seldon/"},
            "predictors": [{"name": "xgb", "weight": 90.0}, {"name": "rf", "weight": 10}],
            "routing_header": "x-model",
            "response_header": "x-served-by",
            "sticky": {"cookie": "Fraud_AB", "max_age_seconds": 60, "user_header": "x-user-id"},
            "override": {"header": "x-force", "query_param": "predictor", "enabled": true}
        }]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let exp = &config.experiments()[0];
    assert_eq!(
        exp.hosts,
        vec![
            HostPattern::Exact("models.example.com".into()),
            HostPattern::Subdomain("example.org".into()),
            HostPattern::Any
        ]
    );
    assert_eq!(exp.path_prefix, "/seldon/");
    assert_eq!(exp.predictors[0].weight, 90, "integral doubles are accepted");
    assert_eq!(exp.routing_header, "x-model");
    assert_eq!(exp.response_header.as_deref(), Some("x-served-by"));
    assert_eq!(exp.sticky.cookie.as_deref(), Some("Fraud_AB"));
    assert_eq!(exp.sticky.max_age_seconds, 60);
    assert_eq!(exp.sticky.user_header.as_deref(), Some("x-user-id"));
    assert_eq!(
        exp.override_.as_ref().unwrap().query_param.as_deref(),
        Some("predictor")
    );
}

#[test]
fn empty_strings_disable_cookie_and_response_header_and_enabled_false_disables_override() {
    let config = parse(
        experiment_with(json!({
            "response_header": "",
            "sticky": {"cookie": ""},
            "override": {"enabled": false, "query_param": "p"}
        }))
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let exp = &config.experiments()[0];
    assert_eq!(exp.response_header, None);
    assert_eq!(exp.sticky.cookie, None);
    assert!(exp.override_.is_none());
}

#[test]
fn weight_zero_is_valid_and_limits_are_inclusive() {
    let config = parse(
        experiment_with(json!({
            "predictors": [{"name": "a", "weight": 0}, {"name": "b", "weight": 1000000}],
            "sticky": {"max_age_seconds": 34560000}
        }))
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(config.experiments()[0].predictors[1].weight, 1_000_000);
    assert_eq!(config.experiments()[0].sticky.max_age_seconds, 34_560_000);

    // The same limits spelled as JSON floats (integral), and the other inclusive limits.
    let predictors: Vec<_> = (0..64)
        .map(|i| json!({"name": format!("p{i}"), "weight": 1}))
        .collect();
    let domain = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(domain.len(), 253);
    let config = parse(
        experiment_with(json!({
            "predictors": predictors,
            "sticky": {"max_age_seconds": 34560000.0, "domain": domain},
            "override": {"query_param": "model.v-2_x"}
        }))
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let exp = &config.experiments()[0];
    assert_eq!(exp.predictors.len(), 64, "64 predictors");
    assert_eq!(exp.sticky.max_age_seconds, 34_560_000);
    assert_eq!(
        exp.sticky.domain.as_deref(),
        Some(domain.as_str()),
        "a 253-character domain"
    );
    assert_eq!(
        exp.override_.as_ref().unwrap().query_param.as_deref(),
        Some("model.v-2_x")
    );
    let weight = parse(
        experiment_with(json!({"predictors": [{"name": "a", "weight": 1000000.0}]}))
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(weight.experiments()[0].predictors[0].weight, 1_000_000);
    let domain = parse(
        experiment_with(json!({"sticky": {"domain": "ml-2.example-3.com"}}))
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        domain.experiments()[0].sticky.domain.as_deref(),
        Some("ml-2.example-3.com"),
        "digits and hyphens in labels"
    );
}

#[test]
fn distinct_routing_headers_are_collected_once() {
    let config = parse(
        json!({"experiments": [
            {"name": "a", "match": {"path_prefix": "/a"}, "predictors": [{"name": "x", "weight": 1}]},
            {"name": "b", "routing_header": "x-other", "predictors": [{"name": "x", "weight": 1}]},
            {"name": "c", "predictors": [{"name": "x", "weight": 1}]}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(config.routing_headers(), ["x-predictor", "x-other"]);
}

#[test]
fn a_thousand_experiments_are_accepted_and_one_more_is_not() {
    let exps: Vec<_> = (0..1000)
        .map(|i| json!({"name": format!("e{i}"), "predictors": [{"name": "p", "weight": 1}]}))
        .collect();
    assert!(parse(json!({ "experiments": exps }).to_string().as_bytes()).is_ok());
    let mut too_many = exps.clone();
    too_many.push(json!({"name": "one-more", "predictors": [{"name": "p", "weight": 1}]}));
    assert_eq!(
        error_of(json!({ "experiments": too_many })),
        "experiments: must list 1 to 1000 experiments, found 1001"
    );
}

#[test]
fn invalid_configs_name_the_json_path_and_the_reason() {
    let cases = invalid_configurations();
    assert!(cases.len() >= 20);
    for (config, expected) in cases {
        assert_eq!(error_of(config.clone()), expected, "config: {config}");
    }
}

/// Found by `make fuzz` (tests/fuzz/artifacts/config_parse/crash-cd5c1a3c…): an unknown empty key
/// gave an error with an empty path.
#[test]
fn paths_are_never_empty_and_odd_keys_are_quoted() {
    let cases: Vec<(&[u8], &str)> = vec![
        (
            br#"{"":[{"nr[s":{}}]}"#,
            r#""": unknown field ``, expected one of `experiments`, `signing`, `fleet`"#,
        ),
        (
            br#"{"experiments":[{"":1}]}"#,
            r#"experiments[0]."": unknown field ``, expected one of `name`, `match`, `predictors`, `routing_header`, `response_header`, `sticky`, `override`, `adaptive`, `rollout`, `shadow`"#,
        ),
        (
            br#"{"experiments":[{"a b":1}]}"#,
            r#"experiments[0]."a b": unknown field `a b`, expected one of `name`, `match`, `predictors`, `routing_header`, `response_header`, `sticky`, `override`, `adaptive`, `rollout`, `shadow`"#,
        ),
    ];
    for (bytes, expected) in cases {
        let error = parse(bytes).expect_err("invalid");
        assert!(!error.path.is_empty());
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn malformed_bytes_are_errors_at_the_root() {
    let cases: Vec<(&[u8], &str)> = vec![
        (
            b"",
            "$: the configuration is empty; expected a JSON object such as {\"experiments\": [...]}",
        ),
        (
            b"  \n",
            "$: the configuration is empty; expected a JSON object such as {\"experiments\": [...]}",
        ),
        (
            b"{",
            "$: not valid JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            b"\xff\xfe",
            "$: not valid JSON: expected value at line 1 column 1",
        ),
        (b"[]", "$: must be a JSON object with an `experiments` list"),
        (b"null", "$: must be a JSON object with an `experiments` list"),
        (
            b"{\"experiments\": [\"fraud\"]}",
            "experiments[0]: invalid type: string \"fraud\", expected an experiment object",
        ),
    ];
    for (bytes, expected) in cases {
        match parse(bytes) {
            Ok(_) => panic!("accepted {bytes:?}"),
            Err(e) => assert_eq!(e.to_string(), expected),
        }
    }
}

#[test]
fn warns_about_a_positive_weight_that_owns_no_bucket() {
    let config = parse(
        experiment_with(
            json!({"predictors": [{"name": "tiny", "weight": 1}, {"name": "big", "weight": 1000000}]}),
        )
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("experiments[0].predictors[0].weight: 1 is less than 1/10000"),
        "{warnings:?}"
    );
    let fine = parse(experiment_with(json!({})).to_string().as_bytes()).unwrap();
    assert!(fine.warnings().is_empty());
    // Weight 0 owns no bucket on purpose (forced or sticky only): no warning.
    let shadow = parse(
        experiment_with(json!({"predictors": [{"name": "a", "weight": 1}, {"name": "shadow", "weight": 0}]}))
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert!(shadow.warnings().is_empty(), "{:?}", shadow.warnings());
}
