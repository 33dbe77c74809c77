//! The shipped monitoring (`envoyfilter/overlays/monitoring/`) as the tests use it: the rule groups of the
//! PrometheusRule as a Prometheus rule file, the PodMonitor as a scrape job, the PromQL of the
//! dashboard and of the README, and a real Prometheus (Debian's package) on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::envoy::free_port;
use crate::http::{HttpClient, Request};
use crate::scenario::repo_root;

pub fn monitoring_dir() -> PathBuf {
    repo_root().join("envoyfilter/overlays/monitoring")
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn prometheus_rule() -> Value {
    yaml_file(&monitoring_dir().join("prometheusrule.yaml"))
}

pub fn pod_monitor() -> Value {
    yaml_file(&monitoring_dir().join("podmonitor.yaml"))
}

pub fn dashboard() -> Value {
    let path = monitoring_dir().join("grafana-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `spec.groups` of the PrometheusRule as a Prometheus rule file (what prometheus-operator mounts).
pub fn rule_file() -> String {
    serde_yaml_ng::to_string(&json!({ "groups": prometheus_rule()["spec"]["groups"] })).unwrap()
}

/// Every rule of the PrometheusRule, alerts and recordings.
pub fn rules() -> Vec<Value> {
    prometheus_rule()["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

/// The PodMonitor's first endpoint as a Prometheus scrape job over `targets` (`(pod, host:port)`):
/// its path, and its `metricRelabelings` as `metric_relabel_configs` (the same fields in snake_case).
pub fn scrape_job(targets: &[(&str, String)]) -> Value {
    let endpoint = &pod_monitor()["spec"]["podMetricsEndpoints"][0];
    let relabel: Vec<Value> = endpoint["metricRelabelings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut out = serde_json::Map::new();
            for (k, v) in r.as_object().unwrap() {
                out.insert(snake_case(k), v.clone());
            }
            Value::Object(out)
        })
        .collect();
    json!({
        "job_name": "predictor-router-gateway",
        "metrics_path": endpoint["path"],
        "static_configs": targets.iter().map(|(pod, address)| json!({
            "targets": [address],
            "labels": {"namespace": "istio-system", "pod": pod}
        })).collect::<Vec<_>>(),
        "metric_relabel_configs": relabel,
    })
}

fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every PromQL expression of the dashboard's panels, Grafana variables in place.
pub fn dashboard_expressions() -> Vec<String> {
    dashboard()["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

/// A dashboard expression with its variables set as Grafana would set them.
pub fn with_variables(expr: &str, experiment: &str, rate_interval: &str) -> String {
    expr.replace("$experiment", experiment)
        .replace("$predictor", ".*")
        .replace("$__rate_interval", rate_interval)
}

/// The PromQL of the ```promql blocks of README.md and docs/*.md: expressions are separated by blank
/// lines or by `#` comment lines.
pub fn readme_expressions() -> Vec<String> {
    let mut pages = vec![repo_root().join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(repo_root().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let readme: String = pages
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap() + "\n")
        .collect();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut current = String::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            if in_block && !current.trim().is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
            in_block = line.trim() == "```promql";
            continue;
        }
        if !in_block {
            continue;
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            if !current.trim().is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    out
}

/// A Prometheus server on 127.0.0.1 with a temporary TSDB, killed when dropped.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `scrape_jobs` every second and evaluates `rules` (a rule file) every second. Returns once
    /// every target has been scraped (Prometheus hands new targets to its scrapers after up to 5 s).
    pub fn start(scrape_jobs: Vec<Value>, rules: &str) -> Prometheus {
        Prometheus::start_on(free_port(), scrape_jobs, rules)
    }

    /// [`Prometheus::start`] on a port chosen beforehand (something in front of it needs the port first).
    pub fn start_on(port: u16, scrape_jobs: Vec<Value>, rules: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
        let config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [dir.path().join("rules.yml")],
            "scrape_configs": scrape_jobs,
        });
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
        let child = spawn_prometheus(dir.path(), port);
        let mut prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        prometheus.wait_ready();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = prometheus.target_health();
            if !health.is_empty() && health.iter().all(|h| h == "up") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "targets {health:?}:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = HttpClient::new(self.port)
                .send(&Request::get("/-/ready"))
                .is_ok_and(|r| r.status == 200);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "Prometheus not ready:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGKILL: an outage, not a shutdown); its TSDB stays for [`Prometheus::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and TSDB (what was scraped before the stop is still there, as
    /// after a real restart: the write-ahead log is replayed).
    pub fn restart(&mut self) {
        self.child = spawn_prometheus(self._dir.path(), self.port);
        self.wait_ready();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `/api/v1/query`: the whole answer (`status`, `data.result`, or `error`).
    pub fn query(&self, expr: &str) -> Value {
        let encoded: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        let response = HttpClient::new(self.port)
            .send(&Request::get(&format!("/api/v1/query?query={encoded}")))
            .expect("Prometheus answers");
        serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&response.body)))
    }

    /// `/api/v1/query` evaluated at `time` (Unix seconds), as the filter's fleet queries are.
    pub fn query_at(&self, expr: &str, time: u64) -> Value {
        let encoded: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        let response = HttpClient::new(self.port)
            .send(&Request::get(&format!(
                "/api/v1/query?query={encoded}&time={time}"
            )))
            .expect("Prometheus answers");
        serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&response.body)))
    }

    /// The result vector of a query that must succeed.
    pub fn vector(&self, expr: &str) -> Vec<Value> {
        let answer = self.query(expr);
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// `/api/v1/targets`: every active target's health.
    pub fn target_health(&self) -> Vec<String> {
        let response = HttpClient::new(self.port)
            .send(&Request::get("/api/v1/targets"))
            .expect("Prometheus answers");
        let answer: Value = serde_json::from_slice(&response.body).unwrap();
        answer["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| t["health"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// `prometheus` with the configuration and TSDB of `dir`, listening on 127.0.0.1:`port`; its log is
/// appended to `dir/prometheus.log` (across restarts).
fn spawn_prometheus(dir: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("prometheus.log"))
        .unwrap();
    Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("prometheus (Debian package prometheus; `make prometheus` installs it)")
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(labels, value)` of each sample of a result vector.
pub fn samples(result: &[Value]) -> Vec<(Value, f64)> {
    result
        .iter()
        .map(|s| {
            let value = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            (s["metric"].clone(), value)
        })
        .collect()
}
