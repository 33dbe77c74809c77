//! The shipped monitoring (`envoyfilter/overlays/monitoring/`): promtool on the PrometheusRule's groups, a
//! promtool unit test for every alert both ways, the dashboard's structure, and a real Prometheus
//! (Debian's) scraping real Envoys through the PodMonitor's relabelling, evaluating the rules, the
//! dashboard's queries and the README's.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::http::Request;
use predictor_router_e2e::monitoring::{
    dashboard, dashboard_expressions, readme_expressions, rule_file, rules, samples, scrape_job,
    with_variables, Prometheus,
};
use predictor_router_e2e::scenario::{
    adaptive_plugin_config, predict_path, repo_root, rollout_plugin_config, seed_plugin_config,
};
use predictor_router_e2e::upstream::PredictorServer;
use serde_json::Value;

fn promtool(args: &[&str], dir: &std::path::Path) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool (Debian package prometheus; `make prometheus` installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn promtool_accepts_the_rule_groups_of_the_prometheusrule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rule_file()).unwrap();
    let out = promtool(&["check", "rules", "rules.yml"], dir.path());
    let count = rules().len();
    assert!(out.contains(&format!("SUCCESS: {count} rules found")), "{out}");
}

#[test]
fn every_alert_has_a_promtool_case_where_it_fires_and_one_where_it_must_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rule_file()).unwrap();
    let tests_file = repo_root().join("tests/monitoring/rules.test.yml");
    std::fs::copy(&tests_file, dir.path().join("rules.test.yml")).unwrap();
    let out = promtool(&["test", "rules", "rules.test.yml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");

    let tests: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&tests_file).unwrap()).unwrap();
    let (mut fires, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for case in tests["tests"].as_array().unwrap() {
        for check in case["alert_rule_test"].as_array().unwrap() {
            let name = check["alertname"].as_str().unwrap().to_string();
            if check["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                fires.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    let alerts: BTreeSet<String> = rules()
        .iter()
        .filter_map(|r| r["alert"].as_str().map(str::to_string))
        .collect();
    assert!(alerts.len() >= 6, "{alerts:?}");
    assert_eq!(fires, alerts, "a case where each alert fires");
    assert_eq!(quiet, alerts, "a case where each alert must not fire");
    for rule in rules().iter().filter(|r| r["alert"].is_string()) {
        let name = &rule["alert"];
        assert!(rule["for"].is_string(), "{name}: for");
        assert!(
            ["warning", "critical"].contains(&rule["labels"]["severity"].as_str().unwrap_or("")),
            "{name}: severity"
        );
        for field in ["summary", "description"] {
            assert!(
                rule["annotations"][field].as_str().is_some_and(|t| t.len() > 20),
                "{name}: {field}"
            );
        }
    }
}

#[test]
fn the_configured_shares_are_the_wasmplugins_weights() {
    let config = seed_plugin_config();
    let mut expected = Vec::new();
    for experiment in config["experiments"].as_array().unwrap() {
        if experiment.get("adaptive").is_some() {
            continue;
        }
        let predictors = experiment["predictors"].as_array().unwrap();
        let total: f64 = predictors.iter().map(|p| p["weight"].as_f64().unwrap()).sum();
        for p in predictors.iter().filter(|p| p["weight"].as_f64().unwrap() > 0.0) {
            expected.push((
                experiment["name"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
                p["weight"].as_f64().unwrap() / total,
            ));
        }
    }
    let mut shipped: Vec<(String, String, f64)> = rules()
        .iter()
        .filter(|r| r["record"] == "predictor_router:configured_share")
        .map(|r| {
            let expr = r["expr"].as_str().unwrap();
            let share: f64 = expr
                .strip_prefix("vector(")
                .and_then(|e| e.strip_suffix(')'))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("not vector(<share>): {expr}"));
            (
                r["labels"]["experiment"].as_str().unwrap().to_string(),
                r["labels"]["predictor"].as_str().unwrap().to_string(),
                share,
            )
        })
        .collect();
    expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
    shipped.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(
        shipped, expected,
        "envoyfilter/overlays/monitoring/prometheusrule.yaml vs wasmplugin.yaml"
    );
}

#[test]
fn the_dashboard_has_a_datasource_variable_and_label_values_variables() {
    let d = dashboard();
    assert!(d["schemaVersion"].as_u64().unwrap() >= 36, "a current schema");
    let vars = d["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("${name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    for name in ["experiment", "predictor"] {
        let query = var(name)["query"]["query"].as_str().unwrap();
        assert!(
            query.starts_with("label_values(") && query.ends_with(&format!(", {name})")),
            "{query}"
        );
        assert_eq!(var(name)["datasource"]["uid"], "${datasource}");
    }
    let recorded: BTreeSet<String> = rules()
        .iter()
        .filter_map(|r| r["record"].as_str().map(str::to_string))
        .collect();
    for panel in d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
    {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            // A recording rule the dashboard names must be one the PrometheusRule records.
            for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                if word.starts_with("predictor_router:") {
                    assert!(
                        recorded.contains(word),
                        "{}: {word} is not recorded",
                        panel["title"]
                    );
                }
            }
        }
    }
}

/// Sends `n` requests to a gateway; user ids (when `users`) make them hashed, else random.
fn traffic(gw: &Gateway, n: usize, users: Option<&str>) {
    let mut client = gw.client();
    for i in 0..n {
        let mut request = Request::predict(predict_path());
        if let Some(prefix) = users {
            request = request.header("x-user-id", format!("{prefix}-{i}"));
        }
        let response = client.send(&request).expect("a response");
        assert_eq!(response.status, 200);
    }
}

fn other_traffic(gw: &Gateway) {
    let mut client = gw.client();
    for _ in 0..5 {
        client
            .send(&Request::predict(predict_path()).header("x-predictor-override", "nope"))
            .unwrap();
        client.send(&Request::get("/health")).unwrap();
    }
}

/// Polls until `expr` returns `want` series (the rules need two scrapes of the traffic's counters).
fn wait_for(prometheus: &Prometheus, expr: &str, want: usize) -> Vec<(Value, f64)> {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let found = samples(&prometheus.vector(expr));
        if found.len() >= want && found.iter().all(|(_, v)| v.is_finite()) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{expr}: {found:?}\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_real_prometheus_scraping_real_envoys_evaluates_the_rules_the_dashboard_and_the_readme() {
    // The shipped fixed-weight experiment (with a shadow copying 20 % to a loopback server, for the
    // shadow metrics), its adaptive variant (for the adaptive metrics) and its rollout variant (for
    // the rollout gauges; its start lies ahead, so it reports step 0).
    let shadow = PredictorServer::start("rf-v2");
    let shadow_cluster = "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local";
    let mut fixed_config = seed_plugin_config();
    fixed_config["experiments"][0]["shadow"] = serde_json::json!({
        "name": "rf-v2", "cluster": shadow_cluster,
        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000", "percent": 20
    });
    let fixed = Gateway::start_with(
        fixed_config,
        GatewayOptions {
            extra_clusters: vec![(shadow_cluster.to_string(), shadow.port)],
            ..GatewayOptions::default()
        },
    );
    let adaptive = Gateway::start(adaptive_plugin_config());
    let rollout = Gateway::start(rollout_plugin_config());
    let job = scrape_job(&[
        ("gateway-fixed", format!("127.0.0.1:{}", fixed.envoy.admin_port)),
        (
            "gateway-adaptive",
            format!("127.0.0.1:{}", adaptive.envoy.admin_port),
        ),
        (
            "gateway-rollout",
            format!("127.0.0.1:{}", rollout.envoy.admin_port),
        ),
    ]);
    let prometheus = Prometheus::start(vec![job], &rule_file());

    // Counters are defined on first use: a first round defines them, a second one moves them, so
    // that rate() sees an increase between two scrapes.
    for round in 0..2 {
        traffic(&fixed, 100, Some(&format!("warm-{round}")));
        traffic(&fixed, 20, None);
        traffic(&adaptive, 30, None);
        traffic(&rollout, 10, None);
        other_traffic(&fixed);
        std::thread::sleep(Duration::from_millis(2500));
    }
    traffic(&fixed, 2000, Some("user"));
    traffic(&fixed, 400, None);
    traffic(&adaptive, 60, None);
    other_traffic(&fixed);
    // Two scrapes and a rule evaluation after the last request: the rules then cover all of it.
    std::thread::sleep(Duration::from_secs(3));

    assert!(prometheus.target_health().iter().all(|h| h == "up"));
    // The split recording rule reports the configured 50/50 within tolerance.
    let split = wait_for(
        &prometheus,
        r#"predictor_router:new_assignment_share:ratio5m{experiment="fraud-detection"}"#,
        2,
    );
    for (labels, share) in &split {
        assert!((share - 0.5).abs() < 0.06, "{labels}: observed share {share}");
    }
    // The PodMonitor's relabelling: the filter's name became a label of the VM and ECDS stats.
    let reloads = prometheus.vector(r#"envoy_wasm_vm_reload{filter="istio_system_predictor_router"}"#);
    assert_eq!(reloads.len(), 3, "one per gateway: {reloads:?}");
    assert!(!prometheus
        .vector(r#"envoy_extension_config_discovery_config_fail{filter="istio_system_predictor_router"}"#)
        .is_empty());
    // Rules that need the adaptive gateway's outcomes: wait until they have a rate too.
    wait_for(&prometheus, "predictor_router:reward:ratio5m", 2);

    let mut checked = 0;
    let readme = readme_expressions();
    assert!(readme.len() >= 5, "{readme:?}");
    let dashboard: Vec<String> = dashboard_expressions()
        .iter()
        .map(|e| with_variables(e, "fraud-detection", "1m"))
        .collect();
    for expr in readme.iter().chain(&dashboard) {
        let answer = prometheus.query(expr);
        assert_eq!(answer["status"], "success", "{expr}\n{answer}");
        if expr.contains("predictor_router") {
            let result = answer["data"]["result"].as_array().unwrap();
            assert!(
                !result.is_empty(),
                "no series for a query on the filter's metrics:\n{expr}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} expressions on the filter's metrics");

    // The shadow panels read what happened: the loopback shadow answers each prediction as the served
    // predictors do, so every compared pair agrees (rate 1 per served predictor) with abs_diff 0.
    let panel_values = |title: &str| -> Vec<(String, f64)> {
        let panel = predictor_router_e2e::monitoring::dashboard()["panels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["title"] == title)
            .unwrap_or_else(|| panic!("no panel {title}"))
            .clone();
        let expr = with_variables(
            panel["targets"][0]["expr"].as_str().unwrap(),
            "fraud-detection",
            "1m",
        );
        prometheus
            .vector(&expr)
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                (s["metric"]["predictor"].as_str().unwrap_or("").to_string(), value)
            })
            .collect()
    };
    let agreement = panel_values("Shadow agreement rate per served predictor");
    assert_eq!(
        agreement.len(),
        2,
        "one series per served predictor: {agreement:?}"
    );
    assert!(
        agreement.iter().all(|(_, v)| (*v - 1.0).abs() < 1e-9),
        "{agreement:?}"
    );
    let abs_diff = panel_values("Mean abs_diff of probabilities");
    assert!(abs_diff.iter().all(|(_, v)| *v == 0.0), "{abs_diff:?}");
    let latency = panel_values("Shadow vs served latency (mean over compared pairs)");
    assert!(
        latency.iter().all(|(_, v)| (0.0..100.0).contains(v)),
        "{latency:?}"
    );
    for gw in [&fixed, &adaptive, &rollout] {
        gw.envoy.assert_no_wasm_errors();
    }
}
