//! One HTTP stream: decide on the request headers, report on the response headers.
//!
//! Everything the response needs is captured during the request phase: request headers cannot be
//! read once the response has started.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use super::abi::{self, Map};
use super::random::SharedRng;
use super::request::HostRequest;
use super::state::RouterState;
use crate::router::decision::{decide, Decision};
use crate::router::metrics::{Counter, StatusClass};
use crate::router::response::response_headers;

/// Envoy's foreign function that makes it re-select the route after a header change (needed on Envoys
/// that no longer do it by themselves for newer ABIs; absent on older ones, which is fine).
const CLEAR_ROUTE_CACHE: &str = "clear_route_cache";

pub struct PredictorRouterHttp {
    state: Option<Rc<RouterState>>,
    rng: SharedRng,
    /// The experiment and decision of this request, for the response phase.
    routed: Option<(usize, Decision)>,
}

impl PredictorRouterHttp {
    pub fn new(state: Option<Rc<RouterState>>, rng: SharedRng) -> Self {
        PredictorRouterHttp {
            state,
            rng,
            routed: None,
        }
    }

    fn route_request(&mut self, state: &RouterState) {
        // Reading a header is a call into Envoy and back (for its memory): skip what cannot matter.
        let authority = if state.config.matches_on_host() {
            abi::header(Map::RequestHeaders, ":authority")
                .ok()
                .flatten()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let path = abi::header(Map::RequestHeaders, ":path")
            .ok()
            .flatten()
            .unwrap_or_default();
        let matched = state.config.match_request(&authority, &path);
        let matched_experiment = matched.and_then(|i| state.config.experiment(i).map(|e| (i, e)));

        // Clients may never route themselves: remove every routing header (the matched experiment's is
        // replaced below). Look before removing: a removal alone makes Envoy re-match the route.
        let own_header = matched_experiment.map(|(_, e)| e.routing_header.as_str());
        let mut headers_changed = false;
        for header in state.config.routing_headers() {
            if Some(header.as_str()) != own_header
                && matches!(abi::header(Map::RequestHeaders, header), Ok(Some(_)))
            {
                headers_changed |= abi::remove_header(Map::RequestHeaders, header).is_ok();
            }
        }

        match matched_experiment {
            None => state.count(Counter::Unmatched),
            Some((index, experiment)) => {
                let decision = decide(experiment, &path, &mut HostRequest { rng: &self.rng });
                if let Some(predictor) = experiment.predictors.get(decision.predictor) {
                    let set = abi::replace_header(
                        Map::RequestHeaders,
                        &experiment.routing_header,
                        predictor.name.as_bytes(),
                    );
                    headers_changed |= set.is_ok();
                }
                state.count(Counter::Decision {
                    experiment: index,
                    predictor: decision.predictor,
                    reason: decision.reason,
                });
                if decision.override_rejected {
                    state.count(Counter::OverrideRejected { experiment: index });
                }
                self.routed = Some((index, decision));
            }
        }
        if headers_changed {
            let _ = abi::call_foreign_function(CLEAR_ROUTE_CACHE);
        }
    }

    fn report_response(&self, state: &RouterState, experiment_index: usize, decision: &Decision) {
        let Some(experiment) = state.config.experiment(experiment_index) else {
            return;
        };
        let status = abi::header(Map::ResponseHeaders, ":status")
            .ok()
            .flatten()
            .unwrap_or_default();
        if let Some(class) = StatusClass::of(&status) {
            state.count(Counter::Response {
                experiment: experiment_index,
                predictor: decision.predictor,
                class,
            });
        }
        let headers = response_headers(experiment, decision);
        if let Some((name, predictor)) = headers.report {
            let _ = abi::replace_header(Map::ResponseHeaders, name, predictor.as_bytes());
        }
        if let Some(cookie) = headers.set_cookie {
            let _ = abi::add_header(Map::ResponseHeaders, "set-cookie", cookie.as_bytes());
        }
    }
}

impl Context for PredictorRouterHttp {}

impl HttpContext for PredictorRouterHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Some(state) = self.state.clone() {
            self.route_request(&state);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let (Some(state), Some((experiment, decision))) = (self.state.as_deref(), self.routed.take()) {
            self.report_response(state, experiment, &decision);
        }
        Action::Continue
    }
}
