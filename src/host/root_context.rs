//! The plugin's root context: reads and validates each configuration Envoy delivers, and forwards the
//! tick, callout replies and queue wake-ups to the worker ([`WorkerRoot`]), which decides everything.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::abi;
use super::environment::VmEnvironment;
use super::http_context::PredictorRouterHttp;
use super::port::Host;
use super::random::SharedRng;
use crate::router::table::RoutingTable;
use crate::router::worker::shadow::ShadowDesk;
use crate::router::worker::WorkerRoot;

thread_local! {
    /// The VM's shadow desk: one per worker (each worker has its own VM), shared by its root contexts.
    static DESK: Rc<ShadowDesk<Host>> = Rc::new(ShadowDesk::new(Host));
}

pub struct PredictorRouterRoot {
    worker: WorkerRoot<Host>,
    rng: SharedRng,
}

impl PredictorRouterRoot {
    pub fn new(context_id: u32) -> Self {
        PredictorRouterRoot {
            worker: WorkerRoot::new(Host, context_id, DESK.with(Rc::clone)),
            rng: SharedRng::default(),
        }
    }
}

impl Context for PredictorRouterRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        self.worker.answered(token_id, num_headers, body_size);
    }
}

impl RootContext for PredictorRouterRoot {
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        super::logger::follow_host_level();
        let bytes = match abi::plugin_configuration(plugin_configuration_size) {
            Ok(bytes) => bytes,
            Err(e) => {
                log::error!("predictor_router: cannot read the plugin configuration ({e})");
                return false;
            }
        };
        let table = match RoutingTable::parse_with_environment(&bytes, &VmEnvironment) {
            Ok(table) => table,
            Err(error) => {
                log::error!("predictor_router: invalid configuration: {error}");
                return false;
            }
        };
        for warning in table.warnings() {
            log::warn!("predictor_router: {warning}");
        }
        log::info!(
            "predictor_router: configured {} experiment(s)",
            table.experiments().len()
        );
        if let Some(signing) = table.signing() {
            // The variable's name and the number of keys; never a key.
            log::info!(
                "predictor_router: signed overrides verify with {} key(s) from {}",
                signing.keys.len(),
                signing.keys_env
            );
        }
        self.worker.configure(table);
        true
    }

    fn on_tick(&mut self) {
        self.worker.tick();
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        self.worker.woken(queue_id);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(PredictorRouterHttp::new(
            self.worker.state().cloned(),
            self.rng.clone(),
            self.worker.desk().clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
