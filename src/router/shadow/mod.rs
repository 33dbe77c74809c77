//! Shadow comparison (contract "Shadow comparison"), pure: which requests are copied ([`sample`]), where the
//! copy goes ([`path`]), what an answer says ([`answer`], read by protocol: [`seldon`], [`oip`],
//! [`kserve_v1`]), and the one outcome of a pair of answers ([`compare`]). The host copies bodies,
//! sends the copy and counts; every rule is here.
//!
//! Why the host dispatches copies from the root context: in Envoy, `proxy_http_call` is owned by the root context
//! (proxy-wasm-cpp-host retargets it to `contextOrEffectiveContext()->root_context()`), so a copy is
//! not cancelled when its stream ends and its answer arrives as the root's `on_http_call_response`.
//! The Rust SDK (0.2.5) maps the token to the context active at dispatch, though, and drops the answer
//! when that stream has been deleted: a copy must be dispatched from a root-context callback (woken
//! through a per-worker shared queue's `on_queue_ready`), or the pairs whose client left first are lost.

pub mod answer;
pub mod compare;
pub mod copy;
pub mod kserve_v1;
pub mod oip;
pub mod pair;
pub mod path;
pub mod sample;
pub mod seldon;

/// Request and response bodies are copied up to this many bytes; a larger request is not copied
/// (`skipped`), a larger answer is not compared.
pub const MAX_COPY_BYTES: usize = 1024 * 1024;
