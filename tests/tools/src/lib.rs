//! The tools' support (with the `harness` feature, the default): `make bench` and `make soak`. The
//! demos (`src/bin/demo*.rs`) need only `predictor-router-e2e`.
//!
//! - [`bench`]: `make bench`, Envoy and harness measurements and BENCHMARKS.md
//! - [`soak`]: saturating mixed load through Envoy (`make soak`, 30 s in `make test`)
//! - [`soak_all_features`]: the soak with every feature at once (`make soak SOAK_MODE=all`, 30 s in
//!   `make test`)

#[cfg(feature = "harness")]
pub mod bench;
#[cfg(feature = "harness")]
pub mod soak;
#[cfg(feature = "harness")]
pub mod soak_all_features;
