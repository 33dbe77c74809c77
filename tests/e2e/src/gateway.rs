//! A gateway under test: one predictor upstream per predictor of the first experiment, and Envoy with
//! the compiled module in front of them.

use serde_json::Value;

use crate::bootstrap::Delivery;
use crate::envoy::{Envoy, EnvoyOptions};
use crate::http::HttpClient;
use crate::scenario::{predictor_names, seed_failure_policy};
use crate::upstream::PredictorServer;

pub struct Gateway {
    pub upstreams: Vec<PredictorServer>,
    pub envoy: Envoy,
}

pub struct GatewayOptions {
    pub delivery: Delivery,
    pub concurrency: u32,
    pub failure_policy: String,
    pub validate: bool,
    /// Route like the VirtualService for real Seldon predictors (prefix rewritten to `/`).
    pub rewrite_prefix: Option<String>,
    /// Routes instead of the generated ones (an HTTPRoute's, translated).
    pub routes: Option<Vec<serde_json::Value>>,
    /// `(certificate chain, private key)`: the listener speaks HTTPS.
    pub tls: Option<(String, String)>,
    /// See [`crate::bootstrap::Bootstrap::vm_environment`].
    pub vm_environment: Vec<(String, String)>,
    /// See [`crate::bootstrap::Bootstrap::extra_clusters`].
    pub extra_clusters: Vec<(String, u16)>,
    /// See [`crate::envoy::EnvoyOptions::component_log_level`].
    pub component_log_level: Option<String>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            delivery: Delivery::Ecds,
            concurrency: 1,
            // What Istio configures for the shipped WasmPlugin (its failStrategy).
            failure_policy: seed_failure_policy(),
            validate: true,
            rewrite_prefix: None,
            routes: None,
            tls: None,
            vm_environment: Vec::new(),
            extra_clusters: Vec::new(),
            component_log_level: None,
        }
    }
}

impl Gateway {
    pub fn start(plugin_config: Value) -> Gateway {
        Gateway::start_with(plugin_config, GatewayOptions::default())
    }

    pub fn start_with(plugin_config: Value, options: GatewayOptions) -> Gateway {
        let upstreams: Vec<PredictorServer> = predictor_names(&plugin_config)
            .iter()
            .map(|name| PredictorServer::start(name))
            .collect();
        let envoy = Gateway::start_envoy(plugin_config, &upstreams, options).unwrap_or_else(|failure| {
            panic!(
                "Envoy did not start (exit {:?}):\n{}",
                failure.exit_code, failure.log
            )
        });
        Gateway { upstreams, envoy }
    }

    pub fn start_envoy(
        plugin_config: Value,
        upstreams: &[PredictorServer],
        options: GatewayOptions,
    ) -> Result<Envoy, crate::envoy::StartFailure> {
        let mut envoy_options = EnvoyOptions::new(
            plugin_config,
            upstreams.iter().map(|u| (u.name.clone(), u.port)).collect(),
        );
        envoy_options.delivery = options.delivery;
        envoy_options.concurrency = options.concurrency;
        envoy_options.failure_policy = options.failure_policy;
        envoy_options.validate = options.validate;
        envoy_options.rewrite_prefix = options.rewrite_prefix;
        envoy_options.routes = options.routes;
        envoy_options.tls = options.tls;
        envoy_options.vm_environment = options.vm_environment;
        envoy_options.extra_clusters = options.extra_clusters;
        envoy_options.component_log_level = options.component_log_level;
        Envoy::start(envoy_options)
    }

    pub fn client(&self) -> HttpClient {
        HttpClient::new(self.envoy.listener_port)
    }

    pub fn upstream(&self, name: &str) -> &PredictorServer {
        self.upstreams
            .iter()
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("no upstream {name}"))
    }
}
