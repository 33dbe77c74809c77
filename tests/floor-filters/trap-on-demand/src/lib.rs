//! TEST ONLY — never shipped. Sets `x-predictor: rf` on every request like a router would, and panics
//! (a wasm trap) when the request carries `x-trap`, so the end-to-end tests can measure what each
//! Envoy `failure_policy` does after a trap.
#![cfg(target_arch = "wasm32")]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

struct Root;
struct Stream;

impl Context for Root {}
impl RootContext for Root {
    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream))
    }
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
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

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root));
}}
