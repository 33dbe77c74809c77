//! The compiled module, for the harness tests.

use std::sync::OnceLock;

use crate::envoy::wasm_module;

/// The bytes of `dist/predictor_router.wasm` (read once per test binary).
pub fn module_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(wasm_module()).expect("read the compiled module"))
}

/// The standard mix of requests for memory and soak figures, by index: a new visitor (random), a
/// returning visitor with a cookie (sticky), a user with an id (hashed), a tester (forced).
pub fn mixed_request(host: &mut wasm_test_harness::Host, i: u64) -> wasm_test_harness::RequestBuilder<'_> {
    let request = host
        .request()
        .path("/seldon/default/fraud-detection/api/v1.0/predictions")
        .body("{}");
    match i % 4 {
        0 => request,
        1 => request.cookie(format!(
            "session=abc; pr-fraud-detection={}",
            if i % 8 == 1 { "rf" } else { "xgb" }
        )),
        2 => request.header("x-user-id", format!("user-{i}")),
        _ => request.header("x-predictor-override", "rf"),
    }
}
