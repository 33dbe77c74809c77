//! Signed overrides through the compiled module (wasm-test-harness): the key set read from the VM's
//! environment over WASI `environ_get`, tokens checked against the host clock, and the log line of a
//! missing or broken key set, which names the variable and never a key.

use predictor_router::router::signing::{mint, KeySet};
use predictor_router_e2e::scenario::{predict_path, seed_plugin_config};
use predictor_router_module_tests::module::module_bytes;
use serde_json::{json, Value};
use wasm_test_harness::{Host, LogLevel, StartError};

const VARIABLE: &str = "PREDICTOR_ROUTER_KEYS";
/// Two keys (32 and 48 bytes), as `openssl rand -base64 32 | tr '+/' '-_'` would make them.
const KEYS: &str = "q1V4yYkVrTn9o6d0U1cVf2cJ8n3Xb6m4S1tWcQ2Zr0E=,Z9yT-2P_4fQ8sL1kN0vR7xW3bC6dE5hJ2mA8uI4oK1gH7jS3lD9fG0zX6cV5bN4m";
/// The harness clock starts at 2026-01-01T00:00:00Z.
const HARNESS_NOW: u64 = 1_767_225_600;

fn signed_config() -> Value {
    let mut config = seed_plugin_config();
    config["signing"] = json!({"keys_env": VARIABLE});
    config["experiments"][0]["override"]["signed"] = json!(true);
    config
}

fn token(predictor: &str, expiry: u64) -> String {
    mint(
        &KeySet::parse(KEYS).unwrap(),
        "fraud-detection",
        predictor,
        expiry,
    )
    .unwrap()
}

/// The predictor routed to, and how many override_rejected counts the request added.
fn routed_with(host: &mut Host, header: Option<&str>, path: &str) -> (String, u64) {
    host.tick().unwrap(); // hand the batched counts to the host
    let rejected = host.counter("predictor_router.fraud-detection.override_rejected");
    let mut request = host.request().path(path);
    if let Some(value) = header {
        request = request.header("x-predictor-override", value);
    }
    let e = request.send().unwrap();
    let routed = e.upstream_header("x-predictor").unwrap();
    host.tick().unwrap(); // hand the batched counts to the host
    (
        routed,
        host.counter("predictor_router.fraud-detection.override_rejected") - rejected,
    )
}

#[test]
fn keys_from_the_vm_environment_let_a_minted_token_force_and_refuse_a_plain_name() {
    let mut host = Host::new(module_bytes())
        .with_config(signed_config().to_string())
        .env("OTHER", "x")
        .env(VARIABLE, &format!(" {KEYS}\n"))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let info: Vec<String> = host
        .logs_at_least(LogLevel::Info)
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert!(
        info.iter()
            .any(|l| l.contains("signed overrides verify with 2 key(s) from PREDICTOR_ROUTER_KEYS")),
        "{info:?}"
    );
    let valid = token("rf", HARNESS_NOW + 3600);
    let header_forced = (0..20)
        .map(|_| routed_with(&mut host, Some(&valid), predict_path()))
        .collect::<Vec<_>>();
    assert!(
        header_forced.iter().all(|r| r == &("rf".to_string(), 0)),
        "{header_forced:?}"
    );
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(
        host.counter("predictor_router.fraud-detection.rf.decision.forced"),
        20
    );

    // Through the query parameter too (the seed names `predictor`).
    let path = format!("{}?predictor={}", predict_path(), token("xgb", HARNESS_NOW + 60));
    assert_eq!(routed_with(&mut host, None, &path), ("xgb".to_string(), 0));

    // A plain predictor name forces nothing and is counted as rejected.
    for _ in 0..10 {
        let (_, rejected) = routed_with(&mut host, Some("rf"), predict_path());
        assert_eq!(rejected, 1);
    }
    host.tick().unwrap(); // hand the batched counts to the host
    assert_eq!(
        host.counter("predictor_router.fraud-detection.override_rejected"),
        10
    );
    assert_eq!(
        host.counter("predictor_router.fraud-detection.rf.decision.forced"),
        20
    );
}

#[test]
fn a_token_expires_on_the_host_clock() {
    let mut host = Host::new(module_bytes())
        .with_config(signed_config().to_string())
        .env(VARIABLE, KEYS)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let short = token("rf", HARNESS_NOW + 30);
    assert_eq!(routed_with(&mut host, Some(&short), predict_path()).1, 0);
    host.advance_clock(31 * 1_000_000_000);
    assert_eq!(
        routed_with(&mut host, Some(&short), predict_path()).1,
        1,
        "expired after 30 s"
    );
}

fn rejection_log(environment: &[(&str, &str)]) -> String {
    let mut builder = Host::new(module_bytes()).with_config(signed_config().to_string());
    for (name, value) in environment {
        builder = builder.env(name, value);
    }
    match builder.start() {
        Err(StartError::ConfigurationRejected { logs }) => {
            let errors: Vec<String> = logs
                .iter()
                .filter(|l| l.level == LogLevel::Error)
                .map(|l| l.message.clone())
                .collect();
            assert_eq!(errors.len(), 1, "one error line: {logs:?}");
            let all = logs
                .iter()
                .map(|l| l.message.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(!all.contains("q1V4yYkVrTn9o6d0"), "a key reached the log:\n{all}");
            errors[0].clone()
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("the configuration was accepted"),
    }
}

#[test]
fn a_missing_or_broken_key_set_is_refused_with_the_variable_named_and_no_key_logged() {
    let unset = rejection_log(&[]);
    assert!(
        unset.starts_with("predictor_router: invalid configuration: signing.keys_env: the environment variable PREDICTOR_ROUTER_KEYS is not set"),
        "{unset}"
    );
    let short = rejection_log(&[(VARIABLE, "q1V4yYkVrTn9o6d0U1cVf2cJ8n3Xb6m4S1tWcQ2Z")]);
    assert!(
        short.contains("signing.keys_env: key 1 of PREDICTOR_ROUTER_KEYS decodes to 30 bytes"),
        "{short}"
    );
    let empty = rejection_log(&[(VARIABLE, "")]);
    assert!(
        empty.contains("signing.keys_env: the environment variable PREDICTOR_ROUTER_KEYS is empty"),
        "{empty}"
    );
}
