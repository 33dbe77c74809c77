//! What any routing filter must at least do: set one request header (Envoy then re-selects the route).
#![cfg(target_arch = "wasm32")]

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

struct Stream;

impl Context for Stream {}
impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        self.set_http_request_header("x-predictor", Some("rf"));
        Action::Continue
    }
}

floor_common::floor_filter!(Stream);
