//! Which experiment a request belongs to: hosts, ports, case, wildcards, path prefixes, order.

use predictor_router::router::table::RoutingTable;
use serde_json::json;

fn matcher(experiments: serde_json::Value) -> impl Fn(&str, &str) -> Option<String> {
    let mut exps = experiments;
    for e in exps.as_array_mut().unwrap() {
        e["predictors"] = json!([{"name": "p", "weight": 1}]);
    }
    let config = RoutingTable::parse(json!({ "experiments": exps }).to_string().as_bytes()).unwrap();
    move |authority, path| {
        config
            .match_request(authority.as_bytes(), path.as_bytes())
            .map(|i| config.experiments()[i.index()].name.clone())
    }
}

#[test]
fn hosts_exact_wildcard_and_any() {
    let m = matcher(json!([
        {"name": "exact", "match": {"hosts": ["models.example.com"]}},
        {"name": "sub", "match": {"hosts": ["*.example.org"]}},
    ]));
    assert_eq!(m("models.example.com", "/").as_deref(), Some("exact"));
    assert_eq!(
        m("MODELS.Example.COM", "/").as_deref(),
        Some("exact"),
        "case-insensitive"
    );
    assert_eq!(
        m("models.example.com:8080", "/").as_deref(),
        Some("exact"),
        "port stripped"
    );
    assert_eq!(m("other.example.com", "/"), None);
    assert_eq!(m("a.example.org", "/").as_deref(), Some("sub"));
    assert_eq!(
        m("a.b.example.org:443", "/").as_deref(),
        Some("sub"),
        "deeper subdomains match"
    );
    assert_eq!(m("example.org", "/"), None, "not the bare suffix");
    assert_eq!(m(".example.org", "/"), None, "an empty label is not a subdomain");
    assert_eq!(m("aexample.org", "/"), None);
    assert_eq!(m("", "/"), None);

    let any = matcher(json!([{"name": "any", "match": {"hosts": ["*"]}}, {"name": "default"}]));
    assert_eq!(any("whatever:1", "/").as_deref(), Some("any"));
    assert_eq!(any("", "/").as_deref(), Some("any"));
}

#[test]
fn path_prefix_is_a_plain_byte_prefix_of_the_path() {
    let m = matcher(json!([
        {"name": "fraud", "match": {"path_prefix": "/seldon/default/fraud-detection/"}},
        {"name": "rest", "match": {"path_prefix": "/seldon/"}},
    ]));
    assert_eq!(
        m("h", "/seldon/default/fraud-detection/api/v1.0/predictions").as_deref(),
        Some("fraud")
    );
    assert_eq!(m("h", "/seldon/default/fraud-detection").as_deref(), Some("rest"));
    assert_eq!(m("h", "/seldon/default/income/api").as_deref(), Some("rest"));
    assert_eq!(m("h", "/Seldon/"), None, "case-sensitive");
    assert_eq!(m("h", "/other"), None);
}

#[test]
fn the_first_fitting_experiment_in_configuration_order_wins_across_host_kinds() {
    let m = matcher(json!([
        {"name": "narrow", "match": {"hosts": ["*"], "path_prefix": "/narrow"}},
        {"name": "by-suffix", "match": {"hosts": ["*.example.com"]}},
        {"name": "by-host", "match": {"hosts": ["a.example.com"]}},
        {"name": "fallback"},
    ]));
    assert_eq!(m("a.example.com", "/narrow/x").as_deref(), Some("narrow"));
    assert_eq!(m("a.example.com", "/x").as_deref(), Some("by-suffix"));
    assert_eq!(m("b.example.com", "/x").as_deref(), Some("by-suffix"));
    assert_eq!(m("example.com", "/x").as_deref(), Some("fallback"));
}

#[test]
fn hosts_of_any_length_are_lowercased_and_matched() {
    // Up to 256 bytes the host is lowercased in a stack buffer, beyond on the heap: both give the same
    // answer, at the edge and past it. (DNS names stop at 253, but a client may send anything.)
    let m = matcher(json!([{"name": "sub", "match": {"hosts": ["*.example.com"]}}]));
    let suffix = ".EXAMPLE.com";
    for length in [255, 256, 257, 300, 4096] {
        let host = format!("{}{suffix}", "A".repeat(length - suffix.len()));
        assert_eq!(host.len(), length);
        assert_eq!(m(&host, "/").as_deref(), Some("sub"), "a host of {length} bytes");
        assert_eq!(
            m(&format!("{host}:8080"), "/").as_deref(),
            Some("sub"),
            "with a port"
        );
        assert_eq!(m(&host.replace("EXAMPLE", "EXAMPLF"), "/"), None);
    }
}
