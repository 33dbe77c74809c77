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

/// A valid `rollout` block for [`experiment_with`]'s experiment (canary `rf`, two steps) with `patch`
/// merged into it.
pub fn rollout_with(patch: Value) -> Value {
    let mut rollout = json!({
        "canary": "rf",
        "start": "2026-12-07T09:00:00Z",
        "steps": [{"percent": 5, "minutes": 30}, {"percent": 100}]
    });
    if let (Some(r), Some(p)) = (rollout.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            r.insert(k.clone(), v.clone());
        }
    }
    rollout
}

/// Invalid configurations with the error text the filter must log for each.
/// A configuration with a pooled adaptive experiment and `fleet.prometheus` with `patch` applied to it
/// (a `null` value removes the field).
pub fn fleet_with(patch: Value) -> Value {
    let mut prometheus = json!({
        "cluster": "outbound|9090||prometheus.monitoring.svc.cluster.local",
        "authority": "prometheus.monitoring.svc.cluster.local:9090"
    });
    if let (Some(r), Some(p)) = (prometheus.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if v.is_null() {
                r.remove(k);
            } else {
                r.insert(k.clone(), v.clone());
            }
        }
    }
    let mut config = experiment_with(json!({"adaptive": {"policy": "thompson", "pooled": true}}));
    config["fleet"] = json!({ "prometheus": prometheus });
    config
}

/// A configuration whose experiment has a valid `shadow` block with `patch` applied to it (a `null`
/// value removes the field).
pub fn shadow_with(patch: Value) -> Value {
    let mut shadow = json!({
        "name": "rf-v2",
        "cluster": "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local",
        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
        "percent": 10
    });
    if let (Some(r), Some(p)) = (shadow.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if v.is_null() {
                r.remove(k);
            } else {
                r.insert(k.clone(), v.clone());
            }
        }
    }
    experiment_with(json!({ "shadow": shadow }))
}

pub fn invalid_configurations() -> Vec<(Value, &'static str)> {
    let p2 = |a: Value, b: Value| json!([a, b]);
    vec![
        (json!({}), "$: missing field `experiments`"),
        (json!({"experiments": []}), "experiments: must list 1 to 1000 experiments, found 0"),
        (json!({"experiments": {}}), "experiments: invalid type: map, expected a sequence"),
        (json!({"experiments": [], "extra": 1}), "extra: unknown field `extra`, expected one of `experiments`, `signing`, `fleet`"),
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
        // The rollout block (contract "Progressive rollout").
        (
            experiment_with(json!({"adaptive": {"policy": "thompson"}, "rollout": rollout_with(json!({}))})),
            "experiments[0].rollout: an experiment has `adaptive` or `rollout`, not both: a rollout's shares follow its steps",
        ),
        (
            experiment_with(json!({"rollout": ["rf"]})),
            "experiments[0].rollout: invalid type: sequence, expected a rollout object",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"canaries": "rf"}))})),
            "experiments[0].rollout.canaries: unknown field `canaries`, expected one of `canary`, `start`, `steps`, `reward`, `max_latency_ms`, `feedback_path`, `guard`, `update_seconds`, `pooled`",
        ),
        (
            experiment_with(json!({"rollout": {"start": "2026-12-07T09:00:00Z", "steps": [{"percent": 100}]}})),
            "experiments[0].rollout.canary: is required: the name of the predictor being rolled out",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"canary": "gbm"}))})),
            "experiments[0].rollout.canary: \"gbm\" is not a predictor of the experiment",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"canary": "xgb"}))})),
            "experiments[0].rollout.canary: \"xgb\" must be the last listed predictor with weight > 0, so that a growing canary never moves its own hashed users",
        ),
        (
            experiment_with(json!({
                "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}, {"name": "shadow", "weight": 0}],
                "rollout": rollout_with(json!({"canary": "shadow"}))
            })),
            "experiments[0].rollout.canary: \"shadow\" has weight 0; the canary must have weight > 0",
        ),
        (
            experiment_with(json!({
                "predictors": [{"name": "xgb", "weight": 0}, {"name": "rf", "weight": 10}],
                "rollout": rollout_with(json!({}))
            })),
            "experiments[0].rollout.canary: \"rf\" needs a baseline: at least one other predictor with weight > 0",
        ),
        (
            experiment_with(json!({"rollout": {"canary": "rf", "steps": [{"percent": 100}]}})),
            "experiments[0].rollout.start: is required: an RFC 3339 UTC instant such as \"2026-12-07T09:00:00Z\"",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"start": "2026-12-07T09:00:00+01:00"}))})),
            "experiments[0].rollout.start: \"2026-12-07T09:00:00+01:00\" is not an RFC 3339 UTC instant at second precision such as \"2026-12-07T09:00:00Z\" (capital T and Z, no offset or fraction, from 1970 on)",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"start": "2026-12-07T09:00:00.5Z"}))})),
            "experiments[0].rollout.start: \"2026-12-07T09:00:00.5Z\" is not an RFC 3339 UTC instant at second precision such as \"2026-12-07T09:00:00Z\" (capital T and Z, no offset or fraction, from 1970 on)",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"start": "2026-02-29T09:00:00Z"}))})),
            "experiments[0].rollout.start: \"2026-02-29T09:00:00Z\" is not an RFC 3339 UTC instant at second precision such as \"2026-12-07T09:00:00Z\" (capital T and Z, no offset or fraction, from 1970 on)",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"start": 1796000000}))})),
            "experiments[0].rollout.start: invalid type: integer `1796000000`, expected a string",
        ),
        (
            experiment_with(json!({"rollout": {"canary": "rf", "start": "2026-12-07T09:00:00Z"}})),
            "experiments[0].rollout.steps: is required: the canary's percent per step, e.g. [{\"percent\": 5, \"minutes\": 30}, {\"percent\": 100}]",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": []}))})),
            "experiments[0].rollout.steps: must list 1 to 20 steps, found 0",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps":
                (1..=21).map(|p| if p < 21 { json!({"percent": p, "minutes": 1}) } else { json!({"percent": p}) }).collect::<Vec<_>>()}))})),
            "experiments[0].rollout.steps: must list 1 to 20 steps, found 21",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 0, "minutes": 5}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].percent: must be an integer from 1 to 100",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 101}]}))})),
            "experiments[0].rollout.steps[0].percent: must be an integer from 1 to 100",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 2.5, "minutes": 5}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].percent: must be an integer from 1 to 100",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"minutes": 5}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].percent: is required: the canary's share, 1 to 100",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 20, "minutes": 5}, {"percent": 20}]}))})),
            "experiments[0].rollout.steps[1].percent: 20 must be greater than the previous step's 20: steps only ramp up",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 50, "minutes": 5}, {"percent": 20}]}))})),
            "experiments[0].rollout.steps[1].percent: 20 must be greater than the previous step's 50: steps only ramp up",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 5}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].minutes: is required on every step but the last: an integer from 1 to 10080",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 5, "minutes": 5}, {"percent": 100, "minutes": 5}]}))})),
            "experiments[0].rollout.steps[1].minutes: the last step holds until the configuration changes: leave `minutes` out",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 5, "minutes": 0}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].minutes: must be an integer from 1 to 10080",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 5, "minutes": 10081}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].minutes: must be an integer from 1 to 10080",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"steps": [{"percent": 5, "duration": "30m"}, {"percent": 100}]}))})),
            "experiments[0].rollout.steps[0].duration: unknown field `duration`, expected `percent` or `minutes`",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"max_drop_percent": 100.5}}))})),
            "experiments[0].rollout.guard.max_drop_percent: must be a number from 0 to 100 (percentage points)",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"max_drop_percent": -1}}))})),
            "experiments[0].rollout.guard.max_drop_percent: must be a number from 0 to 100 (percentage points)",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"confidence_percent": 79.9}}))})),
            "experiments[0].rollout.guard.confidence_percent: must be a number from 80 to 99.9 with at most one decimal",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"confidence_percent": 100}}))})),
            "experiments[0].rollout.guard.confidence_percent: must be a number from 80 to 99.9 with at most one decimal",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"confidence_percent": 99.95}}))})),
            "experiments[0].rollout.guard.confidence_percent: must be a number from 80 to 99.9 with at most one decimal",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"min_outcomes": 1000001}}))})),
            "experiments[0].rollout.guard.min_outcomes: must be an integer from 0 to 1000000",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"guard": {"confidence": 99}}))})),
            "experiments[0].rollout.guard.confidence: unknown field `confidence`, expected one of `max_drop_percent`, `confidence_percent`, `min_outcomes`",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"reward": "feedback"}))})),
            "experiments[0].rollout.feedback_path: is required with reward \"feedback\"",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"reward": "feedback", "feedback_path": "/fb", "max_latency_ms": 300}))})),
            "experiments[0].rollout.max_latency_ms: only applies to reward \"response\"",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"feedback_path": "/fb"}))})),
            "experiments[0].rollout.feedback_path: only applies to reward \"feedback\"",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"reward": "latency"}))})),
            "experiments[0].rollout.reward: \"latency\" is not a reward: \"response\" or \"feedback\"",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"update_seconds": 0}))})),
            "experiments[0].rollout.update_seconds: must be an integer from 1 to 3600",
        ),
        (
            experiment_with(json!({"rollout": rollout_with(json!({"pooled": true}))})),
            "experiments[0].rollout.pooled: needs a top-level `fleet` object naming the Prometheus that holds every replica's outcomes",
        ),
        // fleet and pooled (contract "Fleet view")
        (
            experiment_with(json!({"adaptive": {"policy": "thompson", "pooled": true}})),
            "experiments[0].adaptive.pooled: needs a top-level `fleet` object naming the Prometheus that holds every replica's outcomes",
        ),
        (
            experiment_with(json!({"adaptive": {"policy": "thompson", "pooled": "yes"}})),
            "experiments[0].adaptive.pooled: invalid type: string \"yes\", expected a boolean",
        ),
        (
            {
                let mut c = fleet_with(json!({}));
                c["fleet"] = json!({});
                c
            },
            "fleet.prometheus: is required: the Prometheus that scrapes every gateway replica, with `cluster` and `authority`",
        ),
        (
            {
                let mut c = fleet_with(json!({}));
                c["fleet"] = json!([]);
                c
            },
            "fleet: invalid type: sequence, expected a fleet object with `prometheus`",
        ),
        (
            {
                let mut c = fleet_with(json!({}));
                c["fleet"]["thanos"] = json!({});
                c
            },
            "fleet.thanos: unknown field `thanos`, expected `prometheus`",
        ),
        (
            fleet_with(json!({"url": "http://prometheus:9090"})),
            "fleet.prometheus.url: unknown field `url`, expected one of `cluster`, `authority`, `path`, `selector`, `timeout_ms`, `delay_seconds`, `window_seconds`",
        ),
        (
            fleet_with(json!({"cluster": null})),
            "fleet.prometheus.cluster: is required: the Envoy cluster of the Prometheus service, e.g. \"outbound|9090||prometheus.monitoring.svc.cluster.local\"",
        ),
        (
            fleet_with(json!({"cluster": "outbound|9090|| prometheus"})),
            "fleet.prometheus.cluster: \"outbound|9090|| prometheus\" must not contain spaces or control characters",
        ),
        (
            fleet_with(json!({"cluster": ""})),
            "fleet.prometheus.cluster: must be 1 to 1024 characters",
        ),
        (
            fleet_with(json!({"authority": null})),
            "fleet.prometheus.authority: is required: the `:authority` of the queries, e.g. \"prometheus.monitoring.svc.cluster.local:9090\"",
        ),
        (
            fleet_with(json!({"authority": "http://prometheus:9090"})),
            "fleet.prometheus.authority: \"http://prometheus:9090\" must be a host with an optional port, without a scheme or path",
        ),
        (
            fleet_with(json!({"path": "api/v1/query"})),
            "fleet.prometheus.path: \"api/v1/query\" must start with \"/\" and have no query string (the filter adds `query` and `time`)",
        ),
        (
            fleet_with(json!({"path": "/api/v1/query?dedup=true"})),
            "fleet.prometheus.path: \"/api/v1/query?dedup=true\" must start with \"/\" and have no query string (the filter adds `query` and `time`)",
        ),
        (
            fleet_with(json!({"selector": "namespace=istio-ingress"})),
            "fleet.prometheus.selector: \"namespace=istio-ingress\" is not PromQL label matchers such as namespace=\"istio-ingress\",app=~\"gw-.*\": a quoted value expected at byte 10",
        ),
        (
            fleet_with(json!({"selector": "{namespace=\"istio-ingress\"}"})),
            "fleet.prometheus.selector: \"{namespace=\\\"istio-ingress\\\"}\" is not PromQL label matchers such as namespace=\"istio-ingress\",app=~\"gw-.*\": a label name ([a-zA-Z_][a-zA-Z0-9_]*) expected at byte 0",
        ),
        (
            fleet_with(json!({"selector": "namespace==\"a\""})),
            "fleet.prometheus.selector: \"namespace==\\\"a\\\"\" is not PromQL label matchers such as namespace=\"istio-ingress\",app=~\"gw-.*\": a quoted value expected at byte 10",
        ),
        (
            fleet_with(json!({"selector": "namespace=\"a\" pod=\"b\""})),
            "fleet.prometheus.selector: \"namespace=\\\"a\\\" pod=\\\"b\\\"\" is not PromQL label matchers such as namespace=\"istio-ingress\",app=~\"gw-.*\": a comma between matchers expected at byte 14",
        ),
        (
            fleet_with(json!({"selector": "namespace=\"a"})),
            "fleet.prometheus.selector: \"namespace=\\\"a\" is not PromQL label matchers such as namespace=\"istio-ingress\",app=~\"gw-.*\": unterminated value at byte 12",
        ),
        (
            fleet_with(json!({"selector": "experiment=\"other\""})),
            "fleet.prometheus.selector: must not match `experiment`: every query already selects the experiment by name",
        ),
        (
            fleet_with(json!({"timeout_ms": 99})),
            "fleet.prometheus.timeout_ms: must be an integer from 100 to 60000",
        ),
        (
            fleet_with(json!({"timeout_ms": 60001})),
            "fleet.prometheus.timeout_ms: must be an integer from 100 to 60000",
        ),
        (
            fleet_with(json!({"delay_seconds": 601})),
            "fleet.prometheus.delay_seconds: must be an integer from 0 to 600",
        ),
        (
            fleet_with(json!({"delay_seconds": -1})),
            "fleet.prometheus.delay_seconds: must be an integer from 0 to 600",
        ),
        (
            fleet_with(json!({"window_seconds": 59})),
            "fleet.prometheus.window_seconds: must be an integer from 60 to 2592000",
        ),
        (
            fleet_with(json!({"window_seconds": 2_592_001})),
            "fleet.prometheus.window_seconds: must be an integer from 60 to 2592000",
        ),
        (
            fleet_with(json!({"window_seconds": 3600.5})),
            "fleet.prometheus.window_seconds: must be an integer from 60 to 2592000",
        ),
        // shadow (contract "Shadow comparison")
        (
            experiment_with(json!({"shadow": []})),
            "experiments[0].shadow: invalid type: sequence, expected a shadow object with `name`, `cluster`, `authority` and `percent`",
        ),
        (
            shadow_with(json!({"mirror": true})),
            "experiments[0].shadow.mirror: unknown field `mirror`, expected one of `name`, `cluster`, `authority`, `path_prefix`, `percent`, `timeout_ms`, `max_in_flight`, `compare`, `output`",
        ),
        (
            shadow_with(json!({"name": null})),
            "experiments[0].shadow.name: is required: a DNS label naming the shadow in metrics",
        ),
        (
            shadow_with(json!({"name": "RF_v2"})),
            "experiments[0].shadow.name: \"RF_v2\" is not a DNS label: 1 to 63 characters of [a-z0-9-], starting and ending with a letter or digit",
        ),
        (
            shadow_with(json!({"name": "rf"})),
            "experiments[0].shadow.name: \"rf\" is a predictor of this experiment: a shadow is a predictor no client is routed to",
        ),
        (
            shadow_with(json!({"cluster": null})),
            "experiments[0].shadow.cluster: is required: the Envoy cluster of the shadow's service, e.g. \"outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local\"",
        ),
        (
            shadow_with(json!({"cluster": ""})),
            "experiments[0].shadow.cluster: must be 1 to 1024 characters",
        ),
        (
            shadow_with(json!({"authority": null})),
            "experiments[0].shadow.authority: is required: the `:authority` of the copies, e.g. \"fraud-detection-rf-v2.default.svc.cluster.local:8000\"",
        ),
        (
            shadow_with(json!({"authority": "http://rf-v2:8000"})),
            "experiments[0].shadow.authority: \"http://rf-v2:8000\" must be a host with an optional port, without a scheme or path",
        ),
        (
            shadow_with(json!({"path_prefix": "api/"})),
            "experiments[0].shadow.path_prefix: must start with \"/\"",
        ),
        (
            shadow_with(json!({"path_prefix": "/a b/"})),
            "experiments[0].shadow.path_prefix: \"/a b/\" must not contain spaces or control characters",
        ),
        (
            shadow_with(json!({"percent": null})),
            "experiments[0].shadow.percent: is required: the share of requests copied, 0.01 to 100",
        ),
        (
            shadow_with(json!({"percent": 0})),
            "experiments[0].shadow.percent: must be a number from 0.01 to 100 with at most two decimals",
        ),
        (
            shadow_with(json!({"percent": 0.001})),
            "experiments[0].shadow.percent: must be a number from 0.01 to 100 with at most two decimals",
        ),
        (
            shadow_with(json!({"percent": 12.345})),
            "experiments[0].shadow.percent: must be a number from 0.01 to 100 with at most two decimals",
        ),
        (
            shadow_with(json!({"percent": 100.01})),
            "experiments[0].shadow.percent: must be a number from 0.01 to 100 with at most two decimals",
        ),
        (
            shadow_with(json!({"percent": "10"})),
            "experiments[0].shadow.percent: invalid type: string \"10\", expected a JSON number",
        ),
        (
            shadow_with(json!({"timeout_ms": 0})),
            "experiments[0].shadow.timeout_ms: must be an integer from 1 to 60000",
        ),
        (
            shadow_with(json!({"timeout_ms": 60_001})),
            "experiments[0].shadow.timeout_ms: must be an integer from 1 to 60000",
        ),
        (
            shadow_with(json!({"max_in_flight": 0})),
            "experiments[0].shadow.max_in_flight: must be an integer from 1 to 10000",
        ),
        (
            shadow_with(json!({"max_in_flight": 10_001})),
            "experiments[0].shadow.max_in_flight: must be an integer from 1 to 10000",
        ),
        (
            shadow_with(json!({"compare": "argmax"})),
            "experiments[0].shadow.compare: \"argmax\" is not \"seldon\", \"oip\", \"kserve_v1\" or \"status\"",
        ),
        (
            shadow_with(json!({"compare": "OIP"})),
            "experiments[0].shadow.compare: \"OIP\" is not \"seldon\", \"oip\", \"kserve_v1\" or \"status\"",
        ),
        (
            shadow_with(json!({"output": "probabilities"})),
            "experiments[0].shadow.output: belongs to compare \"oip\": it names the output tensor compared",
        ),
        (
            shadow_with(json!({"compare": "kserve_v1", "output": "probabilities"})),
            "experiments[0].shadow.output: belongs to compare \"oip\": it names the output tensor compared",
        ),
        (
            shadow_with(json!({"compare": "oip", "output": ""})),
            "experiments[0].shadow.output: must be 1 to 128 printable ASCII characters: the name of an output tensor",
        ),
        (
            shadow_with(json!({"compare": "oip", "output": "x".repeat(129)})),
            "experiments[0].shadow.output: must be 1 to 128 printable ASCII characters: the name of an output tensor",
        ),
        (
            shadow_with(json!({"compare": "oip", "output": "predict\u{7f}"})),
            "experiments[0].shadow.output: must be 1 to 128 printable ASCII characters: the name of an output tensor",
        ),
        (
            shadow_with(json!({"compare": "oip", "output": 7})),
            "experiments[0].shadow.output: invalid type: integer `7`, expected a string",
        ),
    ]
}
