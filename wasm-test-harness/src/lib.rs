//! wasm-test-harness: an Envoy-like proxy-wasm host on wasmtime, for fast, deterministic tests of a
//! compiled proxy-wasm module. It implements every `env` import of proxy-wasm-rust-sdk 0.2.5 with
//! Envoy's behaviour (README.md lists each rule and its source), runs several workers over one compiled
//! module with shared data and metrics, validates configurations in a canary VM first, measures fuel
//! per callback, and reports traps with the module's panic message.
//!
//! ```no_run
//! use wasm_test_harness::Host;
//! let wasm = std::fs::read("dist/predictor_router.wasm").unwrap();
//! let config = r#"{"experiments": [{"name": "ab", "predictors": [{"name": "xgb", "weight": 1}]}]}"#;
//! let mut host = Host::new(&wasm).with_config(config).workers(2).start().unwrap();
//! let exchange = host.request().path("/").header("x-user-id", "alice").send().unwrap();
//! assert_eq!(exchange.upstream_header("x-predictor").as_deref(), Some("xgb"));
//! println!("{} wasm instructions", exchange.fuel.total());
//! ```
//!
//! It does not replace Envoy: routing, codecs and timing are Envoy's own, and the end-to-end tests run
//! the same module in a real Envoy.

mod abi;
mod headers;
mod host;
mod imports;
mod request;
mod state;

pub use abi::{Action, LogLevel, IMPORTS};
pub use headers::HeaderMap;
pub use host::{
    module_exports, module_imports, CallbackCost, FailurePolicy, FuelReport, Host, HostBuilder, OnTrap,
    StartError, Trap, Upstream,
};
pub use imports::{FOREIGN_FUNCTIONS, WASI_IMPORTS, WASI_MODULE};
pub use request::{Exchange, RequestBuilder};
pub use state::{Callout, LocalResponse, LogEntry};
