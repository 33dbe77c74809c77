//! Shadow comparison on one worker (contract "Shadow comparison"). A sampled request's stream copies the
//! request and the client's answer as they stream past ([`StreamCopy`]); the copy is sent by the
//! worker's root context ([`ShadowDesk`]), which also receives the shadow's answer; the pair of answers
//! ([`Pair`]) is finished by whichever side ends last, exactly once, and counted then.
//!
//! Why the root sends: Envoy owns every `proxy_http_call` on the root context (proxy-wasm-cpp-host
//! retargets it to `root_context()`), so a callout outlives the stream that asked for it and its answer
//! arrives for the root. The Rust SDK (0.2.5), though, maps the token to the context that was active
//! when it dispatched, and drops the answer when that stream has been deleted: a copy sent from the
//! stream would lose every pair whose client left before the shadow answered. So the stream hands the
//! finished copy to the root's desk and wakes the root through a shared queue that only this worker
//! registered (Envoy posts `on_queue_ready` to the registrant's own worker); the root dispatches, and
//! the SDK maps the token to the root, which never goes away.
//!
//! Nothing here holds the client back: every callback of the stream returns `Continue`, and the
//! stream's only extra work is copying bytes it was handed.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::abi::{self, HostError, Map};
use super::state::RouterState;
use crate::router::callout::{self, CalloutPlan};
use crate::router::config::Shadow;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::Counter;
use crate::router::plan::ShadowCopy;
use crate::router::shadow::copy::CopyHead;
use crate::router::shadow::pair::{Finished, Pair, ServedEnd, ShadowEnd, ShadowMeasure};
use crate::router::shadow::MAX_COPY_BYTES;

/// The shared-data key whose version numbers this Envoy's workers: each worker's queue name is unique.
const WORKER_SEQUENCE_KEY: &str = "predictor_router.shadow.workers";
const CAS_ATTEMPTS: usize = 8;

/// One copied request's pair, shared by its stream (the client's side) and the desk (the shadow's).
pub struct PairSlot {
    /// The configuration the request was routed by: its counters take the pair's outcome, even when
    /// an update has replaced it since.
    state: Rc<RouterState>,
    experiment: ExperimentId,
    served: PredictorId,
    pair: RefCell<Pair>,
}

impl PairSlot {
    fn count(&self, measure: ShadowMeasure, amount: u64) {
        self.state.count(
            Counter::Shadow {
                experiment: self.experiment,
                predictor: self.served,
                measure,
            },
            amount,
        );
    }

    fn finish(&self, finished: Option<Finished>) {
        if let Some(finished) = finished {
            for (measure, amount) in finished.measures() {
                self.count(measure, amount);
            }
        }
    }

    fn served_end(&self, end: ServedEnd) {
        let finished = match self.pair.try_borrow_mut() {
            Ok(mut pair) => pair.served(end),
            Err(_) => return,
        };
        self.finish(finished);
    }

    fn shadow_end(&self, end: ShadowEnd) {
        let (finished, first) = match self.pair.try_borrow_mut() {
            Ok(mut pair) => {
                let first = !pair.shadow_ended();
                (pair.shadow(end), first)
            }
            Err(_) => return,
        };
        if first {
            if let Some(in_flight) = self.state.shadow_in_flight.get(self.experiment.index()) {
                in_flight.set(in_flight.get().saturating_sub(1));
            }
        }
        self.finish(finished);
    }
}

/// A copy waiting for the root to send it.
struct Outgoing {
    slot: Rc<PairSlot>,
    plan: CalloutPlan,
}

/// A copy sent, waiting for its answer.
struct Sent {
    slot: Rc<PairSlot>,
    sent_nanos: u64,
    /// The root context that sent it (its answer is delivered there, and is lost with it).
    root: u32,
}

/// The worker's copies between their stream and the shadow: queued for a root context, then
/// outstanding by token. One per VM (each worker has its own VM), shared by its root contexts (Envoy
/// makes a new one for each configuration update) and every stream.
#[derive(Default)]
pub struct ShadowDesk {
    /// The shared queue of the newest root context with a shadow: its wake-ups reach a live root.
    queue: Cell<Option<u32>>,
    /// A wake-up is already on the queue: more copies ride on it.
    wake_pending: Cell<bool>,
    outgoing: RefCell<VecDeque<Outgoing>>,
    sent: RefCell<HashMap<u32, Sent>>,
}

thread_local! {
    static DESK: Rc<ShadowDesk> = Rc::new(ShadowDesk::default());
}

impl ShadowDesk {
    /// This VM's desk.
    pub fn of_this_vm() -> Rc<ShadowDesk> {
        DESK.with(Rc::clone)
    }

    /// Registers a queue for root context `root` (on its first configuration with a shadow); its id, and
    /// from now on wake-ups go there. Without a queue, copies still go out, from the next tick.
    pub fn register_queue(&self, root: u32) -> Option<u32> {
        // The first registrant of a name gets its wake-ups: the name must be this root's alone. The
        // sequence number is unique but for one race on the very first write of its key (Envoy always
        // accepts a write to an absent key), so the clock and the root's id are in the name too; a root
        // that did share a name still sends its copies, from its tick.
        let nanos = abi::current_time_nanos().unwrap_or(0);
        let registered = worker_number()
            .map(|n| format!("predictor_router.shadow.{n}.{root}.{nanos}"))
            .and_then(|name| abi::register_shared_queue(&name));
        match registered {
            Ok(id) => {
                self.use_queue(Some(id));
                Some(id)
            }
            Err(e) => {
                log::warn!(
                    "predictor_router: cannot register the shadow queue ({e}): copies go out on the tick, up to a second late"
                );
                None
            }
        }
    }

    /// The queue wake-ups go to (a root context's, on configuration); `None` when that root goes.
    pub fn use_queue(&self, queue: Option<u32>) {
        self.queue.set(queue);
        self.wake_pending.set(false);
    }

    /// Root context `root` is being deleted (a newer configuration replaced it): Envoy drops its
    /// outstanding callouts with it, so their pairs are finished now (not compared: `skipped`), and its
    /// queue no longer wakes anyone.
    pub fn root_gone(&self, root: u32, queue: Option<u32>) {
        if queue.is_some() && self.queue.get() == queue {
            self.use_queue(None);
        }
        let cut_off: Vec<Sent> = match self.sent.try_borrow_mut() {
            Ok(mut sent) => {
                let tokens: Vec<u32> = sent
                    .iter()
                    .filter(|(_, s)| s.root == root)
                    .map(|(t, _)| *t)
                    .collect();
                tokens.iter().filter_map(|t| sent.remove(t)).collect()
            }
            Err(_) => return,
        };
        for Sent { slot, .. } in cut_off {
            slot.shadow_end(ShadowEnd::NotSent);
        }
    }

    /// A copy is complete: the root sends it when it wakes (or on the next tick).
    fn hand_over(&self, outgoing: Outgoing) {
        if let Ok(mut queue) = self.outgoing.try_borrow_mut() {
            queue.push_back(outgoing);
        } else {
            outgoing.slot.shadow_end(ShadowEnd::NotSent);
            return;
        }
        if self.wake_pending.get() {
            return;
        }
        if let Some(queue) = self.queue.get() {
            if abi::enqueue_shared_queue(queue, b"1").is_ok() {
                self.wake_pending.set(true);
            }
        }
    }

    /// `on_queue_ready` of root context `root`'s queue: empty it, and send every copy waiting.
    pub fn woken(&self, root: u32, queue_id: u32) {
        // One message per wake-up; a few at most. Bounded, whatever the host answers.
        for _ in 0..64 {
            if abi::dequeue_shared_queue(queue_id).is_err() {
                break;
            }
        }
        if self.queue.get() == Some(queue_id) {
            self.wake_pending.set(false);
        }
        self.send_waiting(root);
    }

    /// Sends every copy waiting, from root context `root` (on `on_queue_ready`, and on the tick in case
    /// a wake-up was lost).
    pub fn send_waiting(&self, root: u32) {
        loop {
            let next = match self.outgoing.try_borrow_mut() {
                Ok(mut queue) => queue.pop_front(),
                Err(_) => return,
            };
            let Some(Outgoing { slot, plan }) = next else {
                return;
            };
            let now = abi::current_time_nanos().unwrap_or(0);
            match abi::dispatch_http_call(&plan) {
                Ok(token) => {
                    if let Ok(mut sent) = self.sent.try_borrow_mut() {
                        sent.insert(
                            token,
                            Sent {
                                slot,
                                sent_nanos: now,
                                root,
                            },
                        );
                    }
                }
                // An unknown cluster, or Envoy refusing the call: the shadow did not answer.
                Err(e) => {
                    log::debug!("predictor_router: shadow copy to {} not sent ({e})", plan.cluster);
                    slot.shadow_end(ShadowEnd::NoResponse { elapsed_ms: 0 });
                }
            }
        }
    }

    /// `on_http_call_response` of the root: `true` when the token was a shadow copy's (its answer is
    /// read and its pair told); `false` leaves it to the fleet view.
    pub fn answered(&self, token: u32, num_headers: usize, body_size: usize) -> bool {
        let Some(Sent { slot, sent_nanos, .. }) =
            self.sent.try_borrow_mut().ok().and_then(|mut s| s.remove(&token))
        else {
            return false;
        };
        let now = abi::current_time_nanos().unwrap_or(sent_nanos);
        let elapsed_ms = now.saturating_sub(sent_nanos) / 1_000_000;
        let end = if num_headers == 0 {
            ShadowEnd::NoResponse { elapsed_ms }
        } else {
            let status = abi::header(Map::CallResponse, ":status")
                .ok()
                .flatten()
                .map_or(0, |s| status_of(&s));
            let body =
                (body_size <= MAX_COPY_BYTES).then(|| abi::call_response_body(body_size).unwrap_or_default());
            ShadowEnd::Replied {
                status,
                body,
                latency_ms: elapsed_ms,
            }
        };
        slot.shadow_end(end);
        true
    }

    /// Whether any copy waits to be sent (the tick sends it when no wake-up came).
    pub fn has_waiting(&self) -> bool {
        self.outgoing.try_borrow().is_ok_and(|q| !q.is_empty())
    }
}

/// A number no other worker of this Envoy has: the version of a shared-data key every worker bumps.
fn worker_number() -> Result<u32, HostError> {
    for _ in 0..CAS_ATTEMPTS {
        let (previous, cas) = match abi::shared_data(WORKER_SEQUENCE_KEY)? {
            Some((value, cas)) => (parse_number(&value), cas),
            None => (0, 0),
        };
        let next = previous.saturating_add(1);
        // A write with CAS 0 is never refused: the key is created first, and a number is only ever
        // taken by a write that had to match a version.
        if cas == 0 {
            abi::set_shared_data(WORKER_SEQUENCE_KEY, b"0", 0)?;
            continue;
        }
        match abi::set_shared_data(WORKER_SEQUENCE_KEY, next.to_string().as_bytes(), cas) {
            Ok(()) => return Ok(next),
            Err(HostError::CasMismatch) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(HostError::CasMismatch)
}

fn parse_number(bytes: &[u8]) -> u32 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `:status` as the callout rules read it ([`callout::parse_status`]); 0 when it is not one (never 2xx:
/// the served side is then skipped, the shadow's failed).
fn status_of(raw: &[u8]) -> u16 {
    callout::parse_status(raw).unwrap_or(0)
}

/// The copy a sampled stream is taking, until its two sides are handed over.
pub struct StreamCopy {
    slot: Rc<PairSlot>,
    desk: Rc<ShadowDesk>,
    /// The request's head and body, until the request is complete and handed to the desk.
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

impl StreamCopy {
    /// A sampled request: the copy starts, unless the experiment's shadow has `max_in_flight` copies
    /// outstanding on this worker (then, like a copy that cannot be made, it is counted `skipped`).
    pub fn start(
        state: &Rc<RouterState>,
        desk: &Rc<ShadowDesk>,
        experiment: ExperimentId,
        served: PredictorId,
        copy: ShadowCopy,
    ) -> Option<StreamCopy> {
        let ShadowCopy::Copy(head) = copy else {
            return None; // counted skipped by the plan
        };
        let shadow = shadow_of(state, experiment)?;
        let in_flight = state.shadow_in_flight.get(experiment.index())?;
        if in_flight.get() >= shadow.max_in_flight {
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
        in_flight.set(in_flight.get() + 1);
        let slot = Rc::new(PairSlot {
            state: state.clone(),
            experiment,
            served,
            pair: RefCell::new(Pair::new(shadow.compare.clone(), shadow.timeout_ms)),
        });
        Some(StreamCopy {
            slot,
            desk: desk.clone(),
            request: Some((head, Vec::new())),
            request_done_nanos: None,
            response: None,
            ready: None,
            served_reported: false,
        })
    }

    /// A chunk of the request body (`size` bytes) passed; `end_of_stream`: the request is complete.
    pub fn request_chunk(&mut self, size: usize, end_of_stream: bool) {
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
            if let Ok(chunk) = abi::request_body(size) {
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
        self.request_done_nanos = abi::current_time_nanos().ok();
        let Some(shadow) = shadow_of(&self.slot.state, self.slot.experiment) else {
            self.slot.shadow_end(ShadowEnd::NotSent);
            return;
        };
        self.ready = Some(head.into_plan(shadow, body));
    }

    /// The copy leaves once the client's stream is over (its `Drop`, on `proxy_on_delete`): a callout
    /// is work on this worker's thread (a connection, a request, V8 entries), and anything posted while
    /// the client's answer is still in Envoy's hands runs before that answer is flushed. The contract: the
    /// client's answer is never delayed for the shadow.
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

    /// A chunk of the client's answer (`size` bytes) passed.
    pub fn response_chunk(&mut self, size: usize, end_of_stream: bool) {
        if let Some((_, kept)) = &mut self.response {
            match kept {
                Some(body) if body.len().saturating_add(size) > MAX_COPY_BYTES => *kept = None,
                Some(body) if size > 0 => {
                    if let Ok(chunk) = abi::response_body(size) {
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
        let now = abi::current_time_nanos().ok();
        let latency_ms = match (self.request_done_nanos, now) {
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

impl Drop for StreamCopy {
    /// The stream is gone (`proxy_on_delete`): a copy whose client got its whole answer goes to the
    /// desk now; a request never completed was never sent, and an answer never completed is nothing to
    /// compare. The pair still finishes exactly once.
    fn drop(&mut self) {
        self.send_when_answered();
        // A request never completed, or a copy whose client's answer never completed: not sent.
        if self.request.take().is_some() || self.ready.take().is_some() {
            self.slot.shadow_end(ShadowEnd::NotSent);
        }
        if !self.served_reported {
            self.slot.served_end(ServedEnd::Gone);
        }
    }
}

fn shadow_of(state: &RouterState, experiment: ExperimentId) -> Option<&Shadow> {
    state.table.experiment(experiment)?.shadow.as_ref()
}
