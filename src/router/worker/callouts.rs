//! The root context's callout registry: each token it dispatched, with its owner (a pooled
//! experiment's fleet query, or a shadow pair's copy), so that a reply goes straight to its owner, and
//! one reader of replies for both.

use std::collections::HashMap;
use std::rc::Rc;

use super::port::HostPort;
use super::shadow::PairSlot;
use crate::router::callout::{self, Answer};
use crate::router::ids::ExperimentId;

/// Who sent a callout.
pub enum Owner<P: HostPort> {
    /// A pooled experiment's (or rollout's) fleet query.
    Pooled(ExperimentId),
    /// A shadow copy: its pair, and when it left (the shadow's latency starts there).
    Shadow { slot: Rc<PairSlot<P>>, sent_nanos: u64 },
}

/// The callouts a root context has in flight.
pub struct Callouts<P: HostPort> {
    owners: HashMap<u32, Owner<P>>,
}

impl<P: HostPort> Default for Callouts<P> {
    fn default() -> Self {
        Callouts {
            owners: HashMap::new(),
        }
    }
}

impl<P: HostPort> Callouts<P> {
    pub fn enter(&mut self, token: u32, owner: Owner<P>) {
        self.owners.insert(token, owner);
    }

    /// The owner of a reply (it leaves the registry: a token is answered once).
    pub fn take(&mut self, token: u32) -> Option<Owner<P>> {
        self.owners.remove(&token)
    }

    /// Forgets the fleet queries in flight (the configuration that sent them was replaced).
    pub fn forget_pooled(&mut self) {
        self.owners
            .retain(|_, owner| matches!(owner, Owner::Shadow { .. }));
    }

    /// Every callout still in flight (the root is going away, and Envoy drops them with it).
    pub fn drain(&mut self) -> impl Iterator<Item = Owner<P>> + '_ {
        self.owners.drain().map(|(_, owner)| owner)
    }

    /// How many callouts are in flight.
    pub fn in_flight(&self) -> usize {
        self.owners.len()
    }
}

/// A callout's reply as the host announced it (`on_http_call_response`): read lazily through the port,
/// so that each owner reads only what it uses.
pub struct Reply {
    /// No headers: the connection failed, was reset, or the call timed out.
    pub headers: usize,
    pub body_size: usize,
    /// `:status` as it came (`None`: no headers, or none readable).
    pub status: Option<Vec<u8>>,
}

impl Reply {
    /// Reads the status (when there were headers).
    pub fn read(port: &impl HostPort, headers: usize, body_size: usize) -> Reply {
        let status = if headers == 0 { None } else { port.reply_status() };
        Reply {
            headers,
            body_size,
            status,
        }
    }

    /// The body when it is at most `max_body` bytes.
    pub fn body(&self, port: &impl HostPort, max_body: usize) -> Option<Vec<u8>> {
        (self.body_size <= max_body).then(|| port.reply_body(self.body_size).unwrap_or_default())
    }

    /// The reply as a bounded consumer reads it: a failure known from the head, or the status and the
    /// whole body (read only then).
    pub fn answer(&self, port: &impl HostPort, max_body: usize) -> Answer {
        let head = callout::before_body(self.headers, self.status.as_deref(), self.body_size, max_body);
        let body = match head {
            Ok(_) if self.body_size > 0 => port.reply_body(self.body_size),
            _ => None,
        };
        callout::answer(head, body)
    }
}
