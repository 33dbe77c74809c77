//! Adaptive allocation: a multi-armed bandit over an experiment's predictors, learned at the gateway.
//!
//! Pure and natively tested; the host adapter only moves bytes between here and Envoy.
//! - [`totals`]: outcomes per predictor, and their encoding in proxy-wasm shared data
//! - [`beta`]: Beta posterior draws (Marsaglia–Tsang gamma sampler)
//! - [`policy`]: Thompson sampling and epsilon-greedy shares
//! - [`allocation`]: burn-in, the share floor, basis points, the bucket table, the log line
//! - [`feedback`]: the reward in a Seldon feedback body

pub mod allocation;
pub mod beta;
pub mod feedback;
pub mod learner;
pub mod policy;
pub mod totals;

pub use allocation::{allocate, Allocation};
pub use learner::{Learner, StepReport};
pub use totals::{Outcome, Totals};
