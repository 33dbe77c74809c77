//! TEST ONLY — never shipped. Sets `x-predictor: rf` on every request like a router would, and panics
//! (a wasm trap) when the request carries `x-trap`, so the end-to-end tests can measure what each
//! Envoy `failure_policy` does after a trap.
#![cfg(target_arch = "wasm32")]

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

struct Stream;

impl Context for Stream {}
impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        if self.get_http_request_header("x-trap").is_some() {
            panic!("trap requested by x-trap (test-only module)");
        }
        self.set_http_request_header("x-predictor", Some("rf"));
        Action::Continue
    }
}

floor_common::floor_filter!(Stream);
