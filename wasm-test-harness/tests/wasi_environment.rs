//! WASI `environ_sizes_get` / `environ_get`, as Envoy offers them for `vm_config.environment_variables`,
//! checked with a probe module that logs what it reads in `proxy_on_configure`.

use wasm_test_harness::Host;

const PROBE: &str = r#"
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 300) "0123456789")
  (func $digit (param $n i32)
    (drop (call $log (i32.const 2) (i32.add (i32.const 300) (local.get $n)) (i32.const 1))))
  (func (export "malloc") (param i32) (result i32) (i32.const 8192))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    ;; count at 0, size at 4; errno logged as a digit
    (call $digit (call $sizes (i32.const 0) (i32.const 4)))
    (call $digit (i32.load (i32.const 0)))
    ;; pointers at 512, buffer at 1024
    (call $digit (call $get (i32.const 512) (i32.const 1024)))
    ;; the whole buffer, then the entry the second pointer points at (6 bytes: "B=xyz\0" minus NUL)
    (drop (call $log (i32.const 2) (i32.const 1024) (i32.load (i32.const 4))))
    (drop (call $log (i32.const 2) (i32.load (i32.const 516)) (i32.const 5)))
    ;; a pointer outside memory: EFAULT (21), logged as its last digit
    (call $digit (i32.sub (call $get (i32.const 0x7ffffff0) (i32.const 1024)) (i32.const 20)))
    (i32.const 1))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)
"#;

fn logs_with(environment: &[(&str, &str)]) -> Vec<String> {
    let mut builder = Host::new(PROBE).with_config("{}");
    for (name, value) in environment {
        builder = builder.env(name, value);
    }
    let host = builder.start().unwrap_or_else(|e| panic!("{e}"));
    // The canary VM and the worker both configure: the worker's lines are the last six.
    let logs: Vec<String> = host.logs().into_iter().map(|l| l.message).collect();
    logs[logs.len() - 6..].to_vec()
}

#[test]
fn environ_get_hands_over_each_variable_as_name_equals_value_nul() {
    let logs = logs_with(&[("A", "1"), ("B", "xyz")]);
    assert_eq!(
        logs,
        vec!["0", "2", "0", "A=1\0B=xyz\0", "B=xyz", "1"],
        "errno, count, errno, buffer, second entry, EFAULT for a bad pointer"
    );
}

#[test]
fn an_empty_environment_has_no_entries() {
    let logs = logs_with(&[]);
    assert_eq!(&logs[..3], &["0", "0", "0"]);
    assert_eq!(logs[3], "");
}
