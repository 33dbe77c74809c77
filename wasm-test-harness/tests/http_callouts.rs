//! HTTP callouts (`proxy_http_call`) answered by scripted upstreams and delivered through
//! `proxy_on_http_call_response`, checked with a probe module: each tick dispatches one call to the
//! cluster `prometheus` (`GET /q` with a 5-byte body, timeout 100 ms), and each answer is logged as
//! `token`, `headers`, `body size`, `trailers`, then `:status` and the body as the module reads them
//! (or `-` where the read fails).

use wasm_test_harness::{Host, Upstream};

const PROBE: &str = r#"
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $buffer (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "prometheus")
  ;; 3 pairs: :method GET, :path /q, :authority prom
  (data (i32.const 200) "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\02\00\00\00\0a\00\00\00\04\00\00\00:method\00GET\00:path\00/q\00:authority\00prom\00")
  (data (i32.const 300) "0123456789")
  (data (i32.const 320) ":status")
  (data (i32.const 330) "query")
  (data (i32.const 340) "-")
  (global $heap (mut i32) (i32.const 8192))
  (func (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func $digit (param $n i32)
    (drop (call $log (i32.const 2) (i32.add (i32.const 300) (local.get $n)) (i32.const 1))))
  (func $dash (drop (call $log (i32.const 2) (i32.const 340) (i32.const 1))))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    ;; headers at 200 (76 bytes), body "query", no trailers, timeout 100 ms, token at 0
    (drop (call $call (i32.const 100) (i32.const 10) (i32.const 200) (i32.const 76)
                      (i32.const 330) (i32.const 5) (i32.const 0) (i32.const 0)
                      (i32.const 100) (i32.const 0))))
  (func (export "proxy_on_http_call_response") (param $ctx i32) (param $token i32) (param $headers i32) (param $body i32) (param $trailers i32)
    (call $digit (local.get $token))
    (call $digit (local.get $headers))
    (call $digit (local.get $body))
    (call $digit (local.get $trailers))
    ;; :status into (16, 20)
    (if (i32.eqz (call $header (i32.const 6) (i32.const 320) (i32.const 7) (i32.const 16) (i32.const 20)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 16)) (i32.load (i32.const 20)))))
      (else (call $dash)))
    ;; the body into (24, 28)
    (if (i32.eqz (call $buffer (i32.const 4) (i32.const 0) (local.get $body) (i32.const 24) (i32.const 28)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 24)) (i32.load (i32.const 28)))))
      (else (call $dash))))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)
"#;

fn host() -> Host {
    Host::new(PROBE)
        .with_config("{}")
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The log lines since `from`.
fn lines_since(host: &Host, from: usize) -> Vec<String> {
    host.logs().into_iter().skip(from).map(|l| l.message).collect()
}

#[test]
fn a_dispatched_call_is_recorded_with_its_cluster_headers_body_and_timeout() {
    let mut host = host();
    host.tick().unwrap();
    let callouts = host.callouts();
    assert_eq!(callouts.len(), 1);
    let call = &callouts[0];
    assert_eq!(call.upstream, "prometheus");
    assert_eq!(call.kind, "http");
    assert_eq!(call.headers.get_str(":path").as_deref(), Some("/q"));
    assert_eq!(call.headers.get_str(":authority").as_deref(), Some("prom"));
    assert_eq!(call.body, b"query");
    assert_eq!(call.timeout_ms, 100);
    assert!(!call.from_stream, "dispatched from the root context's tick");
    // No script for the cluster: it stays pending.
    assert_eq!(host.deliver_callouts().unwrap(), 0);
    assert_eq!(host.callouts().len(), 1);
}

#[test]
fn a_response_is_delivered_with_its_status_and_body_readable() {
    let mut host = host();
    host.upstream("prometheus", Upstream::respond(200, "{\"ok\":1}"));
    host.tick().unwrap();
    let from = host.logs().len();
    assert_eq!(host.deliver_callouts().unwrap(), 1);
    // token 1; headers :status and content-length; 8 body bytes; no trailers.
    assert_eq!(
        lines_since(&host, from),
        ["1", "2", "8", "0", "200", "{\"ok\":1}"]
    );
    assert!(
        host.callouts().is_empty(),
        "an answered call is no longer pending"
    );
    assert_eq!(host.deliver_callouts().unwrap(), 0, "answered once");
}

#[test]
fn the_answer_is_readable_only_while_the_response_callback_runs() {
    let mut host = host();
    host.upstream("prometheus", Upstream::respond(503, "busy"));
    host.tick().unwrap();
    host.deliver_callouts().unwrap();
    // The next tick's call has no answer to read yet; a failure delivers nothing readable.
    host.upstream("prometheus", Upstream::Fail);
    host.tick().unwrap();
    let from = host.logs().len();
    assert_eq!(host.deliver_callouts().unwrap(), 1);
    assert_eq!(lines_since(&host, from), ["2", "0", "0", "0", "-", "-"]);
}

#[test]
fn a_delayed_response_waits_for_the_clock_and_one_past_the_timeout_fails() {
    let mut host = host();
    host.upstream("prometheus", Upstream::respond(200, "late").after_ms(50));
    host.tick().unwrap();
    assert_eq!(host.deliver_callouts().unwrap(), 0, "not due yet");
    host.advance_clock(49_000_000);
    assert_eq!(host.deliver_callouts().unwrap(), 0, "1 ms early");
    host.advance_clock(1_000_000);
    let from = host.logs().len();
    assert_eq!(host.deliver_callouts().unwrap(), 1);
    assert_eq!(lines_since(&host, from)[4..], ["200", "late"]);

    // 150 ms is past the 100 ms timeout: at 100 ms, Envoy's own 504 "upstream request timeout".
    host.upstream("prometheus", Upstream::respond(200, "too late").after_ms(150));
    let lines = answered_at_the_timeout(&mut host);
    // (The probe logs counts as one digit: the 24-byte body's size is not shown.)
    assert_eq!(lines[..2], ["2", "3"]);
    assert_eq!(lines[3..], ["0", "504", "upstream request timeout"]);
}

/// Ticks (the probe calls out with a 100 ms timeout): nothing is answered at 99 ms, one answer at
/// 100 ms; the probe's lines about it.
fn answered_at_the_timeout(host: &mut Host) -> Vec<String> {
    host.tick().unwrap();
    host.advance_clock(99_000_000);
    assert_eq!(host.deliver_callouts().unwrap(), 0);
    host.advance_clock(1_000_000);
    let from = host.logs().len();
    assert_eq!(host.deliver_callouts().unwrap(), 1);
    lines_since(host, from)
}

#[test]
fn a_silent_upstream_times_out_with_envoys_504_at_the_timeout() {
    let mut host = host();
    host.upstream("prometheus", Upstream::Silent);
    let lines = answered_at_the_timeout(&mut host);
    assert_eq!(lines[1], "3");
    assert_eq!(lines[3..], ["0", "504", "upstream request timeout"]);
}
