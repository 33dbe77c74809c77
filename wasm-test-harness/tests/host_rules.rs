//! The harness's Envoy rules, checked with a tiny probe module (WAT) that reports the status of each
//! hostcall in its log as `<tag>:<status>`.

use wasm_test_harness::{FailurePolicy, HeaderMap, Host, LogLevel, OnTrap, StartError};

const PROBE: &str = r#"
(module
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 0) "x-a")
  (data (i32.const 16) "x-status")
  (data (i32.const 32) "panic: boom")
  (data (i32.const 64) "x-trap")
  (data (i32.const 80) "x-share")
  (data (i32.const 96) "x-read")
  (data (i32.const 112) "clear_route_cache")
  (data (i32.const 136) "nope")
  (func (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func $status (param $tag i32) (param $s i32)
    (i32.store8 (i32.const 200) (local.get $tag))
    (i32.store8 (i32.const 201) (i32.const 58))
    (i32.store8 (i32.const 202) (i32.add (i32.const 48) (local.get $s)))
    (drop (call $log (i32.const 2) (i32.const 200) (i32.const 3))))
  (func $has (param $name i32) (param $len i32) (result i32)
    (i32.eqz (call $get (i32.const 0) (local.get $name) (local.get $len) (i32.const 416) (i32.const 420))))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $status (i32.const 99) (call $buf (i32.const 7) (i32.const 0) (local.get $size) (i32.const 408) (i32.const 412)))
    (i32.ne (local.get $size) (i32.const 6)))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $s i32)
    (local.set $s (call $get (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 400) (i32.const 404)))
    (call $status (i32.const 114) (local.get $s))
    (if (i32.eqz (local.get $s))
      (then
        (if (i32.eqz (i32.load (i32.const 404)))
          (then (call $status (i32.const 122) (i32.eqz (i32.load (i32.const 400)))))
          (else (drop (call $log (i32.const 2) (i32.load (i32.const 400)) (i32.load (i32.const 404))))))))
    (call $status (i32.const 67) (call $buf (i32.const 7) (i32.const 0) (i32.const 100) (i32.const 408) (i32.const 412)))
    (call $status (i32.const 102) (call $foreign (i32.const 112) (i32.const 17) (i32.const 0) (i32.const 0) (i32.const 424) (i32.const 428)))
    (call $status (i32.const 70) (call $foreign (i32.const 136) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 424) (i32.const 428)))
    (if (call $has (i32.const 80) (i32.const 7))
      (then (call $status (i32.const 115) (call $set_shared (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3) (i32.const 0)))))
    (if (call $has (i32.const 96) (i32.const 6))
      (then
        (call $status (i32.const 83) (call $get_shared (i32.const 0) (i32.const 3) (i32.const 432) (i32.const 436) (i32.const 440)))
        (drop (call $log (i32.const 2) (i32.load (i32.const 432)) (i32.load (i32.const 436))))))
    (if (call $has (i32.const 64) (i32.const 6))
      (then (drop (call $log (i32.const 5) (i32.const 32) (i32.const 11))) unreachable))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const 82) (call $get (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 400) (i32.const 404)))
    (call $status (i32.const 87) (call $add (i32.const 2) (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 3)))
    (call $status (i32.const 119) (call $add (i32.const 0) (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 3)))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32)
    (call $status (i32.const 76) (call $get (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 400) (i32.const 404)))
    (call $status (i32.const 108) (call $add (i32.const 0) (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 3))))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)
"#;

fn probe() -> Host {
    Host::new(PROBE)
        .with_config("ok")
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn info_logs(host: &Host) -> Vec<String> {
    host.logs()
        .into_iter()
        .filter(|l| l.level == LogLevel::Info)
        .map(|l| l.message)
        .collect()
}

#[test]
fn lifecycle_phases_and_statuses_follow_envoy() {
    let mut host = probe();
    let e = host.request().header("X-A", "hello").send().unwrap();
    assert_eq!(
        info_logs(&host),
        [
            "c:0", // on_configure reads the plugin configuration (the canary's log is kept only if it refuses)
            "r:0",
            "hello", // request headers readable in their phase, handed over through malloc, key lowercased
            "C:1",   // plugin configuration outside on_configure: NotFound
            "f:0",   // clear_route_cache exists
            "F:1",   // an unknown foreign function: NotFound
            "R:2",   // request headers in the response phase: BadArgument
            "W:0",   // response headers writable in their phase
            "w:2",   // request headers not writable then: BadArgument
            "L:0",   // on_log reads the request headers (the access-log copy)
            "l:2",   // but cannot write them
        ]
    );
    assert_eq!(e.response_header("x-status").as_deref(), Some("x-a"));
    assert_eq!(e.route_cache_clears(), 1);
    assert_eq!(e.upstream_header("x-a").as_deref(), Some("hello"));
    assert_eq!(
        e.fuel.callbacks(),
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_response_headers",
            "proxy_on_log",
            "proxy_on_done",
            "proxy_on_delete"
        ]
    );
}

#[test]
fn empty_values_come_back_as_pointer_zero() {
    let mut host = probe();
    host.request().header("x-a", "").send().unwrap();
    assert!(
        info_logs(&host).contains(&"z:1".to_string()),
        "{:?}",
        info_logs(&host)
    );
}

#[test]
fn a_refused_configuration_fails_in_the_canary_with_its_log() {
    match Host::new(PROBE).with_config("reject").start() {
        Err(StartError::ConfigurationRejected { logs }) => assert_eq!(logs.len(), 1),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a refused configuration started"),
    }
    let mut host = probe();
    assert!(host.reconfigure("reject").is_err());
    assert!(host.reconfigure("fine!").is_ok());
}

#[test]
fn unknown_imports_fail_instantiation_by_name() {
    let module = r#"(module (import "env" "proxy_teleport" (func (param i32) (result i32))) (memory (export "memory") 1))"#;
    match Host::new(module).start() {
        Err(StartError::UnknownImports(names)) => assert_eq!(names, ["env.proxy_teleport"]),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("instantiated a module with an unknown import"),
    }
}

#[test]
fn a_trap_fails_with_the_panic_message() {
    let mut host = probe();
    let trap = host.request().header("x-trap", "1").send().unwrap_err();
    assert_eq!(trap.callback, "proxy_on_request_headers");
    assert_eq!(trap.panic_message.as_deref(), Some("panic: boom"));
    assert!(trap.to_string().contains("panic: boom"));
}

#[test]
fn failure_policies_are_simulated() {
    for policy in [
        FailurePolicy::FailClosed,
        FailurePolicy::FailOpen,
        FailurePolicy::FailReload,
    ] {
        let mut host = Host::new(PROBE)
            .with_config("ok")
            .on_trap(OnTrap::Simulate(policy))
            .start()
            .unwrap();
        let failed = host.request().header("x-trap", "1").send().unwrap();
        assert!(failed.trap.is_some());
        let next = host.request().header("x-a", "after").send().unwrap();
        match policy {
            FailurePolicy::FailClosed => {
                assert_eq!(failed.status(), 503);
                assert_eq!(
                    (next.status(), next.filter_ran),
                    (503, false),
                    "fail closed: 503 until reconfigured"
                );
            }
            FailurePolicy::FailOpen => {
                assert_eq!(failed.status(), 503, "the trapping request itself fails");
                assert!(!next.filter_ran, "fail open: the filter is skipped");
                assert_eq!(next.upstream_header("x-a").as_deref(), Some("after"));
            }
            FailurePolicy::FailReload => {
                assert_eq!(failed.status(), 503);
                assert!(next.filter_ran, "fail reload: a fresh VM serves the next request");
            }
        }
    }
}

#[test]
fn workers_share_data_with_versions() {
    let mut host = Host::new(PROBE).with_config("ok").workers(2).start().unwrap();
    host.request().header("x-share", "1").on_worker(0).send().unwrap();
    host.request().header("x-read", "1").on_worker(1).send().unwrap();
    let logs = info_logs(&host);
    let read = logs
        .iter()
        .position(|l| l == "S:0")
        .expect("worker 1 read the shared data");
    assert_eq!(logs[read + 1], "x-a", "the value worker 0 wrote");
    assert_eq!(host.worker_count(), 2);
    assert_eq!(host.memory_bytes().len(), 2);
}

#[test]
fn header_map_semantics_are_envoys() {
    let mut map = HeaderMap::new();
    map.add("Cookie", b"a=1");
    map.add("cookie", b"b=2");
    assert_eq!(
        map.get("COOKIE"),
        Some(&b"a=1"[..]),
        "get returns the first value, keys lowercased"
    );
    assert_eq!(map.get_all("cookie").len(), 2, "add appends");
    map.add("x", b"1");
    map.replace("cookie", b"c=3");
    assert_eq!(
        map.get_all("cookie"),
        vec![&b"c=3"[..]],
        "replace keeps one value"
    );
    assert_eq!(
        map.iter().next().unwrap().0,
        "cookie",
        "in the first value's place"
    );
    map.replace("new", b"v");
    assert_eq!(map.get("new"), Some(&b"v"[..]), "replace adds when absent");
    map.remove("cookie");
    assert!(map.get("cookie").is_none(), "remove removes every value");
    let round = HeaderMap::deserialize(&map.serialize()).unwrap();
    assert_eq!(round, map);
    assert!(
        HeaderMap::deserialize(&[9, 0, 0, 0]).is_none(),
        "malformed pairs are refused"
    );
}
