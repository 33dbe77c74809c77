//! The merge protocol of [`crate::router::outcomes::ledger`] against Envoy's shared data: one worker's
//! [`Ledger`] merged into its experiment's record, whoever consumes the totals.
//!
//! Merging: read the experiment's key with its CAS version, add this worker's pending outcomes, write it
//! back under that version. A lost race (another worker wrote in between) is retried a few times; if it
//! still loses, the outcomes stay pending for the next tick. Nothing is counted twice (pending outcomes
//! are cleared only after a successful write) and nothing is dropped. A record's flags (a rollout's
//! "rolled back") are kept by every merge, and set by [`set_rolled_back`] with the same protocol.

use super::abi;
use crate::router::config::Experiment;
use crate::router::outcomes::record::{self, Flags};
use crate::router::outcomes::{Ledger, Totals};

/// Attempts at one compare-and-swap merge before the outcomes wait for the next tick.
const CAS_ATTEMPTS: usize = 4;

/// What an experiment's key holds, seen from one definition of the experiment.
enum Read {
    /// This definition's record, and the CAS version to write it back under.
    Ours(Totals, Flags, u32),
    /// Another definition's record (or bytes that do not decode), and its CAS version.
    Foreign(u32),
    /// Nothing yet.
    Absent,
}

fn read(key: &str, experiment: &Experiment) -> abi::HostResult<Read> {
    Ok(match abi::shared_data(key)? {
        Some((bytes, cas)) => match record::decode_record(experiment, &bytes) {
            Some((totals, flags)) => Read::Ours(totals, flags, cas),
            None => Read::Foreign(cas),
        },
        None => Read::Absent,
    })
}

/// Reads the experiment's totals and flags; when they belong to another definition of it (or to
/// nothing yet), claims the key for this one with zero totals.
pub fn claim(key: &str, experiment: &Experiment) -> (Totals, Flags) {
    let zero = Totals::zero(experiment.predictors.len());
    for _ in 0..CAS_ATTEMPTS {
        let cas = match read(key, experiment) {
            Ok(Read::Ours(totals, flags, _)) => return (totals, flags),
            Ok(Read::Foreign(cas)) => cas,
            Ok(Read::Absent) => 0,
            Err(_) => break,
        };
        match abi::set_shared_data(key, &record::encode(experiment, &zero), cas) {
            Err(abi::HostError::CasMismatch) => continue,
            Ok(()) | Err(_) => break,
        }
    }
    (zero, Flags::default())
}

/// One compare-and-swap merge of the pending outcomes (or a read of the totals when none is pending).
/// Returns the record's flags when it was read.
pub fn sync(key: &str, ledger: &mut Ledger, experiment: &Experiment) -> Option<Flags> {
    for _ in 0..CAS_ATTEMPTS {
        let (stored, flags, cas) = match read(key, experiment) {
            Ok(Read::Ours(stored, flags, cas)) => (stored, flags, cas),
            // A newer configuration redefined the experiment: what this one collected no longer
            // applies to it, and must not overwrite its totals.
            Ok(Read::Foreign(_)) => {
                ledger.merged(Totals::zero(experiment.predictors.len()));
                return None;
            }
            Ok(Read::Absent) => (Totals::zero(experiment.predictors.len()), Flags::default(), 0),
            Err(_) => return None,
        };
        if !ledger.has_pending() {
            ledger.observed(stored);
            return Some(flags);
        }
        let merged = ledger.merge_into(&stored);
        match abi::set_shared_data(key, &record::encode_record(experiment, &merged, flags), cas) {
            Ok(()) => {
                ledger.merged(merged);
                return Some(flags);
            }
            Err(abi::HostError::CasMismatch) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Marks the rollout rolled back in its record (keeping the totals), so that every worker of the Envoy
/// stops the canary. Returns whether this call set the flag (false: already set, or not written).
pub fn set_rolled_back(key: &str, experiment: &Experiment) -> bool {
    for _ in 0..CAS_ATTEMPTS {
        let (totals, flags, cas) = match read(key, experiment) {
            Ok(Read::Ours(totals, flags, cas)) => (totals, flags, cas),
            // Another definition holds the key: this one's rollback is not for it to record.
            Ok(Read::Foreign(_)) => return false,
            Ok(Read::Absent) => (Totals::zero(experiment.predictors.len()), Flags::default(), 0),
            Err(_) => return false,
        };
        if flags.rolled_back {
            return false;
        }
        let flags = Flags { rolled_back: true };
        match abi::set_shared_data(key, &record::encode_record(experiment, &totals, flags), cas) {
            Ok(()) => return true,
            Err(abi::HostError::CasMismatch) => continue,
            Err(_) => return false,
        }
    }
    false
}
