//! The library behind the `predictor-router` command line (the binary is `src/main.rs`); the tests
//! compare it with the compiled filter.
//!
//! - [`documents`]: the plugin configurations a file holds (JSON, WasmPlugin, EnvoyFilter)
//! - [`validate`]: the filter's parser over them, findings as text or JSON
//! - [`assign`]: bucket and predictor per user id
//! - [`ramp`]: which hashed users a weight change (or a rollout's step) moves
//! - [`rollout`]: a rollout's schedule as wall-clock times, and its step and shares at an instant
//! - [`srm`]: sample-ratio mismatch of new assignments from Envoy's stats
//! - [`signing`]: `sign-override`, and the key set of `signing.keys_env` from this process's environment

pub mod assign;
pub mod documents;
pub mod ramp;
pub mod rollout;
pub mod signing;
pub mod srm;
pub mod validate;
