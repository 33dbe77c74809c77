//! The compiled module (dist/predictor_router.wasm) through wasm-test-harness with arbitrary
//! requests: no trap, and only configured predictor names in the headers it writes.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_test_harness::Host;

const CONFIG: &str = r#"{"experiments":[{"name":"fraud-detection","match":{"path_prefix":"/seldon/default/fraud-detection/"},"predictors":[{"name":"xgb","weight":50},{"name":"rf","weight":50},{"name":"shadow","weight":0}],"sticky":{"user_header":"x-user-id"},"override":{"query_param":"predictor"}},{"name":"other","match":{"hosts":["*.example.org"]},"routing_header":"x-model","predictors":[{"name":"v1","weight":1}]}]}"#;

thread_local! {
    static HOST: RefCell<Host> = RefCell::new({
        let path = std::env::var("PREDICTOR_ROUTER_WASM").unwrap_or_else(|_| "../../dist/predictor_router.wasm".into());
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make build`)"));
        Host::new(wasm).with_config(CONFIG).workers(2).start().expect("the fuzz configuration is valid")
    });
}

#[derive(Arbitrary, Debug)]
struct Input {
    authority: String,
    path_tail: Vec<u8>,
    headers: Vec<(u8, Vec<u8>)>,
    status: u16,
}

const NAMES: [&str; 7] = ["cookie", "x-predictor-override", "x-user-id", "x-predictor", "x-model", "cookie", "x-other"];

fuzz_target!(|input: Input| {
    let mut path = b"/seldon/default/fraud-detection/".to_vec();
    path.extend(input.path_tail.iter().filter(|b| b.is_ascii_graphic()));
    let path = String::from_utf8_lossy(&path).into_owned();
    HOST.with(|host| {
        let mut host = host.borrow_mut();
        let mut request = host.request().authority(&input.authority.replace(['\r', '\n', '\0'], "")).path(&path)
            .upstream_status(input.status % 600);
        for (k, v) in input.headers.iter().take(12) {
            let clean: Vec<u8> = v.iter().copied().filter(|b| !matches!(b, b'\r' | b'\n' | 0)).collect();
            request = request.header(NAMES[usize::from(*k) % NAMES.len()], clean);
        }
        let exchange = request.send().unwrap_or_else(|trap| panic!("{trap}"));
        for value in exchange.upstream_header_values("x-predictor") {
            assert!([&b"xgb"[..], b"rf", b"shadow"].contains(&value.as_slice()), "routed to {value:?}");
        }
        for value in exchange.upstream_header_values("x-model") {
            assert!(value == b"v1", "routed to {value:?}");
        }
    });
});
