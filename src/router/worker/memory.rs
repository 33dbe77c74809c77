//! An in-memory Envoy for native tests of the worker's protocols: shared data with Envoy's
//! compare-and-swap rules, one clock the test sets, metrics by name, shared queues, and the callouts
//! each worker sent. Every [`MemoryHost`] is one worker's port onto the same [`MemoryEnvoy`].

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;

use super::port::{HostPort, Level, PortError};
use super::root::WorkerRoot;
use crate::router::callout::CalloutPlan;

/// A callout a worker sent.
#[derive(Debug, Clone)]
pub struct SentCall {
    pub worker: usize,
    pub token: u32,
    pub plan: CalloutPlan,
}

/// A reply to a callout, as a test delivers it.
#[derive(Debug, Clone, Default)]
pub struct MemoryReply {
    /// `None`: no headers (reset, refused, timed out).
    pub status: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

impl MemoryReply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        MemoryReply {
            status: Some(b"200".to_vec()),
            body: body.into(),
        }
    }

    pub fn status(status: &str, body: impl Into<Vec<u8>>) -> Self {
        MemoryReply {
            status: Some(status.as_bytes().to_vec()),
            body: body.into(),
        }
    }

    pub fn none() -> Self {
        MemoryReply::default()
    }
}

#[derive(Default)]
pub struct MemoryEnvoy {
    /// The host clock every worker reads (nanoseconds since the Unix epoch).
    pub clock: Cell<u64>,
    shared: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    next_cas: Cell<u32>,
    counters: RefCell<Vec<(String, u64)>>,
    gauges: RefCell<Vec<(String, u64)>>,
    /// Every gauge value recorded: the worker, the gauge's name, the value.
    pub gauge_records: RefCell<Vec<(usize, String, u64)>>,
    /// Shared queues by id - 1 (ids start at 1, as Envoy's do): name and messages.
    queues: RefCell<Vec<(String, VecDeque<Vec<u8>>)>>,
    /// Shared-data writes accepted.
    pub writes: Cell<u32>,
    next_token: Cell<u32>,
    /// Every callout sent and not yet answered by [`MemoryEnvoy::reply`].
    pub calls: RefCell<Vec<SentCall>>,
    /// Refuse every callout (an unknown cluster).
    pub refuse_calls: Cell<bool>,
    /// Shared-data writes refused with `CasMismatch` before any is accepted (contention).
    pub lose_races: Cell<u32>,
    reply: RefCell<MemoryReply>,
    /// Reads of a reply's body (each a hostcall in Envoy).
    pub body_reads: Cell<u32>,
    /// Every log line: the worker, its level, the line.
    pub logs: RefCell<Vec<(usize, Level, String)>>,
    /// The tick period each worker asked for last.
    pub tick_periods: RefCell<HashMap<usize, u32>>,
}

impl MemoryEnvoy {
    pub fn new(clock_nanos: u64) -> Rc<MemoryEnvoy> {
        let envoy = MemoryEnvoy::default();
        envoy.clock.set(clock_nanos);
        Rc::new(envoy)
    }

    /// Worker `worker`'s port.
    pub fn worker(self: &Rc<Self>, worker: usize) -> MemoryHost {
        MemoryHost {
            envoy: self.clone(),
            worker,
        }
    }

    pub fn advance(&self, nanos: u64) {
        self.clock.set(self.clock.get().saturating_add(nanos));
    }

    /// A counter's value (0 when never defined).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// A gauge's value, as the last worker to record it left it.
    pub fn gauge(&self, name: &str) -> Option<u64> {
        self.gauges
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// Every value worker `worker` recorded for gauge `name`, oldest first.
    pub fn gauge_values(&self, worker: usize, name: &str) -> Vec<u64> {
        self.gauge_records
            .borrow()
            .iter()
            .filter(|(w, n, _)| *w == worker && n == name)
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The value stored under `key`.
    pub fn shared(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.borrow().get(key).map(|(v, _)| v.clone())
    }

    /// Takes the callouts worker `worker` sent, oldest first.
    pub fn take_calls(&self, worker: usize) -> Vec<SentCall> {
        let mut calls = self.calls.borrow_mut();
        let (taken, kept) = calls.drain(..).partition(|c| c.worker == worker);
        *calls = kept;
        taken
    }

    /// Delivers `reply` to the root that sent `token`.
    pub fn reply<P>(&self, root: &mut WorkerRoot<P>, token: u32, reply: MemoryReply)
    where
        P: HostPort + Clone,
    {
        let headers = if reply.status.is_some() { 1 } else { 0 };
        let size = reply.body.len();
        *self.reply.borrow_mut() = reply;
        root.answered(token, headers, size);
        *self.reply.borrow_mut() = MemoryReply::default();
    }

    /// Log lines containing `text`.
    pub fn logged(&self, text: &str) -> Vec<String> {
        self.logs
            .borrow()
            .iter()
            .filter(|(_, _, l)| l.contains(text))
            .map(|(_, _, l)| l.clone())
            .collect()
    }

    /// The wake-ups queue `id` holds.
    pub fn queue_len(&self, id: u32) -> usize {
        self.queue(id, |(_, q)| q.len()).unwrap_or(0)
    }

    /// The name queue `id` was registered under.
    pub fn queue_name(&self, id: u32) -> Option<String> {
        self.queue(id, |(name, _)| name.clone())
    }

    fn queue<T>(&self, id: u32, f: impl FnOnce(&mut (String, VecDeque<Vec<u8>>)) -> T) -> Option<T> {
        let index = (id as usize).checked_sub(1)?;
        self.queues.borrow_mut().get_mut(index).map(f)
    }

    fn define(metrics: &RefCell<Vec<(String, u64)>>, name: &str) -> u32 {
        let mut metrics = metrics.borrow_mut();
        let index = match metrics.iter().position(|(n, _)| n == name) {
            Some(index) => index,
            None => {
                metrics.push((name.to_string(), 0));
                metrics.len() - 1
            }
        };
        index as u32
    }
}

/// One worker's port onto a [`MemoryEnvoy`].
#[derive(Clone)]
pub struct MemoryHost {
    pub envoy: Rc<MemoryEnvoy>,
    pub worker: usize,
}

impl HostPort for MemoryHost {
    fn now_nanos(&self) -> Option<u64> {
        Some(self.envoy.clock.get())
    }

    fn shared_data(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, PortError> {
        Ok(self.envoy.shared.borrow().get(key).cloned())
    }

    /// Envoy's rules: version 0 always writes; another version must be the key's current one.
    fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), PortError> {
        let lose = self.envoy.lose_races.get();
        if lose > 0 {
            self.envoy.lose_races.set(lose - 1);
            return Err(PortError::CasMismatch);
        }
        let mut shared = self.envoy.shared.borrow_mut();
        if cas != 0 && shared.get(key).map(|(_, c)| *c) != Some(cas) {
            return Err(PortError::CasMismatch);
        }
        let next = self.envoy.next_cas.get().wrapping_add(1).max(1);
        self.envoy.next_cas.set(next);
        shared.insert(key.to_string(), (value.to_vec(), next));
        self.envoy.writes.set(self.envoy.writes.get() + 1);
        Ok(())
    }

    fn dispatch(&self, plan: &CalloutPlan) -> Result<u32, PortError> {
        if self.envoy.refuse_calls.get() {
            return Err(PortError::Refused("BadArgument".to_string()));
        }
        let token = self.envoy.next_token.get() + 1;
        self.envoy.next_token.set(token);
        self.envoy.calls.borrow_mut().push(SentCall {
            worker: self.worker,
            token,
            plan: plan.clone(),
        });
        Ok(token)
    }

    fn reply_status(&self) -> Option<Vec<u8>> {
        self.envoy.reply.borrow().status.clone()
    }

    fn reply_body(&self, size: usize) -> Option<Vec<u8>> {
        self.envoy.body_reads.set(self.envoy.body_reads.get() + 1);
        let reply = self.envoy.reply.borrow();
        Some(reply.body.get(..size).unwrap_or(&reply.body).to_vec())
    }

    fn define_counter(&self, name: &str) -> Option<u32> {
        Some(MemoryEnvoy::define(&self.envoy.counters, name))
    }

    fn increment_counter(&self, id: u32, amount: u64) {
        if let Some((_, value)) = self.envoy.counters.borrow_mut().get_mut(id as usize) {
            *value += amount;
        }
    }

    fn define_gauge(&self, name: &str) -> Option<u32> {
        Some(MemoryEnvoy::define(&self.envoy.gauges, name))
    }

    fn record_gauge(&self, id: u32, value: u64) {
        if let Some((name, stored)) = self.envoy.gauges.borrow_mut().get_mut(id as usize) {
            *stored = value;
            self.envoy
                .gauge_records
                .borrow_mut()
                .push((self.worker, name.clone(), value));
        }
    }

    fn register_queue(&self, name: &str) -> Result<u32, PortError> {
        let mut queues = self.envoy.queues.borrow_mut();
        queues.push((name.to_string(), VecDeque::new()));
        Ok(queues.len() as u32)
    }

    fn enqueue(&self, queue: u32) -> bool {
        self.envoy
            .queue(queue, |(_, q)| q.push_back(b"1".to_vec()))
            .is_some()
    }

    fn dequeue(&self, queue: u32) -> bool {
        self.envoy
            .queue(queue, |(_, q)| q.pop_front())
            .flatten()
            .is_some()
    }

    fn set_tick_period(&self, milliseconds: u32) -> Result<(), PortError> {
        self.envoy
            .tick_periods
            .borrow_mut()
            .insert(self.worker, milliseconds);
        Ok(())
    }

    fn log(&self, level: Level, line: fmt::Arguments<'_>) {
        self.envoy
            .logs
            .borrow_mut()
            .push((self.worker, level, line.to_string()));
    }
}
