//! predictor-router: a proxy-wasm HTTP filter that picks a model predictor per request (weighted,
//! sticky by cookie or user id, forceable by header or query), writes it into a routing header for an
//! Istio `VirtualService`, and reports it back.
//!
//! Two layers:
//! - [`router`]: the pure decision core, native and exhaustively tested;
//! - `host` (wasm32 only): the thin proxy-wasm adapter that talks to Envoy.

pub mod router;

#[cfg(target_arch = "wasm32")]
mod host;
