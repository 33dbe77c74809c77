//! The table of invalid configurations and the exact `<path>: <reason>` each must produce: checked
//! against the parser (`config_parsing`), the compiled module in the harness, and the command line's
//! `validate` (`cli_parity`), so all three say the same.

use serde_json::{json, Value};

/// A valid single-experiment configuration with `patch` merged into the experiment.
pub fn experiment_with(patch: Value) -> Value {
    let mut exp = json!({
        "name": "fraud-detection",
        "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}]
    });
    if let (Some(e), Some(p)) = (exp.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            e.insert(k.clone(), v.clone());
        }
    }
    json!({ "experiments": [exp] })
}

/// Invalid configurations with the error text the filter must log for each.
pub fn invalid_configurations() -> Vec<(Value, &'static str)> {
    let p2 = |a: Value, b: Value| json!([a, b]);
    vec![
        (json!({}), "$: missing field `experiments`"),
        (json!({"experiments": []}), "experiments: must list 1 to 1000 experiments, found 0"),
        (json!({"experiments": {}}), "experiments: invalid type: map, expected a sequence"),
        (json!({"experiments": [], "extra": 1}), "extra: unknown field `extra`, expected `experiments` or `signing`"),
        (json!({"experiments": [{"predictors": [{"name": "a", "weight": 1}]}]}), "experiments[0]: missing field `name`"),
        (
            experiment_with(json!({"name": "Fraud"})),
            "experiments[0].name: \"Fraud\" is not a DNS label: 1 to 63 characters of [a-z0-9-], starting and ending with a letter or digit",
        ),
        (
            experiment_with(json!({"name": "-fraud"})),
            "experiments[0].name: \"-fraud\" is not a DNS label: 1 to 63 characters of [a-z0-9-], starting and ending with a letter or digit",
        ),
        (
            experiment_with(json!({"name": "a".repeat(64)})),
            &*Box::leak(format!("experiments[0].name: \"{}\" is not a DNS label: 1 to 63 characters of [a-z0-9-], starting and ending with a letter or digit", "a".repeat(64)).into_boxed_str()),
        ),
        (
            json!({"experiments": [
                {"name": "dup", "predictors": [{"name": "a", "weight": 1}]},
                {"name": "dup", "predictors": [{"name": "a", "weight": 1}]}
            ]}),
            "experiments[1].name: \"dup\" is already the name of experiments[0]",
        ),
        (experiment_with(json!({"predictors": []})), "experiments[0].predictors: must list 1 to 64 predictors, found 0"),
        (
            experiment_with(json!({"predictors": (0..65).map(|i| json!({"name": format!("p{i}"), "weight": 1})).collect::<Vec<_>>()})),
            "experiments[0].predictors: must list 1 to 64 predictors, found 65",
        ),
        (
            experiment_with(json!({"predictors": p2(json!({"name": "xgb", "weight": 1}), json!({"name": "xgb", "weight": 1}))})),
            "experiments[0].predictors[1].name: \"xgb\" is already the name of experiments[0].predictors[0]",
        ),
        (
            experiment_with(json!({"predictors": p2(json!({"name": "xgb", "weight": 1}), json!({"name": "rf", "weight": 1.5}))})),
            "experiments[0].predictors[1].weight: must be an integer from 0 to 1000000",
        ),
        (
            experiment_with(json!({"predictors": p2(json!({"name": "xgb", "weight": 1}), json!({"name": "rf", "weight": -1}))})),
            "experiments[0].predictors[1].weight: must be an integer from 0 to 1000000",
        ),
        (
            experiment_with(json!({"predictors": p2(json!({"name": "xgb", "weight": 1}), json!({"name": "rf", "weight": 1000001}))})),
            "experiments[0].predictors[1].weight: must be an integer from 0 to 1000000",
        ),
        (
            experiment_with(json!({"predictors": p2(json!({"name": "xgb", "weight": 1}), json!({"name": "rf", "weight": 1e300}))})),
            "experiments[0].predictors[1].weight: must be an integer from 0 to 1000000",
        ),
        (
            experiment_with(json!({"predictors": [{"name": "xgb", "weight": "50"}]})),
            "experiments[0].predictors[0].weight: invalid type: string \"50\", expected a JSON number",
        ),
        (
            experiment_with(json!({"predictors": [{"name": "xgb", "weight": 0}, {"name": "rf", "weight": 0.0}]})),
            "experiments[0].predictors: at least one weight must be greater than 0",
        ),
        (
            experiment_with(json!({"predictors": [{"name": "xgb", "weight": 1, "traffic": 5}]})),
            "experiments[0].predictors[0].traffic: unknown field `traffic`, expected `name` or `weight`",
        ),
        (
            experiment_with(json!({"match": {"hosts": []}})),
            "experiments[0].match.hosts: must list at least one host; leave `hosts` out to match any host",
        ),
        (experiment_with(json!({"match": {"hosts": ["a.com", ""]}})), "experiments[0].match.hosts[1]: must not be empty"),
        (
            experiment_with(json!({"match": {"hosts": ["models.example.com:443"]}})),
            "experiments[0].match.hosts[0]: \"models.example.com:443\" must not contain a port: hosts are compared with :authority minus its port",
        ),
        (
            experiment_with(json!({"match": {"hosts": ["models.*.com"]}})),
            "experiments[0].match.hosts[0]: \"models.*.com\": the only wildcards are \"*\" and a leading \"*.\" (as in \"*.example.org\")",
        ),
        (
            experiment_with(json!({"match": {"hosts": ["*example.org"]}})),
            "experiments[0].match.hosts[0]: \"*example.org\": the only wildcards are \"*\" and a leading \"*.\" (as in \"*.example.org\")",
        ),
        (
            experiment_with(json!({"match": {"hosts": ["*."]}})),
            "experiments[0].match.hosts[0]: \"*.\" is not a host name (letters, digits, \"-\", \"_\" and \".\"-separated labels)",
        ),
        (
            experiment_with(json!({"match": {"hosts": ["bad host"]}})),
            "experiments[0].match.hosts[0]: \"bad host\" is not a host name (letters, digits, \"-\", \"_\" and \".\"-separated labels)",
        ),
        (experiment_with(json!({"match": {"path_prefix": "seldon/"}})), "experiments[0].match.path_prefix: must start with \"/\""),
        (
            experiment_with(json!({"match": {"host": ["a.com"]}})),
            "experiments[0].match.host: unknown field `host`, expected `hosts` or `path_prefix`",
        ),
        (
            experiment_with(json!({"routing_header": "X-Predictor"})),
            "experiments[0].routing_header: \"X-Predictor\" is not a lowercase header name: 1 to 64 characters of [a-z0-9-]",
        ),
        (
            experiment_with(json!({"routing_header": ""})),
            "experiments[0].routing_header: \"\" is not a lowercase header name: 1 to 64 characters of [a-z0-9-]",
        ),
        (
            experiment_with(json!({"routing_header": "cookie"})),
            "experiments[0].routing_header: \"cookie\" cannot be a routing header: the filter removes routing headers from every request",
        ),
        (
            experiment_with(json!({"response_header": "x_served"})),
            "experiments[0].response_header: \"x_served\" is not a lowercase header name: 1 to 64 characters of [a-z0-9-]",
        ),
        (
            experiment_with(json!({"sticky": {"cookie": "pr;x"}})),
            "experiments[0].sticky.cookie: \"pr;x\" is not a cookie name: 1 to 64 characters of [A-Za-z0-9_-]",
        ),
        (
            experiment_with(json!({"sticky": {"max_age_seconds": 0}})),
            "experiments[0].sticky.max_age_seconds: must be an integer from 1 to 34560000 (400 days)",
        ),
        (
            experiment_with(json!({"sticky": {"max_age_seconds": 34560001}})),
            "experiments[0].sticky.max_age_seconds: must be an integer from 1 to 34560000 (400 days)",
        ),
        (
            experiment_with(json!({"sticky": {"user_header": "X-User"}})),
            "experiments[0].sticky.user_header: \"X-User\" is not a lowercase header name: 1 to 64 characters of [a-z0-9-]",
        ),
        (
            experiment_with(json!({"sticky": {"cookies": "x"}})),
            "experiments[0].sticky.cookies: unknown field `cookies`, expected one of `cookie`, `max_age_seconds`, `user_header`, `secure`, `domain`",
        ),
        (
            experiment_with(json!({"override": {"query_param": "pre dictor"}})),
            "experiments[0].override.query_param: \"pre dictor\" is not a query parameter name: 1 to 64 characters of [A-Za-z0-9_.-]",
        ),
        (
            experiment_with(json!({"override": {"header": ""}})),
            "experiments[0].override.header: \"\" is not a lowercase header name: 1 to 64 characters of [a-z0-9-]",
        ),
        (
            experiment_with(json!({"override": {"enabled": "no"}})),
            "experiments[0].override.enabled: invalid type: string \"no\", expected a boolean",
        ),
        (
            experiment_with(json!({"override": {"header": "x-predictor"}})),
            "experiments[0].override.header: \"x-predictor\" is the routing_header of experiments[0]; routing headers are removed from every request before it is read, so it must be another header",
        ),
        (
            json!({"experiments": [
                {"name": "a", "routing_header": "x-user-id", "predictors": [{"name": "p", "weight": 1}]},
                {"name": "b", "sticky": {"user_header": "x-user-id"}, "predictors": [{"name": "p", "weight": 1}]}
            ]}),
            "experiments[1].sticky.user_header: \"x-user-id\" is the routing_header of experiments[0]; routing headers are removed from every request before it is read, so it must be another header",
        ),
            // Every object of the contract must be an object: serde would read an array positionally.
        (
            json!({"experiments": [["fraud-detection", null, [{"name": "xgb", "weight": 1}]]]}),
            "experiments[0]: invalid type: sequence, expected an experiment object",
        ),
        (
            experiment_with(json!({"match": [["*"], "/"]})),
            "experiments[0].match: invalid type: sequence, expected a match object",
        ),
        (
            experiment_with(json!({"predictors": [["xgb", 1]]})),
            "experiments[0].predictors[0]: invalid type: sequence, expected a predictor object with `name` and `weight`",
        ),
        (
            experiment_with(json!({"sticky": ["pr-x", 60]})),
            "experiments[0].sticky: invalid type: sequence, expected a sticky object",
        ),
        (
            experiment_with(json!({"override": ["x-force"]})),
            "experiments[0].override: invalid type: sequence, expected an override object",
        ),
        (
            experiment_with(json!({"adaptive": ["thompson"]})),
            "experiments[0].adaptive: invalid type: sequence, expected an adaptive object",
        ),
            // sticky.secure and sticky.domain.
        (
            experiment_with(json!({"sticky": {"secure": "yes"}})),
            "experiments[0].sticky.secure: invalid type: string \"yes\", expected a boolean",
        ),
        (
            experiment_with(json!({"sticky": {"domain": ".example.com"}})),
            "experiments[0].sticky.domain: \".example.com\" must not start with a dot: \"example.com\" already covers its subdomains",
        ),
        (
            experiment_with(json!({"sticky": {"domain": "example.com:443"}})),
            "experiments[0].sticky.domain: \"example.com:443\" must not contain a port",
        ),
        (
            experiment_with(json!({"sticky": {"domain": "Example.com"}})),
            "experiments[0].sticky.domain: \"Example.com\" is not a lowercase DNS name: dot-separated labels of [a-z0-9-], 1 to 63 characters, not starting or ending with \"-\"",
        ),
        (
            experiment_with(json!({"sticky": {"domain": "a..b"}})),
            "experiments[0].sticky.domain: \"a..b\" is not a lowercase DNS name: dot-separated labels of [a-z0-9-], 1 to 63 characters, not starting or ending with \"-\"",
        ),
        (
            experiment_with(json!({"sticky": {"domain": ""}})),
            "experiments[0].sticky.domain: \"\" must be 1 to 253 characters",
        ),
        (
            experiment_with(json!({"sticky": {"domain": format!("{}.com", "a.".repeat(125))}})),
            &*Box::leak(format!("experiments[0].sticky.domain: \"{}.com\" must be 1 to 253 characters", "a.".repeat(125)).into_boxed_str()),
        ),
        (
            experiment_with(json!({"sticky": {"domain": "-shop.example.com"}})),
            "experiments[0].sticky.domain: \"-shop.example.com\" is not a lowercase DNS name: dot-separated labels of [a-z0-9-], 1 to 63 characters, not starting or ending with \"-\"",
        ),
    ]
}
