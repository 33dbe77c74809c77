//! One worker's outcomes of one experiment: those not yet merged into shared data, and the merged
//! totals last read from it. The merge protocol, as the host drives it on its tick:
//! 1. read the record ([`crate::router::outcomes::record`]) with its CAS version;
//! 2. write back [`Ledger::merge_into`] of what was read under that version;
//! 3. on success call [`Ledger::merged`] (the pending outcomes are now part of the totals); on a lost
//!    race retry, or keep them pending for the next tick. Nothing is counted twice or dropped.
//!
//! With nothing pending, [`Ledger::observed`] takes the totals as read. Whoever consumes the totals
//! (adaptive allocation, a rollout's guard) reads [`Ledger::totals`], whatever their source.

use crate::router::ids::PredictorId;
use crate::router::outcomes::totals::{Outcome, Totals};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// This worker's outcomes since its last successful merge.
    pending: Totals,
    /// The merged totals last read from shared data.
    totals: Totals,
}

impl Ledger {
    pub fn new(predictors: usize) -> Self {
        Ledger {
            pending: Totals::zero(predictors),
            totals: Totals::zero(predictors),
        }
    }

    /// Starts from totals already merged (what shared data held when the configuration was applied).
    pub fn resume(learned: Totals) -> Self {
        Ledger {
            pending: Totals::zero(learned.arms.len()),
            totals: learned,
        }
    }

    pub fn record(&mut self, predictor: PredictorId, outcome: Outcome) {
        if let Some(arm) = self.pending.arms.get_mut(predictor.index()) {
            arm.add(outcome);
        }
    }

    pub fn pending(&self) -> &Totals {
        &self.pending
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// `stored` + this worker's pending outcomes: what to write back to shared data.
    pub fn merge_into(&self, stored: &Totals) -> Totals {
        let mut merged = stored.clone();
        merged.merge(&self.pending);
        merged
    }

    /// The pending outcomes were written as part of `merged`: forget them, and keep the merged totals.
    pub fn merged(&mut self, merged: Totals) {
        for arm in &mut self.pending.arms {
            *arm = Default::default();
        }
        self.totals = merged;
    }

    /// The merged totals were read without writing (nothing pending).
    pub fn observed(&mut self, stored: Totals) {
        self.totals = stored;
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }
}
