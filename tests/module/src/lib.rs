//! The module tier's support: the compiled module in wasm-test-harness.
//!
//! - [`module`]: the compiled module's bytes (`dist/predictor_router.wasm`)
//! - [`request_mix`]: the standard request mix (hostcall budgets, soak, bench, memory figures), from
//!   the shipped configuration
//! - [`rollout_fixture`]: the seed's experiment with a rollout in the harness (rollout, clock, trust)
//! - [`figures`]: figures only a host can give (fuel, hostcalls, configure time, tick cost, memory),
//!   for the suites and for `make bench`

pub mod figures;
pub mod module;
pub mod request_mix;
pub mod rollout_fixture;
