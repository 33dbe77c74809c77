//! The one port through which the worker's protocols reach their host: shared data with its
//! compare-and-swap versions, callouts and their replies, metrics, the shadow's wake-up queue, the
//! timer, log lines and the clock. The proxy-wasm adapter implements it with hostcalls
//! (`crate::host::port`); native tests with an in-memory Envoy ([`super::memory`]).
//!
//! Every method takes `&self`: the host has no Rust-side state to borrow, and a protocol can call the
//! port while it holds its own state mutably.

use std::fmt;

use crate::router::callout::CalloutPlan;

/// Why the host refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// A shared-data write lost the race: another worker wrote the key since it was read.
    CasMismatch,
    /// Any other refusal, as the host named it.
    Refused(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::CasMismatch => f.write_str("CasMismatch"),
            PortError::Refused(why) => f.write_str(why),
        }
    }
}

/// The level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
}

pub trait HostPort {
    /// The host clock (nanoseconds since the Unix epoch); `None` when the host does not answer.
    fn now_nanos(&self) -> Option<u64>;

    /// A shared-data value with its compare-and-swap version; `Ok(None)` when the key does not exist.
    fn shared_data(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, PortError>;
    /// Writes `value` if the key's version is still `cas` (`0`: unconditionally).
    fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), PortError>;

    /// Sends a callout; its token, whose reply comes back to the root context that sent it.
    fn dispatch(&self, plan: &CalloutPlan) -> Result<u32, PortError>;
    /// During a reply: its `:status` (when it had headers).
    fn reply_status(&self) -> Option<Vec<u8>>;
    /// During a reply: its body (`size` bytes, as announced).
    fn reply_body(&self, size: usize) -> Option<Vec<u8>>;

    /// Defines a counter (idempotent for a name); `None` when the host refuses.
    fn define_counter(&self, name: &str) -> Option<u32>;
    fn increment_counter(&self, id: u32, amount: u64);
    fn define_gauge(&self, name: &str) -> Option<u32>;
    fn record_gauge(&self, id: u32, value: u64);

    /// Registers a shared queue by name; its first registrant is woken (`on_queue_ready`) on its own
    /// worker.
    fn register_queue(&self, name: &str) -> Result<u32, PortError>;
    /// Posts a wake-up on `queue`; whether the host took it.
    fn enqueue(&self, queue: u32) -> bool;
    /// Takes one message off `queue`; whether there was one.
    fn dequeue(&self, queue: u32) -> bool;

    /// The period of the worker's tick.
    fn set_tick_period(&self, milliseconds: u32) -> Result<(), PortError>;

    /// A log line; formatted only when the host logs at `level`.
    fn log(&self, level: Level, line: fmt::Arguments<'_>);
}
