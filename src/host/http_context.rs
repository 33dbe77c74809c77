//! One HTTP stream: the core plans, this applies. Request headers: read what the core asks for, strip,
//! set the routing header, count. Request body: copy a feedback body as it streams past. Response
//! headers: count the class, report the predictor, `Set-Cookie`, record the outcome. A request sampled
//! for a shadow also has its request and answer copied as they pass (`crate::router::worker::shadow`).
//!
//! Everything the response needs is captured during the request phase: request headers cannot be
//! read once the response has started.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use super::abi::{self, Map};
use super::port::Host;
use super::random::SharedRng;
use super::request::HostRequest;
use crate::router::outcomes::feedback::MAX_FEEDBACK_BYTES;
use crate::router::plan::{plan_feedback, plan_request, plan_response, ConfiguredWeights, Learning, Routed};
use crate::router::worker::shadow::{ShadowDesk, StreamCopy};
use crate::router::worker::RouterState;

/// A feedback body being copied: `None` once it grew past the limit (it is then invalid).
type FeedbackBody = Option<Vec<u8>>;

pub struct PredictorRouterHttp {
    state: Option<Rc<RouterState<Host>>>,
    rng: SharedRng,
    /// The experiment and decision of this request, for the response phase.
    routed: Option<Routed>,
    /// When the request headers arrived (only read for a latency-bounded reward).
    started_nanos: Option<u64>,
    /// Set while a feedback body is being copied.
    feedback: Option<FeedbackBody>,
    /// The worker's shadow desk (copies go out through the root context).
    desk: Rc<ShadowDesk<Host>>,
    /// Set when the request was sampled for its experiment's shadow.
    shadow: Option<StreamCopy<Host>>,
}

impl PredictorRouterHttp {
    pub fn new(state: Option<Rc<RouterState<Host>>>, rng: SharedRng, desk: Rc<ShadowDesk<Host>>) -> Self {
        PredictorRouterHttp {
            state,
            rng,
            routed: None,
            started_nanos: None,
            feedback: None,
            desk,
            shadow: None,
        }
    }

    fn route_request(&mut self, state: &Rc<RouterState<Host>>, end_of_stream: bool) {
        let mut request = HostRequest { rng: &self.rng };
        // Fixed-weight configurations never touch the learners.
        let learning = if state.learns {
            state.learning.try_borrow().ok()
        } else {
            None
        };
        let plan = match &learning {
            Some(learning) => plan_request(&state.table, &**learning, &mut request),
            None => plan_request(&state.table, &ConfiguredWeights, &mut request),
        };
        drop(learning);
        // No `clear_route_cache`: on the ABI this module declares (0.2.1) Envoy re-selects the route
        // after any header change made by a filter (contract; e2e_routing proves the route follows).
        for header in &plan.remove {
            let _ = abi::remove_header(Map::Request, header);
        }
        if let Some((header, predictor)) = plan.set {
            let _ = abi::replace_header(Map::Request, header, predictor.as_bytes());
        }
        state.count_all(&plan.counts);
        if let (Some(copy), Some(routed)) = (plan.shadow, &plan.routed) {
            self.shadow = StreamCopy::start(
                state,
                &self.desk,
                routed.experiment,
                routed.decision.predictor,
                copy,
            );
            if end_of_stream {
                if let Some(shadow) = &mut self.shadow {
                    shadow.request_complete();
                }
            }
        }
        if let Some(routed) = plan.routed {
            if routed.times_the_response() {
                self.started_nanos = abi::current_time_nanos().ok();
            }
            if routed.learning == Learning::FeedbackBody {
                self.feedback = Some(Some(Vec::new()));
            }
            self.routed = Some(routed);
            if end_of_stream {
                self.finish_feedback(state);
            }
        }
    }

    fn copy_body_chunk(&mut self, size: usize, end_of_stream: bool) {
        if let Some(shadow) = &mut self.shadow {
            shadow.request_chunk(size, end_of_stream, |size| abi::request_body(size).ok());
        }
        let Some(body) = &mut self.feedback else {
            return;
        };
        if let Some(bytes) = body {
            if bytes.len().saturating_add(size) > MAX_FEEDBACK_BYTES {
                *body = None;
            } else if let Ok(chunk) = abi::request_body(size) {
                bytes.extend_from_slice(&chunk);
            }
        }
        if end_of_stream {
            if let Some(state) = self.state.clone() {
                self.finish_feedback(&state);
            }
        }
    }

    /// The feedback body is complete (or will not be: the response has started): count its outcome.
    fn finish_feedback(&mut self, state: &RouterState<Host>) {
        let (Some(body), Some(routed)) = (self.feedback.take(), self.routed.as_ref()) else {
            return;
        };
        let plan = plan_feedback(routed, body.as_deref());
        state.apply(&plan.counts, routed.experiment, plan.outcome);
    }

    fn report_response(&mut self, state: &RouterState<Host>, end_of_stream: bool) {
        self.finish_feedback(state);
        let Some(routed) = self.routed.take() else {
            return;
        };
        let status = abi::header(Map::Response, ":status")
            .ok()
            .flatten()
            .unwrap_or_default();
        if let Some(shadow) = &mut self.shadow {
            shadow.response_headers(&status, end_of_stream);
        }
        let elapsed_ms = self.started_nanos.and_then(|start| {
            let now = abi::current_time_nanos().ok()?;
            Some(now.saturating_sub(start) / 1_000_000)
        });
        let Some(plan) = plan_response(&state.table, &routed, &status, elapsed_ms) else {
            return;
        };
        state.apply(&plan.counts, routed.experiment, plan.outcome);
        if let Some((name, predictor)) = plan.report {
            let _ = abi::replace_header(Map::Response, name, predictor.as_bytes());
        }
        if let Some(cookie) = plan.set_cookie {
            let _ = abi::add_header(Map::Response, "set-cookie", cookie.as_bytes());
        }
    }
}

impl Context for PredictorRouterHttp {}

impl HttpContext for PredictorRouterHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Some(state) = self.state.clone() {
            self.route_request(&state, end_of_stream);
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        // Never held back: the body is copied as it passes.
        self.copy_body_chunk(body_size, end_of_stream);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Some(state) = self.state.clone() {
            self.report_response(&state, end_of_stream);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        // Only a sampled request's answer is read (and never held back); every other stream returns at
        // once.
        if let Some(shadow) = &mut self.shadow {
            shadow.response_chunk(body_size, end_of_stream, |size| abi::response_body(size).ok());
        }
        Action::Continue
    }
}
