//! The worker's copies between their stream and the root context that sends them: queued, and a
//! wake-up posted on the root's shared queue. One per VM (each worker has its own VM), shared by its
//! root contexts (Envoy makes a new one for each configuration update) and every stream.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::super::callouts::{Callouts, Owner};
use super::super::cas::{self, Gave, Step};
use super::super::port::{HostPort, Level};
use super::PairSlot;
use crate::router::callout::CalloutPlan;
use crate::router::shadow::pair::ShadowEnd;

/// The shared-data key whose value numbers this Envoy's workers: each worker's queue name is unique.
const WORKER_SEQUENCE_KEY: &str = "predictor_router.shadow.workers";
/// Messages taken off the queue per wake-up: one per wake-up, a few at most; bounded whatever the host
/// answers.
const MAX_DEQUEUED: usize = 64;

/// A copy waiting for the root to send it.
pub(super) struct Outgoing<P: HostPort> {
    pub slot: Rc<PairSlot<P>>,
    pub plan: CalloutPlan,
}

pub struct ShadowDesk<P: HostPort> {
    port: P,
    /// The shared queue of the newest root context with a shadow: its wake-ups reach a live root.
    queue: Cell<Option<u32>>,
    /// A wake-up is already on the queue: more copies ride on it.
    wake_pending: Cell<bool>,
    outgoing: RefCell<VecDeque<Outgoing<P>>>,
}

impl<P: HostPort> ShadowDesk<P> {
    pub fn new(port: P) -> Self {
        ShadowDesk {
            port,
            queue: Cell::new(None),
            wake_pending: Cell::new(false),
            outgoing: RefCell::new(VecDeque::new()),
        }
    }

    /// Registers a queue for root context `root` (on its first configuration with a shadow); its id, and
    /// from now on wake-ups go there. Without a queue, copies still go out, from the next tick.
    pub fn register_queue(&self, root: u32) -> Option<u32> {
        // The first registrant of a name gets its wake-ups: the name must be this root's alone. The
        // sequence number is unique but for one race on the very first write of its key (the host always
        // accepts a write to an absent key), so the clock and the root's id are in the name too; a root
        // that did share a name still sends its copies, from its tick.
        let nanos = self.port.now_nanos().unwrap_or(0);
        let registered = match worker_number(&self.port) {
            Ok(n) => self
                .port
                .register_queue(&format!("predictor_router.shadow.{n}.{root}.{nanos}"))
                .map_err(|e| e.to_string()),
            Err(Gave::Refused(e)) => Err(e.to_string()),
            Err(Gave::Contended) => Err("CasMismatch".to_string()),
        };
        match registered {
            Ok(id) => {
                self.use_queue(Some(id));
                Some(id)
            }
            Err(e) => {
                self.port.log(
                    Level::Warn,
                    format_args!(
                        "predictor_router: cannot register the shadow queue ({e}): copies go out on the tick, up to a second late"
                    ),
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

    /// The queue wake-ups go to now.
    pub fn queue(&self) -> Option<u32> {
        self.queue.get()
    }

    /// A copy is complete: the root sends it when it wakes (or on the next tick).
    pub(super) fn hand_over(&self, outgoing: Outgoing<P>) {
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
            if self.port.enqueue(queue) {
                self.wake_pending.set(true);
            }
        }
    }

    /// `on_queue_ready` of a root's queue: empty it, and send every copy waiting from that root.
    pub fn woken(&self, queue_id: u32, callouts: &mut Callouts<P>) {
        for _ in 0..MAX_DEQUEUED {
            if !self.port.dequeue(queue_id) {
                break;
            }
        }
        if self.queue.get() == Some(queue_id) {
            self.wake_pending.set(false);
        }
        self.send_waiting(callouts);
    }

    /// Sends every copy waiting (on `on_queue_ready`, and on the tick in case a wake-up was lost); each
    /// is entered in the sending root's registry, whose reply finishes its pair.
    pub fn send_waiting(&self, callouts: &mut Callouts<P>) {
        loop {
            let next = match self.outgoing.try_borrow_mut() {
                Ok(mut queue) => queue.pop_front(),
                Err(_) => return,
            };
            let Some(Outgoing { slot, plan }) = next else {
                return;
            };
            let now = self.port.now_nanos().unwrap_or(0);
            match self.port.dispatch(&plan) {
                Ok(token) => callouts.enter(
                    token,
                    Owner::Shadow {
                        slot,
                        sent_nanos: now,
                    },
                ),
                // An unknown cluster, or the host refusing the call: the shadow did not answer.
                Err(e) => {
                    self.port.log(
                        Level::Debug,
                        format_args!("predictor_router: shadow copy to {} not sent ({e})", plan.cluster),
                    );
                    slot.shadow_end(ShadowEnd::NoResponse { elapsed_ms: 0 });
                }
            }
        }
    }

    /// Whether any copy waits to be sent (the tick sends it when no wake-up came).
    pub fn has_waiting(&self) -> bool {
        self.outgoing.try_borrow().is_ok_and(|q| !q.is_empty())
    }
}

/// A number no other worker of this Envoy has: the next value of a shared-data counter every worker
/// bumps. A number is only ever taken by a write that had to match a version: the key is created first.
fn worker_number(port: &impl HostPort) -> Result<u32, Gave> {
    cas::update(port, WORKER_SEQUENCE_KEY, |value, _| match value {
        None => Step::Create(b"0".to_vec()),
        Some(bytes) => {
            let next = parse_number(bytes).saturating_add(1);
            Step::Write(next.to_string().into_bytes(), next)
        }
    })
}

fn parse_number(bytes: &[u8]) -> u32 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
