//! The plugin's root context: validates each configuration Envoy delivers and hands the one in
//! service to every new HTTP stream.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::abi;
use super::http_context::PredictorRouterHttp;
use super::random::SharedRng;
use super::state::RouterState;
use crate::router::config;

#[derive(Default)]
pub struct PredictorRouterRoot {
    /// `None` until a valid configuration arrives; a rejected update leaves the previous one in service.
    state: Option<Rc<RouterState>>,
    rng: SharedRng,
}

impl Context for PredictorRouterRoot {}

impl RootContext for PredictorRouterRoot {
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let bytes = match abi::plugin_configuration(plugin_configuration_size) {
            Ok(bytes) => bytes,
            Err(e) => {
                log::error!(
                    "predictor_router: cannot read the plugin configuration (host status {})",
                    e.0
                );
                return false;
            }
        };
        match config::parse(&bytes) {
            Ok(config) => {
                for warning in config.warnings() {
                    log::warn!("predictor_router: {warning}");
                }
                log::info!(
                    "predictor_router: configured {} experiment(s)",
                    config.experiments().len()
                );
                self.state = Some(Rc::new(RouterState::new(config)));
                true
            }
            Err(error) => {
                log::error!("predictor_router: invalid configuration: {error}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(PredictorRouterHttp::new(
            self.state.clone(),
            self.rng.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
