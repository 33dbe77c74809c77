//! Adaptive allocation: a multi-armed bandit over an experiment's predictors, learned at the gateway.
//!
//! Pure and natively tested; the host adapter only moves bytes between here and Envoy.
//! - [`beta`]: Beta posterior draws (Marsaglia–Tsang gamma sampler)
//! - [`policy`]: Thompson sampling and epsilon-greedy shares
//! - [`allocation`]: burn-in, the share floor, basis points, the bucket table
//! - [`learner`]: one worker's experiment: its ledger, the allocation in force, the log line
//!
//! Outcomes, their totals and their shared-data record are [`crate::router::outcomes`]'s.

pub mod allocation;
pub mod beta;
pub mod learner;
pub mod policy;

pub use allocation::{allocate, Allocation};
pub use learner::{Learner, StepReport};
