//! The copy a sampled stream is taking, until its two sides are handed over: the request as it streams
//! past (sent once the client's stream is over), and the client's answer as it passes.

use std::rc::Rc;

use super::super::port::HostPort;
use super::super::state::RouterState;
use super::desk::{Outgoing, ShadowDesk};
use super::PairSlot;
use crate::router::callout::{self, CalloutPlan};
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::Counter;
use crate::router::plan::ShadowCopy;
use crate::router::shadow::copy::CopyHead;
use crate::router::shadow::pair::{Pair, ServedEnd, ShadowEnd, ShadowMeasure};
use crate::router::shadow::MAX_COPY_BYTES;

pub struct StreamCopy<P: HostPort> {
    slot: Rc<PairSlot<P>>,
    desk: Rc<ShadowDesk<P>>,
    /// The request's head and body, until the request is complete.
    request: Option<(CopyHead, Vec<u8>)>,
    /// When the request was complete (the served latency starts there, as the shadow's starts when
    /// its copy is sent).
    request_done_nanos: Option<u64>,
    /// The client's answer as it passes: its status and body (`None` once over the copy limit).
    response: Option<(u16, Option<Vec<u8>>)>,
    /// The copy, ready since the request was complete, until the client's stream is over.
    ready: Option<CalloutPlan>,
    /// The client's side has been reported.
    served_reported: bool,
}

impl<P: HostPort> StreamCopy<P> {
    /// A sampled request: the copy starts, unless the experiment's shadow has `max_in_flight` copies
    /// outstanding on this worker (then, like a copy that cannot be made, it is counted `skipped`).
    pub fn start(
        state: &Rc<RouterState<P>>,
        desk: &Rc<ShadowDesk<P>>,
        experiment: ExperimentId,
        served: PredictorId,
        copy: ShadowCopy,
    ) -> Option<StreamCopy<P>> {
        let ShadowCopy::Copy(head) = copy else {
            return None; // counted skipped by the plan
        };
        let shadow = state.table.experiment(experiment)?.shadow.as_ref()?;
        if !state.admit_shadow(experiment, shadow.max_in_flight) {
            state.count(
                Counter::Shadow {
                    experiment,
                    predictor: served,
                    measure: ShadowMeasure::Skipped,
                },
                1,
            );
            return None;
        }
        let pair = Pair::new(shadow.compare.clone(), shadow.timeout_ms);
        Some(StreamCopy {
            slot: Rc::new(PairSlot::new(state.clone(), experiment, served, pair)),
            desk: desk.clone(),
            request: Some((head, Vec::new())),
            request_done_nanos: None,
            response: None,
            ready: None,
            served_reported: false,
        })
    }

    /// A chunk of the request body (`size` bytes, read by `read` only when it is copied) passed;
    /// `end_of_stream`: the request is complete.
    pub fn request_chunk(
        &mut self,
        size: usize,
        end_of_stream: bool,
        read: impl FnOnce(usize) -> Option<Vec<u8>>,
    ) {
        if size > 0 {
            let Some((_, body)) = &mut self.request else {
                return;
            };
            if body.len().saturating_add(size) > MAX_COPY_BYTES {
                // Too large to copy: the pair ends now, the request goes on untouched.
                self.request = None;
                self.slot.shadow_end(ShadowEnd::NotSent);
                return;
            }
            if let Some(chunk) = read(size) {
                body.extend_from_slice(&chunk);
            }
        }
        if end_of_stream {
            self.request_complete();
        }
    }

    /// The request is complete: the copy is ready, and goes to the desk when the client's stream is
    /// over (if its answer was complete by then).
    pub fn request_complete(&mut self) {
        let Some((head, body)) = self.request.take() else {
            return;
        };
        let state = &self.slot.state;
        self.request_done_nanos = state.port.now_nanos();
        let shadow = state
            .table
            .experiment(self.slot.experiment)
            .and_then(|e| e.shadow.as_ref());
        match shadow {
            Some(shadow) => self.ready = Some(head.into_plan(shadow, body)),
            None => self.slot.shadow_end(ShadowEnd::NotSent),
        }
    }

    /// The copy leaves once the client's stream is over (its `Drop`, on `proxy_on_delete`): a callout
    /// is work on this worker's thread (a connection, a request, V8 entries), and anything posted while
    /// the client's answer is still in Envoy's hands runs before that answer is flushed. The contract:
    /// the client's answer is never delayed for the shadow.
    fn send_when_answered(&mut self) {
        if !self.served_reported {
            return;
        }
        if let Some(plan) = self.ready.take() {
            self.desk.hand_over(Outgoing {
                slot: self.slot.clone(),
                plan,
            });
        }
    }

    /// The client's answer started: its status; `end_of_stream` when it has no body.
    pub fn response_headers(&mut self, status: &[u8], end_of_stream: bool) {
        self.response = Some((status_of(status), Some(Vec::new())));
        if end_of_stream {
            self.response_complete();
        }
    }

    /// A chunk of the client's answer (`size` bytes, read by `read` only while it is kept) passed.
    pub fn response_chunk(
        &mut self,
        size: usize,
        end_of_stream: bool,
        read: impl FnOnce(usize) -> Option<Vec<u8>>,
    ) {
        if let Some((_, kept)) = &mut self.response {
            match kept {
                Some(body) if body.len().saturating_add(size) > MAX_COPY_BYTES => *kept = None,
                Some(body) if size > 0 => {
                    if let Some(chunk) = read(size) {
                        body.extend_from_slice(&chunk);
                    }
                }
                _ => {}
            }
        }
        if end_of_stream {
            self.response_complete();
        }
    }

    fn response_complete(&mut self) {
        let Some((status, body)) = self.response.take() else {
            return;
        };
        let latency_ms = match (self.request_done_nanos, self.slot.state.port.now_nanos()) {
            (Some(start), Some(now)) => now.saturating_sub(start) / 1_000_000,
            _ => 0,
        };
        self.served_reported = true;
        self.slot.served_end(ServedEnd::Complete {
            status,
            body,
            latency_ms,
        });
    }
}

impl<P: HostPort> Drop for StreamCopy<P> {
    /// The stream is gone (`proxy_on_delete`): a copy whose client got its whole answer goes to the
    /// desk now; a request never completed was never sent, and an answer never completed is nothing to
    /// compare. The pair still finishes exactly once.
    fn drop(&mut self) {
        self.send_when_answered();
        if self.request.take().is_some() || self.ready.take().is_some() {
            self.slot.shadow_end(ShadowEnd::NotSent);
        }
        if !self.served_reported {
            self.slot.served_end(ServedEnd::Gone);
        }
    }
}

/// `:status` as the callout rules read it ([`callout::parse_status`]); 0 when it is not one (never 2xx:
/// the served side is then skipped, the shadow's failed).
pub fn status_of(raw: &[u8]) -> u16 {
    callout::parse_status(raw).unwrap_or(0)
}
