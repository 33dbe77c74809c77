//! The merge protocol of [`crate::router::outcomes::ledger`] against shared data: one worker's
//! [`Ledger`] merged into its experiment's record, whoever consumes the totals.
//!
//! Merging: read the experiment's key with its version, add this worker's pending outcomes, write it
//! back under that version ([`super::cas`]). If every attempt loses a race, the outcomes stay pending
//! for the next tick. Nothing is counted twice (pending outcomes are cleared only after a successful
//! write) and nothing is dropped. A record's flags (a rollout's "rolled back") are kept by every merge,
//! and set by [`set_rolled_back`] with the same protocol.

use super::cas::{self, Step};
use super::port::HostPort;
use crate::router::config::Experiment;
use crate::router::outcomes::record::{self, Flags};
use crate::router::outcomes::{Ledger, Totals};

/// What an experiment's key holds, seen from one definition of the experiment.
enum Read {
    /// This definition's record (an absent key reads as zero totals).
    Ours(Totals, Flags),
    /// Another definition's record, or bytes that do not decode.
    Foreign,
}

fn read(experiment: &Experiment, value: Option<&[u8]>) -> Read {
    match value {
        Some(bytes) => match record::decode_record(experiment, bytes) {
            Some((totals, flags)) => Read::Ours(totals, flags),
            None => Read::Foreign,
        },
        None => Read::Ours(Totals::zero(experiment.predictors.len()), Flags::default()),
    }
}

/// Reads the experiment's totals and flags; when they belong to another definition of it (or to
/// nothing yet), claims the key for this one with zero totals.
pub fn claim(port: &impl HostPort, key: &str, experiment: &Experiment) -> (Totals, Flags) {
    let zero = || (Totals::zero(experiment.predictors.len()), Flags::default());
    cas::update(port, key, |value, _| {
        match value.map(|v| read(experiment, Some(v))) {
            Some(Read::Ours(totals, flags)) => Step::Done((totals, flags)),
            Some(Read::Foreign) | None => Step::Write(
                record::encode(experiment, &Totals::zero(experiment.predictors.len())),
                zero(),
            ),
        }
    })
    .unwrap_or_else(|_| zero())
}

/// What one merge did.
enum Merge {
    /// Nothing pending: the stored totals were read.
    Observed(Totals, Flags),
    /// The pending outcomes were written.
    Written(Totals, Flags),
    /// Another definition holds the key.
    Foreign,
}

/// One compare-and-swap merge of the pending outcomes (or a read of the totals when none is pending).
/// Returns the record's flags when it was read.
pub fn sync(port: &impl HostPort, key: &str, ledger: &mut Ledger, experiment: &Experiment) -> Option<Flags> {
    let merge = cas::update(port, key, |value, _| match read(experiment, value) {
        Read::Foreign => Step::Done(Merge::Foreign),
        Read::Ours(stored, flags) if !ledger.has_pending() => Step::Done(Merge::Observed(stored, flags)),
        Read::Ours(stored, flags) => {
            let merged = ledger.merge_into(&stored);
            Step::Write(
                record::encode_record(experiment, &merged, flags),
                Merge::Written(merged, flags),
            )
        }
    });
    match merge.ok()? {
        Merge::Observed(stored, flags) => {
            ledger.observed(stored);
            Some(flags)
        }
        Merge::Written(merged, flags) => {
            ledger.merged(merged);
            Some(flags)
        }
        // A newer configuration redefined the experiment: what this one collected no longer applies
        // to it, and must not overwrite its totals.
        Merge::Foreign => {
            ledger.merged(Totals::zero(experiment.predictors.len()));
            None
        }
    }
}

/// Marks the rollout rolled back in its record (keeping the totals), so that every worker of the Envoy
/// stops the canary. Returns whether this call set the flag (false: already set, or not written).
pub fn set_rolled_back(port: &impl HostPort, key: &str, experiment: &Experiment) -> bool {
    cas::update(port, key, |value, _| match read(experiment, value) {
        // Another definition holds the key: this one's rollback is not for it to record.
        Read::Foreign => Step::Done(false),
        Read::Ours(_, flags) if flags.rolled_back => Step::Done(false),
        Read::Ours(totals, _) => Step::Write(
            record::encode_record(experiment, &totals, Flags { rolled_back: true }),
            true,
        ),
    })
    .unwrap_or(false)
}
