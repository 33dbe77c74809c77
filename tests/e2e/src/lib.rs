//! The e2e tier's support: predictor-router in a real Envoy and the other real parts, for the suites in
//! `tests/e2e/tests/` and for the demos (`tests/tools`). It links no wasm runtime, so a newcomer's
//! `make demo` compiles only this and the pure core.
//!
//! - [`scenario`]: the shipped plugin configuration, read from `envoyfilter/base/wasmplugin.yaml`
//! - [`bootstrap`]: Envoy bootstraps that mirror Istio's translation of a WasmPlugin
//! - [`envoy`]: a real Envoy process with the compiled module, and its admin interface
//! - [`gateway`]: Envoy plus one upstream per predictor: the system under test
//! - [`gateway_api`]: HTTPRoute rules translated into Envoy routes
//! - [`upstream`]: predictor servers on 127.0.0.1 that answer like a model server
//! - [`http`]: a small HTTP/1.1 client that can send any bytes
//! - [`load`]: background load from several client threads
//! - [`monitoring`]: the shipped rules, scrape job and dashboard queries, and a real Prometheus
//! - [`query_front`]: a loopback stand-in in front of Prometheus that counts the fleet queries and plays faults
//! - [`oci`]: a real OCI registry, and the module taken out of a pulled image as Istio's agent does
//! - [`shadow`]: the seed's experiment with a shadow, and the shadow counters
//! - [`seldon`]: real Seldon Core v1 model processes (XGBoost, random forest) on 127.0.0.1
//! - [`model_servers`]: MLServer (Open Inference Protocol) and KServe's model server (KServe v1) serving the same models
//! - [`stats`]: statistical bounds for split checks that cannot pass by luck

pub mod bootstrap;
pub mod envoy;
pub mod gateway;
pub mod gateway_api;
pub mod http;
pub mod load;
pub mod model_servers;
pub mod monitoring;
pub mod oci;
pub mod query_front;
pub mod scenario;
pub mod seldon;
pub mod shadow;
pub mod stats;
pub mod upstream;

// The table of invalid configurations lives with the native suites; re-exported for the module tests.
pub use predictor_router_core_tests::invalid_configs;
