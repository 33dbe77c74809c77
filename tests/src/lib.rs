//! Support code shared by the test suites in `tests/tests/` and the demo (`src/bin/demo.rs`).
//!
//! - [`bench`]: `make bench`, Envoy and harness measurements and BENCHMARKS.md
//! - [`scenario`]: the shipped plugin configuration, read from `envoyfilter/wasmplugin.yaml`
//! - [`bootstrap`]: Envoy bootstraps that mirror Istio's translation of a WasmPlugin
//! - [`envoy`]: a real Envoy process with the compiled module, and its admin interface
//! - [`gateway`]: Envoy plus one upstream per predictor: the system under test
//! - [`gateway_api`]: HTTPRoute rules translated into Envoy routes
//! - [`upstream`]: predictor servers on 127.0.0.1 that answer like a model server
//! - [`http`]: a small HTTP/1.1 client that can send any bytes
//! - [`invalid_configs`]: invalid configurations and their exact errors (parser, module, CLI)
//! - [`load`]: background load from several client threads
//! - [`module`]: the compiled module's bytes, for tests through wasm-test-harness
//! - [`request_mix`]: the standard request mix (soak, bench, memory figures), from the shipped configuration
//! - [`seldon`]: real Seldon Core v1 model processes (XGBoost, random forest) on 127.0.0.1
//! - [`soak`]: saturating mixed load through Envoy (`make soak`, 30 s in `make test`)
//! - [`stats`]: statistical bounds for split checks that cannot pass by luck

pub mod bench;
pub mod bootstrap;
pub mod envoy;
pub mod gateway;
pub mod gateway_api;
pub mod http;
pub mod invalid_configs;
pub mod load;
pub mod module;
pub mod monitoring;
pub mod oci;
pub mod request_mix;
pub mod scenario;
pub mod seldon;
pub mod soak;
pub mod stats;
pub mod upstream;
