//! The compiled module (dist/predictor_router.wasm) through wasm-test-harness with arbitrary
//! requests: no trap, and only configured predictor names in the headers it writes.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_test_harness::Host;

const CONFIG: &str = r#"{"experiments":[{"name":"fraud-detection","match":{"path_prefix":"/seldon/default/fraud-detection/"},"predictors":[{"name":"xgb","weight":50},{"name":"rf","weight":50},{"name":"shadow","weight":0}],"sticky":{"user_header":"x-user-id"},"override":{"query_param":"predictor"},"adaptive":{"policy":"thompson","reward":"feedback","feedback_path":"/seldon/default/fraud-detection/api/v1.0/feedback","update_seconds":1,"min_outcomes":2}},{"name":"other","match":{"hosts":["*.example.org"]},"routing_header":"x-model","predictors":[{"name":"v1","weight":1}]}]}"#;

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
    /// A request body (feedback bodies of the adaptive experiment are parsed).
    body: Vec<u8>,
    /// Run the workers' ticks after the request (merges, estimates).
    tick: bool,
}

const NAMES: [&str; 7] = ["cookie", "x-predictor-override", "x-user-id", "x-predictor", "x-model", "cookie", "x-other"];

fuzz_target!(|input: Input| {
    let mut path = b"/seldon/default/fraud-detection/".to_vec();
    if input.path_tail.first() == Some(&b'f') {
        path.extend_from_slice(b"api/v1.0/feedback");
    }
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
        let exchange = request.body(&input.body).send().unwrap_or_else(|trap| panic!("{trap}"));
        for value in exchange.upstream_header_values("x-predictor") {
            assert!([&b"xgb"[..], b"rf", b"shadow"].contains(&value.as_slice()), "routed to {value:?}");
        }
        for value in exchange.upstream_header_values("x-model") {
            assert!(value == b"v1", "routed to {value:?}");
        }
        if input.tick {
            host.advance_clock(600_000_000);
            host.tick().unwrap_or_else(|trap| panic!("{trap}"));
        }
    });
});
