//! Outcome accounting, shared by every consumer of outcomes (adaptive allocation today; a rollout's
//! guard reads the same): what one outcome is, the totals per predictor, their record in proxy-wasm
//! shared data, and one worker's side of the merge protocol.
//!
//! - [`totals`]: an outcome (a reward in thousandths), totals per predictor
//! - [`feedback`]: the outcome in a Seldon feedback body
//! - [`record`]: the fingerprinted shared-data encoding of an experiment's merged totals
//! - [`ledger`]: a worker's pending outcomes and the merged totals it last read

pub mod feedback;
pub mod ledger;
pub mod record;
pub mod totals;

pub use ledger::Ledger;
pub use totals::{ArmTotals, Outcome, Totals};
