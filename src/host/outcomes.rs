//! The merge protocol of [`crate::router::outcomes::ledger`] against Envoy's shared data: one worker's
//! [`Ledger`] merged into its experiment's record, whoever consumes the totals.
//!
//! Merging: read the experiment's key with its CAS version, add this worker's pending outcomes, write it
//! back under that version. A lost race (another worker wrote in between) is retried a few times; if it
//! still loses, the outcomes stay pending for the next tick. Nothing is counted twice (pending outcomes
//! are cleared only after a successful write) and nothing is dropped.

use super::abi;
use crate::router::config::Experiment;
use crate::router::outcomes::record::{self, Stored};
use crate::router::outcomes::{Ledger, Totals};

/// Attempts at one compare-and-swap merge before the outcomes wait for the next tick.
const CAS_ATTEMPTS: usize = 4;

/// Reads the experiment's totals; when they belong to another definition of it (or to nothing yet),
/// claims the key for this one with zero totals.
pub fn claim(key: &str, experiment: &Experiment) -> Totals {
    let zero = Totals::zero(experiment.predictors.len());
    for _ in 0..CAS_ATTEMPTS {
        let cas = match abi::shared_data(key) {
            Ok(Some((bytes, cas))) => match record::decode(experiment, &bytes) {
                Stored::Ours(learned) => return learned,
                Stored::Foreign => cas,
            },
            Ok(None) => 0,
            Err(_) => return zero,
        };
        match abi::set_shared_data(key, &record::encode(experiment, &zero), cas) {
            Ok(()) => return zero,
            Err(abi::HostError::CasMismatch) => continue,
            Err(_) => return zero,
        }
    }
    zero
}

/// One compare-and-swap merge of the pending outcomes (or a read of the totals when none is pending).
pub fn sync(key: &str, ledger: &mut Ledger, experiment: &Experiment) {
    for _ in 0..CAS_ATTEMPTS {
        let (stored, cas) = match abi::shared_data(key) {
            Ok(Some((bytes, cas))) => match record::decode(experiment, &bytes) {
                Stored::Ours(stored) => (stored, cas),
                // A newer configuration redefined the experiment: what this one collected no longer
                // applies to it, and must not overwrite its totals.
                Stored::Foreign => {
                    ledger.merged(Totals::zero(experiment.predictors.len()));
                    return;
                }
            },
            Ok(None) => (Totals::zero(experiment.predictors.len()), 0),
            Err(_) => return,
        };
        if !ledger.has_pending() {
            ledger.observed(stored);
            return;
        }
        let merged = ledger.merge_into(&stored);
        match abi::set_shared_data(key, &record::encode(experiment, &merged), cas) {
            Ok(()) => {
                ledger.merged(merged);
                return;
            }
            Err(abi::HostError::CasMismatch) => continue,
            Err(_) => return,
        }
    }
}
