//! Shadow comparison on one worker (contract "Shadow comparison"). A sampled request's stream copies the
//! request and the client's answer as they stream past ([`StreamCopy`]); the copy is sent by the
//! worker's root context through the VM's [`ShadowDesk`], and its reply comes back through the root's
//! callout registry; the pair of answers ([`PairSlot`]) is finished by whichever side ends last,
//! exactly once, and counted then.
//!
//! Why the root sends: Envoy owns every `proxy_http_call` on the root context (proxy-wasm-cpp-host
//! retargets it to `root_context()`), so a callout outlives the stream that asked for it and its answer
//! arrives for the root. The Rust SDK (0.2.5), though, maps the token to the context that was active
//! when it dispatched, and drops the answer when that stream has been deleted: a copy sent from the
//! stream would lose every pair whose client left before the shadow answered. So the stream hands the
//! finished copy to the desk and wakes the root through a shared queue that only this worker
//! registered (Envoy posts `on_queue_ready` to the registrant's own worker); the root dispatches, and
//! the SDK maps the token to the root, which never goes away.
//!
//! Nothing here holds the client back: every callback of the stream returns `Continue`, and the
//! stream's only extra work is copying bytes it was handed.

mod desk;
mod slot;
mod stream;

pub use desk::ShadowDesk;
pub use slot::PairSlot;
pub use stream::{status_of, StreamCopy};
