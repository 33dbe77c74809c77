//! The worker: everything one Envoy worker does besides planning a request, as protocols over one
//! [`HostPort`] — the configuration in service and its batched counters ([`state`]), the tick
//! ([`tick`], [`root`]), the adaptive learners and rollouts and the merge of their outcomes through
//! shared data ([`learning`], [`rollout`], [`merge`]), the pooled view's claim and answer protocol
//! ([`pooled`]), the shadow's copies and pairs ([`shadow`]), the callout registry ([`callouts`]) and the
//! one compare-and-swap helper they share ([`cas`]).
//!
//! The proxy-wasm adapter (`crate::host`) implements the port with hostcalls and forwards the ABI's
//! callbacks here; native tests run two and more workers against the in-memory Envoy of [`memory`].

pub mod callouts;
pub mod cas;
pub mod gauge;
pub mod learning;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod merge;
pub mod pooled;
pub mod port;
pub mod rollout;
pub mod root;
pub mod shadow;
pub mod state;
pub mod tick;

pub use port::{HostPort, Level, PortError};
pub use root::WorkerRoot;
pub use state::RouterState;
