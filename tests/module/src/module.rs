//! The compiled module, for the harness tests.

use std::sync::OnceLock;

use predictor_router_e2e::envoy::wasm_module;

/// The bytes of `dist/predictor_router.wasm` (read once per test binary).
pub fn module_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(wasm_module()).expect("read the compiled module"))
}
