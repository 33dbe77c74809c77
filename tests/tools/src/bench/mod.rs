//! `make bench`: what predictor-router costs Envoy per request, side by side with Envoy's own routing
//! and with wasm floors, plus figures only the harness can give (fuel, configure time, memory: `predictor_router_module_tests::figures`).
//!
//! - [`variants`]: the Envoy configurations compared (plain, native header routing, weighted clusters,
//!   no-op wasm, set-header wasm, predictor-router) in `direct_response` and real-upstream modes
//! - [`load`]: Envoy processes pinned to core 0, wrk on core 1, Envoy CPU from /proc schedstat
//! - [`startup`]: Envoy start-to-ready time, memory and CPU, without and with the module
//! - [`prometheus_stub`]: a loopback stand-in for Prometheus's query API (the fleet-view case)
//! - [`report`]: medians, ranges, ratios, targets, and BENCHMARKS.md

pub mod load;
pub mod prometheus_stub;
pub mod report;
pub mod startup;
pub mod variants;
