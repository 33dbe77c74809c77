//! The `predictor-router` binary as a user runs it: output, exit codes, bad input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Asserts that `text` holds every one of `wanted`, naming `context` and the text when one is missing.
fn assert_contains(text: &str, wanted: &[&str], context: &str) {
    for w in wanted {
        assert!(text.contains(w), "{context}: missing {w:?} in:\n{text}");
    }
}

/// The output of a run that exited 0 (its stdout and stderr).
fn succeeded(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    text(o)
}

fn run(args: &[&str]) -> Output {
    run_with_stdin(args, b"")
}

fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    run_in(args, stdin, &[])
}

/// The binary with `stdin`, `PREDICTOR_ROUTER_KEYS` removed from its environment, and `env` set.
fn run_in(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_predictor-router"))
        .args(args)
        .env_remove("PREDICTOR_ROUTER_KEYS")
        .envs(env.iter().copied())
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// `predictor-router assign --config <config> --experiment <experiment> <who...>`, with `stdin`.
fn assign(config: &Path, experiment: &str, who: &[&str], stdin: &[u8]) -> Output {
    let mut args = vec![
        "assign",
        "--config",
        config.to_str().unwrap(),
        "--experiment",
        experiment,
    ];
    args.extend_from_slice(who);
    run_with_stdin(&args, stdin)
}

/// `predictor-router ramp --from <from> --to <to>`.
fn ramp(from: &Path, to: &Path) -> Output {
    run(&[
        "ramp",
        "--from",
        from.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ])
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A file of its own (tests run in parallel): a fresh folder per call.
fn temp(name: &str, contents: &[u8]) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("predictor-router-cli-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn config(predictors: &str) -> PathBuf {
    temp(
        "config.json",
        format!(r#"{{"experiments": [{{"name": "fraud-detection", "predictors": {predictors}, "sticky": {{"user_header": "x-user-id"}}}}]}}"#)
            .as_bytes(),
    )
}

#[test]
fn validate_accepts_every_shipped_manifest() {
    fn yaml_under(dir: &Path, files: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                yaml_under(&path, files);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path.display().to_string());
            }
        }
    }
    let mut files: Vec<String> = Vec::new();
    yaml_under(&repo().join("envoyfilter"), &mut files);
    // The rollout overlay ships a placeholder `start` that validate refuses until it is set (below).
    files.retain(|f| !f.ends_with("overlays/rollout/wasmplugin.yaml"));
    assert!(files.len() >= 15, "{files:?}");
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(String::as_str))
        .collect();
    let o = run(&args);
    let out = succeeded(&o);
    assert_contains(
        &out,
        &[
            "wasmplugin.yaml: valid (1 configuration(s))",
            "envoyfilter-legacy.yaml: valid (1 configuration(s))",
            "adaptive/wasmplugin.yaml: valid",
            "gateway.yaml: no plugin configuration",
            "extension-policy-image.yaml: valid (1 configuration(s))",
            "gateway-api/wasmplugin.yaml: valid (1 configuration(s))",
        ],
        "",
    );
}

#[test]
fn validate_refuses_the_rollout_overlay_until_its_start_is_set() {
    let file = repo().join("envoyfilter/overlays/rollout/wasmplugin.yaml");
    let o = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("experiments[0].rollout.start: \"set-me: the rollout start"),
        "{out}"
    );
    let set = std::fs::read_to_string(&file).unwrap().replace(
        "\"set-me: the rollout start, RFC 3339 UTC, e.g. 2027-01-15T09:00:00Z\"",
        "\"2027-01-15T09:00:00Z\"",
    );
    let o = run(&[
        "validate",
        temp("rollout-set.yaml", set.as_bytes()).to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn validate_and_rollout_warn_when_a_start_lies_further_back_than_the_whole_schedule() {
    let shipped =
        std::fs::read_to_string(repo().join("envoyfilter/overlays/rollout/wasmplugin.yaml")).unwrap();
    let placeholder = "\"set-me: the rollout start, RFC 3339 UTC, e.g. 2027-01-15T09:00:00Z\"";
    // Two hours of steps: a start in 2020 is long past them, one in 2099 has not begun.
    let stale = temp(
        "stale-start.yaml",
        shipped
            .replace(placeholder, "\"2020-01-15T09:00:00Z\"")
            .as_bytes(),
    );
    let future = temp(
        "future-start.yaml",
        shipped
            .replace(placeholder, "\"2099-01-15T09:00:00Z\"")
            .as_bytes(),
    );
    let o = run(&["validate", stale.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "a warning, not an error: {}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("warning: experiments[0].rollout.start: \"2020-01-15T09:00:00Z\" lies ")
            && out.contains("the canary would be at step 4/4 (100 %) from its first request"),
        "{out}"
    );
    let o = run(&["rollout", "--config", stale.to_str().unwrap()]);
    assert!(
        text(&o).contains("  warning: \"2020-01-15T09:00:00Z\" lies "),
        "{}",
        text(&o)
    );
    for args in [
        vec!["validate", future.to_str().unwrap()],
        vec!["rollout", "--config", future.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert!(!text(&o).contains("warning"), "{}", text(&o));
    }
}

#[test]
fn validate_names_the_document_and_the_json_path_of_a_misspelt_field() {
    let manifest = std::fs::read_to_string(repo().join("envoyfilter/base/wasmplugin.yaml")).unwrap();
    let broken = manifest.replace("user_header: x-user-id", "user_headr: x-user-id");
    let gateway = std::fs::read_to_string(repo().join("envoyfilter/base/gateway.yaml")).unwrap();
    let file = temp("multi.yaml", format!("{gateway}\n---\n{broken}").as_bytes());
    let o = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(
        out.contains(&format!(
            "{}: document 2 (WasmPlugin predictor-router): experiments[0].sticky.user_headr: unknown field `user_headr`",
            file.display()
        )),
        "{out}"
    );
    let o = run(&["validate", "--json", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let finding: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["path"], "experiments[0].sticky.user_headr");
    assert_eq!(finding["file"], file.display().to_string());
}

#[test]
fn validate_reports_warnings_and_bad_input_with_its_exit_code() {
    let tiny = config(r#"[{"name": "rf", "weight": 1}, {"name": "xgb", "weight": 1000000}]"#);
    let o = run(&["validate", tiny.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o).contains(": warning: experiments[0].predictors[0].weight: 1 is less than 1/10000"),
        "{}",
        text(&o)
    );
    let cases: [(&str, &[u8], i32, &str); 6] = [
        ("empty.json", b"", 2, "empty file"),
        ("binary.bin", b"\x00\xff\xfe\x01", 2, "not UTF-8"),
        ("list.yaml", b"- a\n- b\n", 2, "not a mapping"),
        (
            "noconfig.yaml",
            b"apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: x\nspec: {}\n",
            2,
            "no spec.pluginConfig",
        ),
        ("bad.json", b"{\"experiments\": [", 1, "$: not valid JSON"),
        (
            "array.json",
            br#"{"experiments": [["a", null, []]]}"#,
            1,
            "experiments[0]: invalid type: sequence, expected an experiment object",
        ),
    ];
    for (name, bytes, code, message) in cases {
        let file = temp(name, bytes);
        let o = run(&["validate", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(code), "{name}: {}", text(&o));
        assert!(text(&o).contains(message), "{name}: {}", text(&o));
    }
    assert_eq!(
        run(&["validate", "/nonexistent/file.json"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["validate"]).status.code(), Some(2), "bad usage");
}

#[test]
fn assign_matches_the_committed_murmur3_vectors() {
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/bucket_vectors.json")).unwrap(),
    )
    .unwrap();
    let tables = vectors["weight_tables"].as_array().unwrap();
    let mut checked = 0;
    for v in vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["experiment"] == "fraud-detection")
    {
        let id = hex(v["user_id_hex"].as_str().unwrap());
        // One id per line: an id with a line break cannot be given in a file, nor an empty one.
        if id.is_empty() || id.contains(&b'\n') || id.contains(&b'\r') {
            continue;
        }
        let file = temp("ids.txt", &[id.as_slice(), b"\n"].concat());
        let table_index = 0; // weights 50/50
        let weights = tables[table_index].as_array().unwrap();
        let predictors: Vec<String> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| format!(r#"{{"name": "p{i}", "weight": {w}}}"#))
            .collect();
        let cfg = config(&format!("[{}]", predictors.join(",")));
        let o = assign(&cfg, "fraud-detection", &["--users", file.to_str().unwrap()], b"");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let csv = o.stdout;
        let row = csv
            .split(|b| *b == b'\n')
            .nth(1)
            .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&csv)));
        assert!(row.contains(&b','), "{v}: {}", String::from_utf8_lossy(&csv));
        let bucket: u32 = String::from_utf8_lossy(row.rsplit(|b| *b == b',').nth(1).unwrap())
            .parse()
            .unwrap();
        assert_eq!(u64::from(bucket), v["bucket"].as_u64().unwrap(), "{v}");
        checked += 1;
        if checked == 12 {
            break;
        }
    }
    assert!(checked > 0);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn assign_reads_ids_as_bytes_from_a_file_or_stdin() {
    let cfg = config(r#"[{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}]"#);
    let o = assign(&cfg, "fraud-detection", &["--user", "alice"], b"");
    assert_eq!(o.status.code(), Some(0));
    let single = String::from_utf8(o.stdout).unwrap();
    let o = assign(
        &cfg,
        "fraud-detection",
        &["--users", "-"],
        b"alice\r\n\xff\xfe-not-utf8\nbob,\"the\" builder\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines: Vec<&[u8]> = o.stdout.split(|b| *b == b'\n').collect();
    assert_eq!(lines[0], b"user,bucket,predictor");
    assert_eq!(
        String::from_utf8_lossy(lines[1]),
        format!("alice,{}", single.trim().replace(' ', ","))
    );
    assert!(lines[2].starts_with(b"\xff\xfe-not-utf8,"));
    assert!(lines[3].starts_with(b"\"bob,\"\"the\"\" builder\","));
    let o = assign(&cfg, "nope", &["--user", "a"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no experiment \"nope\" (it has: fraud-detection)"));
}

#[test]
fn ramp_95_5_to_80_20_moves_exactly_15_percent_from_the_baseline_to_the_canary() {
    let from = config(r#"[{"name": "xgb", "weight": 95}, {"name": "rf", "weight": 5}]"#);
    let to = config(r#"[{"name": "xgb", "weight": 80}, {"name": "rf", "weight": 20}]"#);
    let o = ramp(&from, &to);
    let out = succeeded(&o);
    assert_contains(
        &out,
        &[
            "experiment fraud-detection: 15.00 % of hashed users change predictor",
            "xgb             80.00 %    15.00 %",
            "rf               0.00 %     5.00 %",
        ],
        "",
    );
}

#[test]
fn ramp_warns_when_users_of_a_growing_predictor_would_move() {
    let from = config(r#"[{"name": "xgb", "weight": 95}, {"name": "rf", "weight": 5}]"#);
    let reordered = config(r#"[{"name": "rf", "weight": 20}, {"name": "xgb", "weight": 80}]"#);
    let o = ramp(&from, &reordered);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("warning: users of \"rf\" move although its share grows"),
        "{}",
        text(&o)
    );
}

#[test]
fn srm_tests_new_assignments_against_the_weights() {
    let cfg = config(
        r#"[{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}, {"name": "shadow", "weight": 0}]"#,
    );
    let stats = |xgb: u64, rf: u64| {
        format!(
            "predictor_router_decision{{experiment=\"fraud-detection\",predictor=\"xgb\",reason=\"random\"}} {xgb}\n\
             predictor_router_decision{{experiment=\"fraud-detection\",predictor=\"rf\",reason=\"hashed\"}} {rf}\n\
             predictor_router_decision{{experiment=\"fraud-detection\",predictor=\"rf\",reason=\"sticky\"}} 5000\n\
             predictor_router_decision{{experiment=\"fraud-detection\",predictor=\"shadow\",reason=\"forced\"}} 300\n"
        )
    };
    let o = run_with_stdin(
        &["srm", "--config", cfg.to_str().unwrap(), "--stats", "-"],
        stats(1010, 990).as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("chi-square 0.20, df 1, p 0.6547: consistent with the weights"),
        "{}",
        text(&o)
    );
    let o = run_with_stdin(
        &["srm", "--config", cfg.to_str().unwrap(), "--stats", "-"],
        stats(1100, 900).as_bytes(),
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("SAMPLE-RATIO MISMATCH"), "{}", text(&o));
}

#[test]
fn srm_on_a_real_envoys_stats_and_on_a_doctored_copy() {
    let manifest = repo().join("envoyfilter/base/wasmplugin.yaml");
    for fixture in ["stats-prometheus.txt", "stats-plain.txt"] {
        let stats = repo().join("tests/fixtures/srm").join(fixture);
        let o = run(&[
            "srm",
            "--config",
            manifest.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{fixture}: {}", text(&o));
        let out = text(&o);
        assert_contains(
            &out,
            &[
                "experiment fraud-detection: chi-square 0.02, df 1, p 0.8839: consistent",
                "xgb          observed       1504 expected       1500.0",
            ],
            fixture,
        );
        // Doctored: 400 of rf's hashed decisions counted as xgb's.
        let doctored = std::fs::read_to_string(&stats)
            .unwrap()
            .replace("rf.decision.hashed: 999", "rf.decision.hashed: 599")
            .replace("xgb.decision.hashed: 1001", "xgb.decision.hashed: 1401")
            .replace(
                "predictor=\"rf\",reason=\"hashed\"} 999",
                "predictor=\"rf\",reason=\"hashed\"} 599",
            )
            .replace(
                "predictor=\"xgb\",reason=\"hashed\"} 1001",
                "predictor=\"xgb\",reason=\"hashed\"} 1401",
            );
        let o = run_with_stdin(
            &["srm", "--config", manifest.to_str().unwrap(), "--stats", "-"],
            doctored.as_bytes(),
        );
        assert_eq!(o.status.code(), Some(4), "{fixture}: {}", text(&o));
        assert!(text(&o).contains("SAMPLE-RATIO MISMATCH"));
    }
    // An adaptive experiment is skipped, and says why.
    let adaptive = repo().join("envoyfilter/overlays/adaptive/wasmplugin.yaml");
    let stats = repo().join("tests/fixtures/srm/stats-plain.txt");
    let o = run(&[
        "srm",
        "--config",
        adaptive.to_str().unwrap(),
        "--stats",
        stats.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("experiment fraud-detection: skipped: adaptive"),
        "{}",
        text(&o)
    );
}

const KEYS: &str = "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw,Lm3Nq8Rz2Tx7Vc1Bf6Gh0Jk4Pw9Sd5Ya2Ue8Io3Ah7Ej";

fn sign(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["sign-override"];
    all.extend_from_slice(args);
    run_in(&all, b"", env)
}

/// `sign-override --experiment fraud-detection --predictor rf <extra>`.
fn sign_rf(extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["--experiment", "fraud-detection", "--predictor", "rf"];
    args.extend_from_slice(extra);
    sign(&args, env)
}

#[test]
fn sign_override_mints_a_token_the_filter_accepts_and_prints_its_expiry() {
    use predictor_router::router::config::parse_with_environment;
    use predictor_router::router::signing::{verify, KeySet};
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = sign_rf(&["--ttl", "2h"], &[("PREDICTOR_ROUTER_KEYS", KEYS)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let token = String::from_utf8(o.stdout.clone()).unwrap().trim().to_string();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.starts_with("expires 20"), "{stderr}");
    assert!(
        stderr.contains("(in 2h); minted with key 1 of PREDICTOR_ROUTER_KEYS"),
        "{stderr}"
    );
    let expiry: u64 = token.split('.').nth(1).unwrap().parse().unwrap();
    assert!((before + 7200..=before + 7202).contains(&expiry), "{token}");

    let config = serde_json::json!({
        "signing": {"keys_env": "K"},
        "experiments": [{"name": "fraud-detection", "override": {"signed": true},
            "predictors": [{"name": "xgb", "weight": 1}, {"name": "rf", "weight": 0}]}]
    });
    let parsed = parse_with_environment(config.to_string().as_bytes(), &[("K", KEYS)][..]).unwrap();
    let experiment = &parsed.experiments()[0];
    let keys = KeySet::parse(KEYS).unwrap();
    assert_eq!(
        verify(
            &keys,
            &experiment.name,
            |n| experiment.predictor_named(n),
            token.as_bytes(),
            before
        )
        .map(|p| p.index()),
        Some(1)
    );
    // Only the second key: the token (made with the first) is not valid.
    let second = KeySet::parse(KEYS.split(',').nth(1).unwrap()).unwrap();
    assert_eq!(
        verify(
            &second,
            &experiment.name,
            |n| experiment.predictor_named(n),
            token.as_bytes(),
            before
        ),
        None
    );

    // Another variable with --key-env.
    let o = sign_rf(&["--ttl", "90s", "--key-env", "MY_KEYS"], &[("MY_KEYS", KEYS)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("key 1 of MY_KEYS"));
}

/// Extra arguments, environment, and what the error must say.
type SignCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn sign_override_refuses_a_long_ttl_a_missing_key_and_bad_names_with_exit_2() {
    let keys = [("PREDICTOR_ROUTER_KEYS", KEYS)];
    let cases: [SignCase; 6] = [
        (&["--ttl", "32days"], &keys, "over the 31 days"),
        (&["--ttl", "0s"], &keys, "at least 1s"),
        (&["--ttl", "soon"], &keys, "--ttl \"soon\""),
        (&["--ttl", "2h"], &[], "PREDICTOR_ROUTER_KEYS is not set"),
        (
            &["--ttl", "2h"],
            &[("PREDICTOR_ROUTER_KEYS", "c2hvcnQ")],
            "key 1 of PREDICTOR_ROUTER_KEYS decodes to 5 bytes",
        ),
        (
            &["--ttl", "2h", "--predictor", "r.f"],
            &keys,
            "--predictor: \"r.f\" is not a DNS label",
        ),
    ];
    for (extra, env, expected) in cases {
        let mut args = vec!["--experiment", "fraud-detection"];
        if !extra.contains(&"--predictor") {
            args.extend(["--predictor", "rf"]);
        }
        args.extend_from_slice(extra);
        let o = sign(&args, env);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(expected), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "no token on failure");
        assert!(!text(&o).contains("c2hvcnQ"), "a key value was printed");
    }
    // 31 days exactly is allowed.
    let o = sign(
        &["--experiment", "e", "--predictor", "p", "--ttl", "31days"],
        &keys,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn validate_checks_the_key_set_when_this_shell_has_it_and_says_so_when_not() {
    let file = temp(
        "signed.json",
        br#"{"signing": {"keys_env": "PREDICTOR_ROUTER_KEYS"},
             "experiments": [{"name": "e", "predictors": [{"name": "a", "weight": 1}], "override": {"signed": true}}]}"#,
    );
    let path = file.to_str().unwrap();
    let unset = run_in(&["validate", path], b"", &[]);
    assert_eq!(unset.status.code(), Some(0), "{}", text(&unset));
    assert!(
        text(&unset).contains("warning: signing.keys_env: PREDICTOR_ROUTER_KEYS is not set in this shell"),
        "{}",
        text(&unset)
    );
    let good = run_in(&["validate", path], b"", &[("PREDICTOR_ROUTER_KEYS", KEYS)]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert!(!text(&good).contains("warning"), "{}", text(&good));
    let bad = run_in(&["validate", path], b"", &[("PREDICTOR_ROUTER_KEYS", "c2hvcnQ")]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("signing.keys_env: key 1 of PREDICTOR_ROUTER_KEYS decodes to 5 bytes"));
    assert!(!text(&bad).contains("c2hvcnQ"));
}

fn rollout_config(steps: &str) -> PathBuf {
    temp(
        "rollout.json",
        format!(
            r#"{{"experiments": [{{"name": "fraud-detection", "predictors": [{{"name": "xgb", "weight": 50}}, {{"name": "rf", "weight": 50}}],
                "sticky": {{"user_header": "x-user-id"}},
                "rollout": {{"canary": "rf", "start": "2026-12-07T09:00:00Z", "steps": {steps}}}}}]}}"#
        )
        .as_bytes(),
    )
}

const SEED_STEPS: &str = r#"[{"percent": 5, "minutes": 30}, {"percent": 20, "minutes": 30}, {"percent": 50, "minutes": 60}, {"percent": 100}]"#;

#[test]
fn rollout_prints_the_schedule_in_wall_clock_time_and_the_step_at_an_instant() {
    let rollout = rollout_config(SEED_STEPS);
    let path = rollout.to_str().unwrap();
    let out = run(&["rollout", "--config", path, "--at", "2026-12-07T09:45:00Z"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    for line in [
        "experiment fraud-detection: rollout of rf from 2026-12-07T09:00:00Z",
        "  step 1/4    5 %  from 2026-12-07T09:00:00Z  until 2026-12-07T09:30:00Z (30 min)",
        "  step 2/4   20 %  from 2026-12-07T09:30:00Z  until 2026-12-07T10:00:00Z (30 min)",
        "  step 3/4   50 %  from 2026-12-07T10:00:00Z  until 2026-12-07T11:00:00Z (60 min)",
        "  step 4/4  100 %  from 2026-12-07T11:00:00Z  until the configuration changes",
        "  at 2026-12-07T09:45:00Z: step 2/4; shares xgb 80.00 % rf 20.00 %",
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "missing {line:?} in\n{printed}"
        );
    }
    let before = text(&run(&[
        "rollout",
        "--config",
        path,
        "--at",
        "2026-12-07T08:59:59Z",
    ]));
    assert!(
        before.contains("before start: the canary gets no new assignments; shares xgb 100.00 % rf 0.00 %"),
        "{before}"
    );
    let last = text(&run(&[
        "rollout",
        "--config",
        path,
        "--at",
        "2027-01-01T00:00:00Z",
    ]));
    assert!(last.contains("step 4/4; shares xgb 0.00 % rf 100.00 %"), "{last}");
    let bad = run(&["rollout", "--config", path, "--at", "2026-12-07 09:45"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let none = run(&[
        "rollout",
        "--config",
        config(r#"[{"name": "xgb", "weight": 1}]"#).to_str().unwrap(),
    ]);
    assert!(text(&none).contains("no experiment has a rollout"));
}

#[test]
fn ramp_takes_the_canary_share_from_the_steps_and_checks_every_step() {
    let fixed = config(r#"[{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}]"#);
    let rollout = rollout_config(SEED_STEPS);
    // `ramp` from the fixed weights to the rollout, at `at`.
    let ramp_at = |at: &str| {
        run(&[
            "ramp",
            "--from",
            fixed.to_str().unwrap(),
            "--to",
            rollout.to_str().unwrap(),
            "--at",
            at,
        ])
    };
    let out = ramp_at("2026-12-07T09:45:00Z");
    let printed = text(&out);
    // 50/50 by weight → the rollout's step 2 (20 %): 30 % of hashed users leave rf.
    assert!(
        printed.starts_with("experiment fraud-detection: 30.00 % of hashed users change predictor"),
        "{printed}"
    );
    assert_contains(
        &printed,
        &[
            "rollout step 0 → 1 (0 % → 5 %): fraud-detection: 5.00 % of hashed users change predictor",
            "rollout step 1 → 2 (5 % → 20 %): fraud-detection: 15.00 % of hashed users change predictor",
            "rollout step 2 → 3 (20 % → 50 %): fraud-detection: 30.00 % of hashed users change predictor",
            "rollout step 3 → 4 (50 % → 100 %): fraud-detection: 50.00 % of hashed users change predictor",
        ],
        "",
    );
    // rf's share shrinks from 50 % to 20 %: no growing predictor loses users, and no step moves a canary user.
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(!printed.contains("warning"), "{printed}");
    // Before start the canary has 0 %: the same files compared then show rf's users all leaving.
    let early = text(&ramp_at("2026-12-01T00:00:00Z"));
    assert!(
        early.starts_with("experiment fraud-detection: 50.00 % of hashed users change predictor"),
        "{early}"
    );
}

#[test]
fn srm_leaves_rollouts_out() {
    let rollout = rollout_config(SEED_STEPS);
    let stats = temp("stats.txt", b"");
    let out = run(&[
        "srm",
        "--config",
        rollout.to_str().unwrap(),
        "--stats",
        stats.to_str().unwrap(),
    ]);
    assert!(
        text(&out).contains("skipped: rollout: new assignments follow the rollout's steps"),
        "{}",
        text(&out)
    );
}
