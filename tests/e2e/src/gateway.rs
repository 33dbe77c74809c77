//! A gateway under test: one predictor upstream per predictor of the first experiment, and Envoy with
//! the compiled module in front of them.

use serde_json::Value;

use crate::envoy::{Envoy, EnvoyOptions};
use crate::http::HttpClient;
use crate::scenario::predictor_names;
use crate::upstream::PredictorServer;

pub struct Gateway {
    pub upstreams: Vec<PredictorServer>,
    pub envoy: Envoy,
}

/// A gateway's Envoy options: the plugin configuration and the upstreams are the gateway's own.
pub type GatewayOptions = EnvoyOptions;

impl Gateway {
    pub fn start(plugin_config: Value) -> Gateway {
        Gateway::start_with(plugin_config, GatewayOptions::default())
    }

    /// With `workers` worker threads (`--concurrency`): what the workers share is only tested with two
    /// or more.
    pub fn start_with_workers(plugin_config: Value, workers: u32) -> Gateway {
        Gateway::start_with(
            plugin_config,
            GatewayOptions {
                concurrency: workers,
                ..GatewayOptions::default()
            },
        )
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
        Envoy::start(EnvoyOptions {
            plugin_config,
            upstreams: upstreams.iter().map(|u| (u.name.clone(), u.port)).collect(),
            ..options
        })
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
