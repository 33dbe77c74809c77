//! What the workers of one Envoy share about one pooled experiment, in one shared-data key, so that an
//! Envoy sends at most one query per update whatever its worker count, and every worker applies the same
//! answer.
//!
//! Who asks: on the first tick of an update, each worker reads the record and, if nobody has claimed
//! this update yet ([`Exchange::claim`]), writes the claim under the record's CAS version. One write
//! wins; that worker sends the query and writes the answer ([`Exchange::answer`]); the others apply it
//! on their next tick. A claim carries a deadline (the query's timeout and a second's grace): a worker
//! that dies (its VM is torn down) or whose answer is lost leaves a claim that expires, and the next
//! worker to tick after the deadline claims the update again. No update is ever waited for: until an
//! answer arrives, every worker serves what it served before.

use crate::router::clock::due;
use crate::router::config::Experiment;
use crate::router::outcomes::record::{decode_record, encode_record, Flags};
use crate::router::outcomes::Totals;

const MAGIC: &[u8; 4] = b"PRX1";
/// A claim outlives the query's timeout by this much before another worker may take the update over.
pub const CLAIM_GRACE_NANOS: u64 = 1_000_000_000;
/// An adaptive experiment learns from its own Envoy after this many failed updates in a row.
pub const LOCAL_AFTER_FAILURES: u32 = 3;

/// The shared-data key of an experiment's exchange.
pub fn exchange_key(experiment: &str) -> String {
    format!("predictor_router.fleet.{experiment}")
}

/// Whose outcomes an experiment uses now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Every replica's, from the last successful query.
    Pooled,
    /// This Envoy's own.
    Local,
}

/// What consumes the pooled outcomes: it decides when a failure turns an experiment local.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// Keeps the last pooled allocation for [`LOCAL_AFTER_FAILURES`] - 1 failed updates, then learns
    /// locally until a query succeeds.
    Adaptive,
    /// Judges its own Envoy's outcomes as soon as a query fails: the safety net stays on.
    Rollout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The instant `T` (Unix seconds) of the latest update claimed (0: none yet).
    pub claimed: u64,
    /// While that update's query is in flight: when another worker may claim it again (host clock,
    /// nanoseconds).
    pub asking_until: Option<u64>,
    /// Answers written so far: a worker applies each one once.
    pub answers: u64,
    /// Failed updates since the last success.
    pub failures_in_row: u32,
    /// The last successful answer: its instant and its totals.
    pub pooled: Option<(u64, Totals)>,
}

impl Exchange {
    pub fn new() -> Self {
        Exchange {
            claimed: 0,
            asking_until: None,
            answers: 0,
            failures_in_row: 0,
            pooled: None,
        }
    }

    /// The record after this worker claims the update at `t` at `now_nanos`, or `None` when the update
    /// is not this worker's to ask: already claimed (and answered, or in flight within its deadline), or
    /// an earlier update's query still in flight within its deadline.
    ///
    /// The clock may have gone back since the record was written (see [`crate::router::clock`]): a
    /// claim of an instant later than now, or a deadline further ahead than a claim made now would set,
    /// is from before the jump, and does not stop this claim (else a jump back of an hour would stop
    /// every query for an hour).
    pub fn claim(&self, t: u64, now_nanos: u64, timeout_ms: u32) -> Option<Exchange> {
        let claim_period = u64::from(timeout_ms)
            .saturating_mul(1_000_000)
            .saturating_add(CLAIM_GRACE_NANOS);
        let in_flight = self
            .asking_until
            .is_some_and(|deadline| !due(now_nanos, deadline, claim_period));
        let clock_went_back = self.claimed > (now_nanos / 1_000_000_000).saturating_add(1);
        let already_claimed = t < self.claimed || (t == self.claimed && self.asking_until.is_none());
        if in_flight || (already_claimed && !clock_went_back) {
            return None;
        }
        let deadline = now_nanos.saturating_add(claim_period);
        Some(Exchange {
            claimed: t,
            asking_until: Some(deadline),
            ..self.clone()
        })
    }

    /// The record after the answer for the update at `t`; `None` when that update is no longer the one
    /// claimed (a slow answer whose claim expired and was taken over: the newer claim's answer counts).
    pub fn answer(&self, t: u64, result: Result<Totals, ()>) -> Option<Exchange> {
        if t != self.claimed || self.asking_until.is_none() {
            return None;
        }
        let mut next = self.clone();
        next.asking_until = None;
        next.answers = next.answers.saturating_add(1);
        match result {
            Ok(totals) => {
                next.failures_in_row = 0;
                next.pooled = Some((t, totals));
            }
            Err(()) => next.failures_in_row = next.failures_in_row.saturating_add(1),
        }
        Some(next)
    }

    /// Whose outcomes `consumer` uses after the answers so far. Before the first answer: pooled (nothing
    /// pooled yet, so what is served is what the configuration and shared data give).
    pub fn source(&self, consumer: Consumer) -> Source {
        let limit = match consumer {
            Consumer::Adaptive => LOCAL_AFTER_FAILURES,
            Consumer::Rollout => 1,
        };
        if self.failures_in_row >= limit {
            Source::Local
        } else {
            Source::Pooled
        }
    }

    /// `MAGIC`, claimed (u64 LE), asking (u8: 0 or 1), its deadline (u64 LE), answers (u64 LE),
    /// failures in a row (u32 LE), pooled (u8: 0 or 1), its instant (u64 LE), then the outcome record
    /// of the pooled totals (zeros when none), which carries the experiment definition's fingerprint.
    pub fn encode(&self, experiment: &Experiment) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + experiment.predictors.len() * 40);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.claimed.to_le_bytes());
        out.push(u8::from(self.asking_until.is_some()));
        out.extend_from_slice(&self.asking_until.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.answers.to_le_bytes());
        out.extend_from_slice(&self.failures_in_row.to_le_bytes());
        out.push(u8::from(self.pooled.is_some()));
        let zero = Totals::zero(experiment.predictors.len());
        let (at, totals) = self
            .pooled
            .as_ref()
            .map_or((0, &zero), |(t, totals)| (*t, totals));
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&encode_record(experiment, totals, Flags::default()));
        out
    }

    /// The exchange of this very experiment definition; `None` for another's, or for bytes that do not
    /// decode (then a worker starts a new exchange over it).
    pub fn decode(experiment: &Experiment, bytes: &[u8]) -> Option<Exchange> {
        let (magic, rest) = split(bytes, 4)?;
        if magic != MAGIC {
            return None;
        }
        let (claimed, rest) = u64_of(rest)?;
        let (asking, rest) = flag_of(rest)?;
        let (deadline, rest) = u64_of(rest)?;
        let (answers, rest) = u64_of(rest)?;
        let (failures, rest) = split(rest, 4)?;
        let failures_in_row = u32::from_le_bytes(failures.try_into().ok()?);
        let (has_pooled, rest) = flag_of(rest)?;
        let (at, rest) = u64_of(rest)?;
        let (totals, flags) = decode_record(experiment, rest)?;
        if flags != Flags::default() {
            return None;
        }
        Some(Exchange {
            claimed,
            asking_until: asking.then_some(deadline),
            answers,
            failures_in_row,
            pooled: has_pooled.then_some((at, totals)),
        })
    }
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange::new()
    }
}

fn split(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

fn u64_of(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = split(bytes, 8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), rest))
}

fn flag_of(bytes: &[u8]) -> Option<(bool, &[u8])> {
    let (head, rest) = split(bytes, 1)?;
    match head {
        [0] => Some((false, rest)),
        [1] => Some((true, rest)),
        _ => None,
    }
}
