//! Property runs through the compiled module (wasm-test-harness): arbitrary bytes in every input the
//! filter reads never trap it, and only configured predictor names ever come out.

use std::cell::RefCell;

use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::scenario::seed_plugin_config;
use predictor_router_module_tests::module::module_bytes;
use proptest::prelude::*;
use wasm_test_harness::{Host, LogLevel};

thread_local! {
    // One host for the whole run: the module's memory must also survive many strange requests in a row.
    static HOST: RefCell<Host> = RefCell::new(
        Host::new(module_bytes()).with_config(seed_plugin_config().to_string()).workers(2).start().unwrap()
    );
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    // Header values cannot contain CR, LF or NUL in Envoy; everything else may arrive.
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF/NUL", |b| !matches!(b, b'\r' | b'\n' | 0)),
        0..max,
    )
}

fn cookie_lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let piece = prop_oneof![
        bytes(40),
        Just(b"pr-fraud-detection=rf".to_vec()),
        Just(b"pr-fraud-detection=\"xgb\"".to_vec()),
        Just(b"pr-fraud-detection=".to_vec()),
        Just(b" ; = ;;".to_vec()),
    ];
    prop::collection::vec(
        prop::collection::vec(piece, 0..4).prop_map(|p| p.join(&b"; "[..])),
        0..4,
    )
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(predict_path().to_string()),
        "/seldon/default/fraud-detection/[a-z/]{0,8}\\?(predictor=[a-z%0-9+]{0,6}&?){0,3}",
        "/[ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_request_bytes_only_ever_produce_configured_names(
        authority in prop_oneof![Just(b"models.example.com".to_vec()), bytes(40)],
        path in path(),
        cookies in cookie_lines(),
        override_value in prop_oneof![Just(b"rf".to_vec()), Just(b"xgb".to_vec()), bytes(20)],
        user in prop::option::of(bytes(60)),
        spoof in prop::option::of(bytes(20)),
        status in 100u16..600,
    ) {
        let names = ["xgb", "rf"];
        HOST.with(|host| {
            let mut host = host.borrow_mut();
            let mut request = host.request().authority(&String::from_utf8_lossy(&authority)).path(&path)
                .header("x-predictor-override", &override_value).upstream_status(status);
            for line in &cookies {
                request = request.cookie(line);
            }
            if let Some(user) = &user {
                request = request.header("x-user-id", user);
            }
            if let Some(spoof) = &spoof {
                request = request.header("x-predictor", spoof);
            }
            let e = request.send().map_err(|trap| TestCaseError::fail(trap.to_string()))?;
            let routed = e.upstream_header_values("x-predictor");
            prop_assert!(routed.len() <= 1, "at most one routing header: {:?}", routed);
            for value in &routed {
                prop_assert!(names.iter().any(|n| n.as_bytes() == value.as_slice()), "routed to {:?}", value);
            }
            if let Some(reported) = e.response_header("x-predictor") {
                prop_assert!(names.contains(&reported.as_str()), "reported {reported:?}");
            }
            for cookie in e.response_header_values("set-cookie") {
                let allowed = names.map(|n| format!("pr-fraud-detection={n}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"));
                prop_assert!(allowed.contains(&cookie), "set-cookie {cookie:?}");
            }
            prop_assert!(host.logs_at_least(LogLevel::Warn).is_empty(), "{:?}", host.logs_at_least(LogLevel::Warn));
            Ok(())
        })?;
    }
}
