//! The fixed price of any Rust-SDK filter in Envoy: every callback exported, none doing anything.
#![cfg(target_arch = "wasm32")]

use proxy_wasm::traits::{Context, HttpContext};

struct Stream;

impl Context for Stream {}
impl HttpContext for Stream {}

floor_common::floor_filter!(Stream);
