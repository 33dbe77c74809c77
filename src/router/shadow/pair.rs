//! One copied request and the two answers it waits for, as a pure state machine: the client's answer
//! (complete, or its stream ended before it was) and the shadow's (an answer, no answer, or never
//! sent). Whichever side reports last finishes the pair, and a pair finishes exactly once: a report
//! after the finish, or a second report of the same side, changes nothing. The host feeds it from
//! two places that do not know of each other (the stream, and the root context's callout), so this is
//! where "never lost, never counted twice" is decided and tested.

use super::compare::{outcome, Outcome, Served, ShadowReply};
use crate::router::config::Compare;

/// The local reply Envoy gives a callout whose timeout passed (its router's "upstream request
/// timeout"), seen in tests/e2e/tests/e2e_shadow.rs. Told apart by its body, not by the time it took: the
/// module's clock and Envoy's timer differ by a millisecond or so.
const ENVOY_TIMEOUT_STATUS: u16 = 504;
const ENVOY_TIMEOUT_BODY: &[u8] = b"upstream request timeout";

/// How the client's side ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServedEnd {
    /// The whole answer passed: its status (0 when unreadable), its body (`None` when over the copy
    /// limit) and how long it took from the end of the request.
    Complete {
        status: u16,
        body: Option<Vec<u8>>,
        latency_ms: u64,
    },
    /// The stream ended before the answer was complete (the client left, a reset): nothing to compare.
    Gone,
}

/// How the shadow's side ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShadowEnd {
    /// An answer: its status (0 when unreadable), body (`None` when over the copy limit), and the time
    /// from sending the copy to the answer.
    Replied {
        status: u16,
        body: Option<Vec<u8>>,
        latency_ms: u64,
    },
    /// The callout came back without a response after `elapsed_ms`.
    NoResponse { elapsed_ms: u64 },
    /// The copy was never sent: the request was too large, its stream ended before the request was
    /// complete, or the host refused the call.
    NotSent,
}

/// What a finished pair counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    pub outcome: Outcome,
    /// For a compared pair (agree or disagree): the shadow's and the served predictor's latency, ms.
    pub latencies_ms: Option<(u64, u64)>,
}

#[derive(Debug, Clone)]
pub struct Pair {
    compare: Compare,
    timeout_ms: u32,
    /// What each side reported, until the pair finishes (then `None`: the bodies are dropped at once).
    open: Option<(Option<ServedEnd>, Option<ShadowEnd>)>,
    /// Whether the shadow's side has reported, finished or not: a copy still outstanding counts
    /// against `max_in_flight` even when its pair was already finished by the client leaving.
    shadow_ended: bool,
}

impl Pair {
    pub fn new(compare: Compare, timeout_ms: u32) -> Self {
        Pair {
            compare,
            timeout_ms,
            open: Some((None, None)),
            shadow_ended: false,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.open.is_none()
    }

    /// Whether the shadow's side has ended (the copy no longer counts against `max_in_flight`).
    pub fn shadow_ended(&self) -> bool {
        self.shadow_ended
    }

    /// The client's side ended; the pair's end when this was the last side to report.
    pub fn served(&mut self, end: ServedEnd) -> Option<Finished> {
        let (served, _) = self.open.as_mut()?;
        served.get_or_insert(end);
        self.try_finish()
    }

    /// The shadow's side ended; the pair's end when this was the last side to report.
    pub fn shadow(&mut self, end: ShadowEnd) -> Option<Finished> {
        self.shadow_ended = true;
        let (_, shadow) = self.open.as_mut()?;
        shadow.get_or_insert(end);
        self.try_finish()
    }

    fn try_finish(&mut self) -> Option<Finished> {
        let finished = match self.open.as_ref()? {
            // Nothing to compare, whatever the other side does: done now.
            (Some(ServedEnd::Gone), _) | (_, Some(ShadowEnd::NotSent)) => skipped(),
            (
                Some(ServedEnd::Complete {
                    status,
                    body,
                    latency_ms: served_ms,
                }),
                Some(shadow),
            ) => {
                let served = Served {
                    status: *status,
                    body: body.as_deref(),
                };
                let (reply, shadow_ms) = match shadow {
                    // Envoy answers a callout that ran out of time with its own 504: a timeout.
                    ShadowEnd::Replied {
                        status: ENVOY_TIMEOUT_STATUS,
                        body: Some(body),
                        latency_ms,
                    } if body.as_slice() == ENVOY_TIMEOUT_BODY => (ShadowReply::TimedOut, *latency_ms),
                    ShadowEnd::Replied {
                        status,
                        body,
                        latency_ms,
                    } => (
                        ShadowReply::Answered {
                            status: *status,
                            body: body.as_deref(),
                        },
                        *latency_ms,
                    ),
                    ShadowEnd::NoResponse { elapsed_ms } => (
                        ShadowReply::without_response(*elapsed_ms, self.timeout_ms),
                        *elapsed_ms,
                    ),
                    ShadowEnd::NotSent => (ShadowReply::Failed, 0), // matched above
                };
                let outcome = outcome(&self.compare, served, reply);
                Finished {
                    outcome,
                    latencies_ms: outcome.abs_diff_milli().map(|_| (shadow_ms, *served_ms)),
                }
            }
            _ => return None,
        };
        self.open = None;
        Some(finished)
    }
}

fn skipped() -> Finished {
    Finished {
        outcome: Outcome::Skipped,
        latencies_ms: None,
    }
}

/// The shadow counters of a served predictor: `copied` (counted when a request is sampled) and what a
/// finished pair adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShadowMeasure {
    Copied,
    Agree,
    Disagree,
    Failed,
    Timeout,
    Skipped,
    AbsDiffMilli,
    LatencyMs,
    ServedLatencyMs,
}

impl ShadowMeasure {
    pub const ALL: [ShadowMeasure; 9] = [
        ShadowMeasure::Copied,
        ShadowMeasure::Agree,
        ShadowMeasure::Disagree,
        ShadowMeasure::Failed,
        ShadowMeasure::Timeout,
        ShadowMeasure::Skipped,
        ShadowMeasure::AbsDiffMilli,
        ShadowMeasure::LatencyMs,
        ShadowMeasure::ServedLatencyMs,
    ];

    /// The last part of `...shadow.<name>.<measure>`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShadowMeasure::Copied => "copied",
            ShadowMeasure::Agree => "agree",
            ShadowMeasure::Disagree => "disagree",
            ShadowMeasure::Failed => "failed",
            ShadowMeasure::Timeout => "timeout",
            ShadowMeasure::Skipped => "skipped",
            ShadowMeasure::AbsDiffMilli => "abs_diff_milli",
            ShadowMeasure::LatencyMs => "latency_ms",
            ShadowMeasure::ServedLatencyMs => "served_latency_ms",
        }
    }

    /// Its place among an experiment's shadow counters of one served predictor.
    pub fn offset(self) -> usize {
        self as usize
    }
}

impl Finished {
    /// The counters a finished pair adds to: its outcome (1), and for a compared pair the abs_diff and
    /// both latencies (sums, so that a dashboard divides by the compared count).
    pub fn measures(&self) -> impl Iterator<Item = (ShadowMeasure, u64)> {
        let outcome = match self.outcome {
            Outcome::Agree { .. } => ShadowMeasure::Agree,
            Outcome::Disagree { .. } => ShadowMeasure::Disagree,
            Outcome::Failed => ShadowMeasure::Failed,
            Outcome::Timeout => ShadowMeasure::Timeout,
            Outcome::Skipped => ShadowMeasure::Skipped,
        };
        let compared =
            self.outcome
                .abs_diff_milli()
                .zip(self.latencies_ms)
                .map(|(diff, (shadow, served))| {
                    [
                        (ShadowMeasure::AbsDiffMilli, diff),
                        (ShadowMeasure::LatencyMs, shadow),
                        (ShadowMeasure::ServedLatencyMs, served),
                    ]
                });
        std::iter::once((outcome, 1)).chain(compared.into_iter().flatten())
    }
}
