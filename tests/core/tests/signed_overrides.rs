//! Signed overrides (contract "Signed overrides") in the pure core: configuration, key sets, and tokens
//! checked against fixtures made by an independent implementation (Python's hmac and hashlib,
//! `tests/fixtures/signed-overrides/make_tokens.py`).

use predictor_router::router::config::{parse, parse_with_environment, Config, ConfigError};
use predictor_router::router::decision::{decide, Reason};
use predictor_router::router::fake_request::FakeRequest;
use predictor_router::router::signing::{mint, KeyError, KeySet, MAX_TTL_SECONDS};
use predictor_router::router::table::RoutingTable;
use predictor_router_core_tests::shipped::repo_root;
use serde_json::{json, Value};

const VARIABLE: &str = "PREDICTOR_ROUTER_KEYS";

fn fixtures() -> Value {
    let path = repo_root().join("tests/fixtures/signed-overrides/tokens.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn plugin_config(fixtures: &Value, override_rule: Value) -> Value {
    json!({
        "signing": {"keys_env": VARIABLE},
        "experiments": [{
            "name": fixtures["experiment"],
            "predictors": fixtures["predictors"],
            "sticky": {"cookie": ""},
            "override": override_rule
        }]
    })
}

fn parse_in(config: &Value, keys: &str) -> Result<Config, ConfigError> {
    parse_with_environment(config.to_string().as_bytes(), &[(VARIABLE, keys)][..])
}

fn signed_config(fixtures: &Value) -> Config {
    let rule = json!({"header": "x-predictor-override", "query_param": "predictor", "signed": true});
    parse_in(
        &plugin_config(fixtures, rule),
        fixtures["keys_env_value"].as_str().unwrap(),
    )
    .unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn forced_name(config: &Config, request: FakeRequest, path: &str) -> (Option<String>, bool) {
    let experiment = &config.experiments()[0];
    let mut request = request.random(0);
    let decision = decide(experiment, path.as_bytes(), &mut request);
    let name = (decision.reason == Reason::Forced)
        .then(|| experiment.predictors[decision.predictor.index()].name.clone());
    (name, decision.override_rejected)
}

#[test]
fn the_fixtures_are_what_the_python_script_makes() {
    let dir = repo_root().join("tests/fixtures/signed-overrides");
    let status = std::process::Command::new("python3")
        .arg(dir.join("make_tokens.py"))
        .arg("--check")
        .arg(dir.join("tokens.json"))
        .status()
        .expect("python3");
    assert!(status.success(), "tokens.json is stale: run make_tokens.py");
}

#[test]
fn every_fixture_token_forces_exactly_what_the_independent_implementation_says() {
    let fixtures = fixtures();
    let config = signed_config(&fixtures);
    let now = fixtures["now"].as_u64().unwrap();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let value = hex(case["value_hex"].as_str().unwrap());
        let expected = case["forces"].as_str().map(str::to_string);
        let request = FakeRequest::new().header("x-predictor-override", &value).at(now);
        let (forced, rejected) = forced_name(&config, request, "/");
        assert_eq!(forced, expected, "case {name:?}: {:?}", case["value"]);
        // A refused token is a non-empty override that forced nothing: override_rejected.
        assert_eq!(rejected, expected.is_none(), "case {name:?}: override_rejected");
    }
}

#[test]
fn a_valid_token_forces_through_the_query_parameter_too_and_the_header_wins() {
    let fixtures = fixtures();
    let config = signed_config(&fixtures);
    let now = fixtures["now"].as_u64().unwrap();
    let valid = fixtures["cases"][0]["value"].as_str().unwrap().to_string();
    let shadow = fixtures["cases"][1]["value"].as_str().unwrap().to_string();
    let at = |r: FakeRequest| r.at(now);
    assert_eq!(
        forced_name(&config, at(FakeRequest::new()), &format!("/p?predictor={valid}")),
        (Some("rf".to_string()), false)
    );
    assert_eq!(
        forced_name(
            &config,
            at(FakeRequest::new().header("x-predictor-override", &shadow)),
            &format!("/p?predictor={valid}")
        ),
        (Some("shadow".to_string()), false)
    );
    // A refused header, then a valid parameter: forced by the parameter, nothing rejected.
    assert_eq!(
        forced_name(
            &config,
            at(FakeRequest::new().header("x-predictor-override", "rf")),
            &format!("/p?predictor={valid}")
        ),
        (Some("rf".to_string()), false)
    );
}

#[test]
fn the_filter_mints_what_the_independent_implementation_mints() {
    let fixtures = fixtures();
    let keys = KeySet::parse(fixtures["keys_env_value"].as_str().unwrap()).unwrap();
    let now = fixtures["now"].as_u64().unwrap();
    assert_eq!(
        mint(&keys, "fraud-detection", "rf", now + 3600).unwrap(),
        fixtures["cases"][0]["value"].as_str().unwrap(),
        "minted with the first key of the set"
    );
}

#[test]
fn an_expiry_is_any_decimal_u64_up_to_its_20_digits() {
    // The expiry is plain unix seconds: the largest u64 (20 digits) is as good as any, under a clock
    // that has reached it; one more second does not fit and is refused.
    let fixtures = fixtures();
    let config = signed_config(&fixtures);
    let keys = KeySet::parse(fixtures["keys_env_value"].as_str().unwrap()).unwrap();
    let path = "/";
    let now = u64::MAX - 60;
    let token = mint(&keys, "fraud-detection", "rf", u64::MAX).unwrap();
    assert!(token.starts_with("rf.18446744073709551615."), "{token}");
    let request = FakeRequest::new().header("x-predictor-override", &token).at(now);
    assert_eq!(
        forced_name(&config, request, path),
        (Some("rf".to_string()), false)
    );

    let mac = token.rsplit('.').next().unwrap();
    for expiry in ["18446744073709551616", "00000000000000000001", "", "+1", "1e3"] {
        let forged = format!("rf.{expiry}.{mac}");
        let request = FakeRequest::new().header("x-predictor-override", &forged).at(now);
        assert_eq!(
            forced_name(&config, request, path),
            (None, true),
            "expiry {expiry:?}"
        );
    }
}

#[test]
fn the_clock_is_read_only_to_check_a_token() {
    let fixtures = fixtures();
    let signed = signed_config(&fixtures);
    let unsigned = parse(
        json!({"experiments": [{"name": "e", "predictors": [{"name": "a", "weight": 1}]}]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let cases: [(&Config, FakeRequest, usize); 4] = [
        (
            &unsigned,
            FakeRequest::new().header("x-predictor-override", "a"),
            0,
        ),
        (&signed, FakeRequest::new(), 0),
        (&signed, FakeRequest::new().header("x-predictor-override", ""), 0),
        (
            &signed,
            FakeRequest::new().header("x-predictor-override", "rf"),
            1,
        ),
    ];
    for (config, request, reads) in cases {
        let mut request = request.random(0);
        decide(&config.experiments()[0], b"/", &mut request);
        assert_eq!(request.clock_reads, reads);
    }
}

#[test]
fn the_maximum_ttl_is_31_days() {
    assert_eq!(MAX_TTL_SECONDS, 31 * 86_400);
    assert_eq!(fixtures()["max_ttl_seconds"].as_u64(), Some(MAX_TTL_SECONDS));
}

fn key_of(bytes: usize) -> String {
    // base64url without padding of `bytes` bytes of 0xfb (which encodes to `-` and `_` characters).
    use std::fmt::Write;
    let raw = vec![0xfbu8; bytes];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::new();
    for b in raw {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 6 {
            n -= 6;
            out.write_char(alphabet[((bits >> n) & 63) as usize] as char)
                .unwrap();
        }
    }
    if n > 0 {
        out.write_char(alphabet[((bits << (6 - n)) & 63) as usize] as char)
            .unwrap();
    }
    out
}

fn signing_error(keys: Option<&str>) -> ConfigError {
    let config = json!({
        "signing": {"keys_env": VARIABLE},
        "experiments": [{"name": "e", "predictors": [{"name": "a", "weight": 1}]}]
    });
    let result = match keys {
        Some(keys) => parse_in(&config, keys),
        None => parse(config.to_string().as_bytes()),
    };
    result.expect_err("the key set must be refused")
}

#[test]
fn a_bad_key_set_is_an_error_at_signing_keys_env_that_names_the_variable_and_never_the_key() {
    let key31 = key_of(31);
    let key65 = key_of(65);
    let not_base64 = format!("{}+/", &key_of(32)[..40]);
    let cases: Vec<(Option<&str>, &str, Option<&str>)> = vec![
        (None, "is not set", None),
        (Some(""), "is empty", None),
        (Some("  \n"), "is empty", None),
        (
            Some(&not_base64),
            "key 1 of PREDICTOR_ROUTER_KEYS is not base64url",
            Some(&not_base64),
        ),
        (
            Some(&key31),
            "key 1 of PREDICTOR_ROUTER_KEYS decodes to 31 bytes",
            Some(&key31),
        ),
        (
            Some(&key65),
            "key 1 of PREDICTOR_ROUTER_KEYS decodes to 65 bytes",
            Some(&key65),
        ),
    ];
    for (keys, reason, secret) in cases {
        let error = signing_error(keys);
        let line = error.to_string();
        assert_eq!(error.path, "signing.keys_env", "{line}");
        assert!(line.contains(VARIABLE), "the message names the variable: {line}");
        assert!(line.contains(reason), "{line}");
        if let Some(secret) = secret {
            assert!(
                !line.contains(secret),
                "the message must not contain the key: {line}"
            );
            assert!(!line.contains(&secret[..16]), "not even part of it: {line}");
        }
    }
}

#[test]
fn a_rotated_set_is_checked_key_by_key() {
    let good = key_of(32);
    let second_bad = format!("{good},{}", key_of(65));
    let error = signing_error(Some(&second_bad));
    assert!(error
        .to_string()
        .contains("key 2 of PREDICTOR_ROUTER_KEYS decodes to 65 bytes"));
    assert!(!error.to_string().contains(&good));
    let empty_second = format!("{good},");
    assert!(signing_error(Some(&empty_second))
        .to_string()
        .contains("key 2 of PREDICTOR_ROUTER_KEYS is empty"));
    // 32 and 64 bytes are the bounds, padded or not, white space around each ignored.
    let padded64 = format!("{}==", key_of(64));
    let keys = KeySet::parse(&format!(" {} ,\t{padded64}\n", key_of(32))).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        format!("{keys:?}"),
        "KeySet(2 keys)",
        "Debug never shows key bytes"
    );
}

#[test]
fn key_sets_are_equal_when_they_hold_the_same_keys_in_the_same_order() {
    let fixtures = fixtures();
    let spelled = fixtures["keys_env_value"].as_str().unwrap();
    let (first, second) = spelled.split_once(',').unwrap();
    let set = |text: &str| KeySet::parse(text).unwrap();
    assert_eq!(
        set(spelled),
        set(&format!("{}, {}", first.trim(), second.trim())),
        "spelling aside"
    );
    assert_ne!(set(spelled), set(first), "one key fewer");
    assert_ne!(
        set(spelled),
        set(&format!("{second},{first}")),
        "the minting key is the first"
    );
    assert_ne!(set(first), set(second));
    assert_eq!(set(first).len(), 1);
}

#[test]
fn key_errors_are_specific() {
    assert_eq!(KeySet::parse("").unwrap_err(), KeyError::Empty);
    assert_eq!(
        KeySet::parse(&key_of(31)).unwrap_err(),
        KeyError::Length {
            position: 1,
            bytes: 31
        }
    );
    // Trailing bits that another spelling would carry: not canonical base64url.
    let mut non_canonical = key_of(32);
    non_canonical.pop();
    non_canonical.push('9');
    assert_eq!(
        KeySet::parse(&non_canonical).unwrap_err(),
        KeyError::NotBase64Url { position: 1 }
    );
}

#[test]
fn the_configuration_keeps_the_signing_variable_and_its_keys_for_the_host() {
    // The adapter logs the variable and the number of keys from here when a configuration is taken.
    let fixtures = fixtures();
    let config = signed_config(&fixtures);
    let signing = config.signing().expect("signing is configured");
    assert_eq!(signing.keys_env, VARIABLE);
    assert_eq!(signing.keys.len(), 2);
    let table = RoutingTable::new(config);
    assert_eq!(table.signing().map(|s| s.keys_env.as_str()), Some(VARIABLE));

    let unsigned = parse(br#"{"experiments": [{"name": "e", "predictors": [{"name": "a", "weight": 1}]}]}"#);
    assert!(unsigned.unwrap().signing().is_none());
}

#[test]
fn signing_is_checked_even_when_no_experiment_is_signed() {
    // The experiment in signing_error() has no `signed`: the unset variable is still an error.
    assert_eq!(signing_error(None).path, "signing.keys_env");
}

#[test]
fn signed_without_signing_is_an_error_at_its_path() {
    let config = json!({"experiments": [
        {"name": "a", "predictors": [{"name": "x", "weight": 1}]},
        {"name": "b", "predictors": [{"name": "x", "weight": 1}], "override": {"signed": true}}
    ]});
    let error = parse(config.to_string().as_bytes()).unwrap_err();
    assert_eq!(error.path, "experiments[1].override.signed");
    assert!(error.to_string().contains("signing"), "{error}");
    // `signed: false` needs nothing.
    let config = json!({"experiments": [{"name": "b", "predictors": [{"name": "x", "weight": 1}], "override": {"signed": false}}]});
    assert!(parse(config.to_string().as_bytes()).is_ok());
}

#[test]
fn signing_fields_are_checked() {
    let keys = key_of(32);
    let cases = [
        (
            json!({"keys_env": "1BAD"}),
            "signing.keys_env",
            "not an environment variable name",
        ),
        (
            json!({"keys_env": ""}),
            "signing.keys_env",
            "not an environment variable name",
        ),
        (
            json!({"keys_env": VARIABLE, "key": "x"}),
            "signing.key",
            "unknown field `key`",
        ),
        (json!({}), "signing", "missing field `keys_env`"),
        (json!([]), "signing", "a signing object"),
    ];
    for (signing, path, reason) in cases {
        let config = json!({"signing": signing, "experiments": [{"name": "e", "predictors": [{"name": "a", "weight": 1}]}]});
        let error = parse_in(&config, &keys).unwrap_err();
        assert_eq!(error.path, path, "{error}");
        assert!(error.to_string().contains(reason), "{error}");
    }
}

#[test]
fn a_signed_experiment_with_overrides_disabled_forces_nothing() {
    let fixtures = fixtures();
    let rule = json!({"signed": true, "enabled": false});
    let config = parse_in(
        &plugin_config(&fixtures, rule),
        fixtures["keys_env_value"].as_str().unwrap(),
    )
    .unwrap();
    let valid = fixtures["cases"][0]["value"].as_str().unwrap();
    let request = FakeRequest::new()
        .header("x-predictor-override", valid)
        .at(fixtures["now"].as_u64().unwrap());
    assert_eq!(forced_name(&config, request, "/"), (None, false));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes (and any clock) never panic and never force: only a key holder can mint.
        #[test]
        fn arbitrary_override_bytes_force_nothing(value in proptest::collection::vec(any::<u8>(), 0..96), now in any::<u64>()) {
            let fixtures = fixtures();
            let config = signed_config(&fixtures);
            let request = FakeRequest::new().header("x-predictor-override", &value).at(now);
            let (forced, _) = forced_name(&config, request, "/");
            prop_assert_eq!(forced, None);
        }

        /// Any change of one byte of a valid token is refused (including another spelling of the
        /// same MAC bytes: the comparison is of the text).
        #[test]
        fn a_token_changed_in_one_byte_is_refused(position in 0usize..64, byte in any::<u8>()) {
            let fixtures = fixtures();
            let config = signed_config(&fixtures);
            let mut token = fixtures["cases"][0]["value"].as_str().unwrap().as_bytes().to_vec();
            let at = position % token.len();
            prop_assume!(token[at] != byte);
            token[at] = byte;
            let request = FakeRequest::new()
                .header("x-predictor-override", &token)
                .at(fixtures["now"].as_u64().unwrap());
            let (forced, rejected) = forced_name(&config, request, "/");
            prop_assert_eq!(forced, None);
            prop_assert!(rejected);
        }
    }
}
