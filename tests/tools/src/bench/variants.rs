//! The Envoy configurations under comparison. All route the seed's prediction path.

use std::path::PathBuf;

use serde_json::{json, Value};

use predictor_router_e2e::bootstrap::{wasm_filter_config, FILTER_NAME};
use predictor_router_e2e::scenario::seed_failure_policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Envoy answers itself (`direct_response`): all CPU measured is Envoy's.
    Direct,
    /// Envoy proxies to an upstream (another Envoy on the load generator's core).
    Upstream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// One route, no header match.
    Plain,
    /// One route per predictor on `x-predictor`, then a default: what the VirtualService compiles to.
    HeaderRoutes,
    /// Envoy's native random split (`weighted_clusters` 50/50): upstream mode only.
    Weighted,
}

/// A wasm filter in the chain, configured as Istio configures a WasmPlugin (inline here).
#[derive(Debug, Clone)]
pub struct WasmFilter {
    pub module: PathBuf,
    pub configuration: String,
    /// The VM's environment variables (signing keys).
    pub vm_environment: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: &'static str,
    pub routing: Routing,
    pub filter: Option<WasmFilter>,
    /// Extra loopback clusters `(name, port)` (the fleet view's Prometheus cluster).
    pub clusters: Vec<(String, u16)>,
}

fn route_action(mode: Mode, predictor: &str, routing: Routing) -> Value {
    match (mode, routing) {
        (Mode::Upstream, Routing::Weighted) => json!({"route": {"weighted_clusters": {"clusters": [
            {"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}
        ]}}}),
        (Mode::Upstream, _) => json!({"route": {"cluster": predictor}}),
        (Mode::Direct, _) => {
            json!({"direct_response": {"status": 200, "body": {"inline_string": format!("{{\"predictor\":\"{predictor}\"}}")}}})
        }
    }
}

fn routes(mode: Mode, routing: Routing) -> Vec<Value> {
    let mut routes = Vec::new();
    if routing == Routing::HeaderRoutes {
        for predictor in ["xgb", "rf"] {
            let mut route = json!({"match": {"prefix": "/", "headers": [{"name": "x-predictor", "string_match": {"exact": predictor}}]}});
            merge(&mut route, route_action(mode, predictor, routing));
            routes.push(route);
        }
    }
    let mut default = json!({"match": {"prefix": "/"}});
    merge(&mut default, route_action(mode, "xgb", routing));
    routes.push(default);
    routes
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

pub fn bootstrap(variant: &Variant, mode: Mode, listener: u16, admin: u16, upstream: Option<u16>) -> Value {
    let mut filters = Vec::new();
    if let Some(wasm) = &variant.filter {
        filters.push(json!({
            "name": FILTER_NAME,
            "typed_config": wasm_filter_config(
                &wasm.module.display().to_string(),
                &wasm.configuration,
                &seed_failure_policy(),
                &wasm.vm_environment,
            )
        }));
    }
    filters.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}));
    let mut clusters: Vec<Value> = match (mode, upstream) {
        (Mode::Upstream, Some(port)) => ["xgb", "rf"]
            .iter()
            .map(|name| json!({
                "name": name, "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}
            }))
            .collect(),
        _ => Vec::new(),
    };
    clusters.extend(variant.clusters.iter().map(|(name, port)| json!({
        "name": name, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}
    })));
    json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{
                "name": "ingress",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listener}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "route_config": {"virtual_hosts": [{"name": "models", "domains": ["*"], "routes": routes(mode, variant.routing)}]},
                        "http_filters": filters
                    }
                }]}]
            }],
            "clusters": clusters
        }
    })
}

/// The upstream for real-upstream mode: an Envoy that answers every request itself.
pub fn upstream_bootstrap(listener: u16, admin: u16) -> Value {
    json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {"listeners": [{
            "name": "model-server",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": listener}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "model",
                    "route_config": {"virtual_hosts": [{"name": "model", "domains": ["*"], "routes": [
                        {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "{\"data\":{\"ndarray\":[[0.12]]}}"}}}
                    ]}]},
                    "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]
                }
            }]}]
        }]}
    })
}

/// One measured case: a variant and the headers the client sends (the decision path).
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub variant: usize,
    pub headers: Vec<(String, String)>,
    /// `(path, body)` for a POST instead of a GET of the prediction path.
    pub post: Option<(String, String)>,
}
