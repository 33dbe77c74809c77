//! Envoy bootstraps that mirror what Istio generates for a `WasmPlugin` on the ingress gateway.
//!
//! Istio turns a WasmPlugin into an `envoy.extensions.filters.http.wasm.v3.Wasm` HTTP filter delivered
//! over ECDS (extension config discovery), with `config.name` = `<namespace>.<name>`, `root_id` =
//! `pluginName`, `vm_config.runtime` = `envoy.wasm.runtime.v8`, the module as a local file (istio-agent
//! downloads it), the `pluginConfig` as a `google.protobuf.StringValue` holding its JSON, and a failure
//! policy. Here ECDS reads from a file (`path_config_source`), the same mechanism shape: a new file is a
//! new filter configuration, applied to new streams, and a rejected one leaves the last good in place.
//!
//! The route table is what the VirtualService of `envoyfilter/` compiles to: one route per predictor
//! matching the routing header exactly, then a default route to the baseline (the first predictor).

use serde_json::{json, Value};

/// Where the filter configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Inline in the listener: a static Envoy, which refuses to start on an invalid configuration.
    Static,
    /// Extension config discovery from a file (as Istio does over xDS).
    Ecds,
}

pub const FILTER_NAME: &str = "istio-system.predictor-router";
pub const ROOT_ID: &str = "predictor_router";

/// Envoy `stats_tags` that turn the filter's counter names into labels (experiment, predictor, reason,
/// class): the ones shipped for Istio in `envoyfilter/stats-tags/istio-metrics.yaml`.
pub fn stats_tags() -> Value {
    crate::scenario::shipped_stats_tags()
}

/// The `envoy.extensions.filters.http.wasm.v3.Wasm` typed config of the module, as Istio translates a
/// WasmPlugin: its name, root id, the V8 runtime, the module as a local file, the plugin configuration
/// as a StringValue, and the failure policy. `vm_environment` is the VM's environment
/// (`vm_config.environment_variables.key_values`, what a WasmPlugin's `vmConfig.env` compiles to).
pub fn wasm_filter_config(
    module: &str,
    plugin_config: &str,
    failure_policy: &str,
    vm_environment: &[(String, String)],
) -> Value {
    let mut vm_config = json!({
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": module}}
    });
    if !vm_environment.is_empty() {
        let key_values: serde_json::Map<String, Value> = vm_environment
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        vm_config["environment_variables"] = json!({ "key_values": key_values });
    }
    json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": FILTER_NAME,
            "root_id": ROOT_ID,
            "vm_config": vm_config,
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": plugin_config
            },
            "failure_policy": failure_policy
        }
    })
}

#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub admin_port: u16,
    pub listener_port: u16,
    pub wasm_path: String,
    pub plugin_config: Value,
    /// `(predictor, upstream port)`, in routing order; the first is the default route.
    pub upstreams: Vec<(String, u16)>,
    pub routing_header: String,
    pub delivery: Delivery,
    /// ECDS file (for `Delivery::Ecds`).
    pub ecds_path: String,
    /// `FAIL_CLOSED`, `FAIL_OPEN` or `FAIL_RELOAD`.
    pub failure_policy: String,
    /// With a path prefix, requests under it are routed as the VirtualService does for real Seldon
    /// predictors: the prefix is rewritten to `/` (`/seldon/default/fraud-detection/api/v1.0/feedback`
    /// reaches the model as `/api/v1.0/feedback`). Other paths keep the plain routes.
    pub rewrite_prefix: Option<String>,
    /// Routes to use instead of the generated ones (e.g. translated from an HTTPRoute).
    pub routes: Option<Vec<Value>>,
    /// `(certificate chain, private key)` PEM files: the listener terminates TLS (HTTPS).
    pub tls: Option<(String, String)>,
    /// The Wasm VM's environment variables (the signing keys, say).
    pub vm_environment: Vec<(String, String)>,
    /// More clusters by name, each one endpoint on 127.0.0.1 (a Prometheus for the fleet view, under
    /// the outbound cluster name Istio gives its Service).
    pub extra_clusters: Vec<(String, u16)>,
}

impl Bootstrap {
    /// The HTTP filter's `Wasm` configuration, as Istio would send it.
    pub fn wasm_filter_config(&self, plugin_config: &Value) -> Value {
        wasm_filter_config(
            &self.wasm_path,
            &plugin_config.to_string(),
            &self.failure_policy,
            &self.vm_environment,
        )
    }

    /// The ECDS file content for a plugin configuration (a discovery response with one resource).
    pub fn ecds_document(&self, plugin_config: &Value, version: u64) -> Value {
        json!({
            "version_info": version.to_string(),
            "resources": [{
                "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                "name": FILTER_NAME,
                "typed_config": self.wasm_filter_config(plugin_config)
            }]
        })
    }

    pub fn render(&self) -> Value {
        let wasm_filter = match self.delivery {
            Delivery::Static => {
                json!({"name": FILTER_NAME, "typed_config": self.wasm_filter_config(&self.plugin_config)})
            }
            Delivery::Ecds => json!({
                "name": FILTER_NAME,
                "config_discovery": {
                    "config_source": {
                        "path_config_source": {
                            "path": self.ecds_path,
                            "watched_directory": {"path": parent_dir(&self.ecds_path)}
                        },
                        "resource_api_version": "V3"
                    },
                    "type_urls": ["type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"]
                }
            }),
        };
        let mut routes: Vec<Value> = self.routes.clone().unwrap_or_default();
        if self.routes.is_some() {
            // Given whole.
        } else if let Some(prefix) = &self.rewrite_prefix {
            for (name, _) in &self.upstreams {
                routes.push(json!({
                    "name": format!("seldon-{name}"),
                    "match": {"prefix": prefix, "headers": [{"name": self.routing_header, "string_match": {"exact": name}}]},
                    "route": {"cluster": cluster_name(name), "prefix_rewrite": "/"}
                }));
            }
            if let Some((baseline, _)) = self.upstreams.first() {
                routes.push(json!({"name": "seldon-baseline", "match": {"prefix": prefix},
                                   "route": {"cluster": cluster_name(baseline), "prefix_rewrite": "/"}}));
            }
        }
        routes.extend(self
            .upstreams
            .iter()
            .filter(|_| self.routes.is_none())
            .map(|(name, _)| {
                json!({
                    "name": format!("predictor-{name}"),
                    "match": {"prefix": "/", "headers": [{"name": self.routing_header, "string_match": {"exact": name}}]},
                    "route": {"cluster": cluster_name(name)}
                })
            }));
        if let (Some((baseline, _)), None) = (self.upstreams.first(), &self.routes) {
            routes.push(json!({"name": "default-baseline", "match": {"prefix": "/"}, "route": {"cluster": cluster_name(baseline)}}));
        }
        let clusters: Vec<Value> = self
            .upstreams
            .iter()
            .map(|(name, port)| (cluster_name(name), *port))
            .chain(self.extra_clusters.iter().cloned())
            .map(|(name, port)| {
                json!({
                    "name": name,
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": name,
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]
                    }
                })
            })
            .collect();
        json!({
            // Istio's node identity for a gateway (ECDS subscriptions need one).
            "node": {"id": "router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.svc.cluster.local", "cluster": "istio-ingressgateway.istio-system"},
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}},
            "stats_config": {"stats_tags": stats_tags()},
            "static_resources": {
                "listeners": [{
                    "name": "ingress-gateway",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.listener_port}},
                    "filter_chains": [{"transport_socket": self.transport_socket(), "filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": "ingress",
                            "route_config": {"name": "seldon-gateway", "virtual_hosts": [{"name": "models", "domains": ["*"], "routes": routes}]},
                            "http_filters": [
                                wasm_filter,
                                {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
                            ]
                        }
                    }]}]
                }],
                "clusters": clusters
            }
        })
    }
}

impl Bootstrap {
    /// TLS termination with the test's certificate, or none (`null` is no transport socket).
    fn transport_socket(&self) -> Value {
        match &self.tls {
            None => Value::Null,
            Some((chain, key)) => json!({
                "name": "envoy.transport_sockets.tls",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                    "common_tls_context": {"tls_certificates": [{
                        "certificate_chain": {"filename": chain},
                        "private_key": {"filename": key}
                    }]}
                }
            }),
        }
    }
}

pub fn cluster_name(predictor: &str) -> String {
    format!("outbound|8000|{predictor}|fraud-detection")
}

fn parent_dir(path: &str) -> String {
    std::path::Path::new(path)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into())
}
