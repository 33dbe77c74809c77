//! One root context's worker: the configuration in service, the tick, the callouts it sent and their
//! replies, and the shadow copies it sends. The proxy-wasm root context parses each configuration and
//! calls in here; everything it does on the tick and in callouts is decided here.

use std::rc::Rc;

use super::callouts::{Callouts, Owner, Reply};
use super::learning::TickNeeds;
use super::port::{HostPort, Level};
use super::shadow::{status_of, ShadowDesk};
use super::state::RouterState;
use super::tick::{period_for, FLUSH_TICK_MILLISECONDS};
use crate::router::adaptive::learner::ARM_DRAWS_PER_TICK;
use crate::router::fleet::answer::MAX_ANSWER_BYTES;
use crate::router::shadow::pair::ShadowEnd;
use crate::router::shadow::MAX_COPY_BYTES;
use crate::router::table::RoutingTable;

pub struct WorkerRoot<P: HostPort + Clone> {
    port: P,
    /// This root context's id (its shadow queue's name carries it).
    context_id: u32,
    /// `None` until a valid configuration arrives; a rejected update leaves the previous one in service.
    state: Option<Rc<RouterState<P>>>,
    /// The tick period last asked for.
    tick_period: u32,
    /// The VM's shadow copies waiting to be sent (shared by its root contexts: a copy finishes with the
    /// configuration that routed it).
    desk: Rc<ShadowDesk<P>>,
    /// This root's shadow wake-up queue, registered with its first configuration with a shadow.
    shadow_queue: Option<u32>,
    /// Every callout this root sent and not yet answered, by token.
    callouts: Callouts<P>,
}

impl<P: HostPort + Clone> WorkerRoot<P> {
    pub fn new(port: P, context_id: u32, desk: Rc<ShadowDesk<P>>) -> Self {
        WorkerRoot {
            port,
            context_id,
            state: None,
            tick_period: 0,
            desk,
            shadow_queue: None,
            callouts: Callouts::default(),
        }
    }

    /// The configuration in service, for new streams.
    pub fn state(&self) -> Option<&Rc<RouterState<P>>> {
        self.state.as_ref()
    }

    pub fn desk(&self) -> &Rc<ShadowDesk<P>> {
        &self.desk
    }

    /// The callouts in flight (for tests and the registry's invariants).
    pub fn callouts_in_flight(&self) -> usize {
        self.callouts.in_flight()
    }

    /// A validated configuration takes over: the one it replaces hands over its counts now (counts of
    /// its streams still in flight follow when the last of them ends); learners resume from shared data;
    /// the tick is set.
    pub fn configure(&mut self, table: RoutingTable) {
        if let Some(previous) = &self.state {
            previous.flush();
        }
        // The fleet queries in flight were the replaced configuration's: their answers no longer
        // apply (their claims expire, and this configuration asks again).
        self.callouts.forget_pooled();
        if table.experiments().iter().any(|e| e.shadow.is_some()) {
            match self.shadow_queue {
                Some(queue) => self.desk.use_queue(Some(queue)),
                None => self.shadow_queue = self.desk.register_queue(self.context_id),
            }
        }
        let state = RouterState::new(self.port.clone(), table);
        let mut period = FLUSH_TICK_MILLISECONDS;
        if state.learns {
            let now = self.now();
            let mut needs = TickNeeds::default();
            if let Ok(mut learning) = state.learning.try_borrow_mut() {
                learning.resume(&self.port, &state.table, now);
                needs.next_change_nanos = learning.next_change_nanos(&state.table, now);
            }
            period = period_for(needs, now);
        }
        self.state = Some(Rc::new(state));
        // Always set after a configuration: the host's timer is per root context.
        self.tick_period = u32::MAX;
        self.set_tick_period(period);
    }

    /// The tick: copies whose wake-up never came go out, counts are flushed, learners advance.
    pub fn tick(&mut self) {
        if self.desk.has_waiting() {
            self.desk.send_waiting(&mut self.callouts);
        }
        let Some(state) = &self.state else { return };
        state.flush();
        if !state.learns {
            return;
        }
        let now = self.now();
        let needs = match state.learning.try_borrow_mut() {
            Ok(mut learning) => learning.tick(
                &self.port,
                &state.table,
                now,
                ARM_DRAWS_PER_TICK,
                &mut self.callouts,
            ),
            Err(_) => TickNeeds::default(),
        };
        self.set_tick_period(period_for(needs, now));
    }

    /// This root's shadow queue woke it: the copies waiting go out.
    pub fn woken(&mut self, queue_id: u32) {
        self.desk.woken(queue_id, &mut self.callouts);
    }

    /// A callout of this root was answered (or failed, or timed out): its owner reads the reply. A
    /// shadow copy's pair is told; a fleet query's experiment writes the answer for every worker of the
    /// Envoy and applies it. A token of no callout in flight (a query of a configuration replaced since:
    /// its claim expires) is dropped.
    pub fn answered(&mut self, token: u32, headers: usize, body_size: usize) {
        let Some(owner) = self.callouts.take(token) else {
            return;
        };
        match owner {
            Owner::Shadow { slot, sent_nanos } => {
                let reply = Reply::read(&self.port, headers, body_size);
                let now = self.port.now_nanos().unwrap_or(sent_nanos);
                let elapsed_ms = now.saturating_sub(sent_nanos) / 1_000_000;
                let end = if reply.headers == 0 {
                    ShadowEnd::NoResponse { elapsed_ms }
                } else {
                    ShadowEnd::Replied {
                        status: reply.status.as_deref().map_or(0, status_of),
                        body: reply.body(&self.port, MAX_COPY_BYTES),
                        latency_ms: elapsed_ms,
                    }
                };
                slot.shadow_end(end);
            }
            Owner::Pooled(experiment) => {
                let Some(state) = &self.state else { return };
                let answer = Reply::read(&self.port, headers, body_size).answer(&self.port, MAX_ANSWER_BYTES);
                let now = self.now();
                let needs = match state.learning.try_borrow_mut() {
                    Ok(mut learning) => {
                        learning.answered(&self.port, &state.table, experiment, &answer, now);
                        learning.needs(&state.table, now)
                    }
                    Err(_) => return,
                };
                self.set_tick_period(period_for(needs, now));
            }
        }
    }

    fn now(&self) -> u64 {
        self.port.now_nanos().unwrap_or(0)
    }

    fn set_tick_period(&mut self, period: u32) {
        if period == self.tick_period {
            return;
        }
        self.tick_period = period;
        if let Err(e) = self.port.set_tick_period(period) {
            self.port.log(
                Level::Warn,
                format_args!(
                    "predictor_router: cannot set the tick period ({e}): adaptive experiments will not learn and rollouts will not step"
                ),
            );
        }
    }
}

impl<P: HostPort + Clone> Drop for WorkerRoot<P> {
    /// A newer configuration replaced this root context (or the plugin stops): the host drops the
    /// callouts it sent with it, so their pairs finish now (not compared: `skipped`), and its queue no
    /// longer wakes anyone.
    fn drop(&mut self) {
        if self.shadow_queue.is_some() && self.desk.queue() == self.shadow_queue {
            self.desk.use_queue(None);
        }
        for owner in self.callouts.drain() {
            if let Owner::Shadow { slot, .. } = owner {
                slot.shadow_end(ShadowEnd::NotSent);
            }
        }
    }
}
