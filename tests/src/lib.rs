//! Support code shared by the test suites in `tests/tests/`: the end-to-end support of
//! `predictor-router-e2e` (re-exported here under the same names), and what needs the wasm runtime.
//!
//! - [`bench`]: `make bench`, Envoy and harness measurements and BENCHMARKS.md
//! - [`module`]: the compiled module's bytes, for tests through wasm-test-harness
//! - [`request_mix`]: the standard request mix (soak, bench, memory figures), from the shipped configuration
//! - [`rollout_fixture`]: the seed's experiment with a rollout in the harness (rollout and clock suites)
//! - [`soak`]: saturating mixed load through Envoy (`make soak`, 30 s in `make test`)
//! - [`soak_all_features`]: the soak with every feature at once (`make soak SOAK_MODE=all`, 30 s in `make test`)
//! - re-exported from `predictor-router-e2e`: [`scenario`], [`bootstrap`], [`envoy`], [`gateway`],
//!   [`gateway_api`], [`upstream`], [`http`], [`invalid_configs`], [`load`], [`monitoring`], [`oci`], [`query_front`],
//!   [`seldon`], [`shadow`], [`stats`]

pub use predictor_router_e2e::{
    bootstrap, envoy, gateway, gateway_api, http, invalid_configs, load, model_servers, monitoring, oci,
    query_front, scenario, seldon, shadow, stats, upstream,
};

pub mod bench;
pub mod module;
pub mod request_mix;
pub mod rollout_fixture;
pub mod soak;
pub mod soak_all_features;
