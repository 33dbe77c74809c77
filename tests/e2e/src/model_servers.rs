//! Model servers of other protocols, for the shadow's protocol tests: MLServer (the Open Inference
//! Protocol v2 of KServe v2, Triton and Seldon Core 2) and KServe's own model server (KServe v1),
//! each serving the seed's fraud models from files that `tests/models/save_models.py` writes (trained
//! as the Seldon Core microservice trains them). Installed by `make model-servers` into
//! `.venv-mlserver` and `.venv-kserve` (their pins differ from Seldon Core 1.18's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::bootstrap::cluster_name;
use crate::envoy::{free_ports, Envoy, EnvoyOptions};
use crate::http::{eventually, HttpClient, Request};
use crate::scenario::{repo_root, seed_plugin_config};
use crate::seldon::{shadow_at_gateway, shadow_outcomes};
use crate::shadow::{CLUSTER, NAME};

fn models_dir() -> PathBuf {
    repo_root().join("tests/models")
}

fn python(venv: &str) -> PathBuf {
    let path = repo_root().join(venv).join("bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `make model-servers`",
        path.display()
    );
    path
}

/// The fraud models as files in `dir` (xgb, rf, rf-v2), with MLServer's model settings.
pub fn save_models(dir: &Path) {
    let output = Command::new(python(".venv-mlserver"))
        .arg("save_models.py")
        .arg(dir)
        .current_dir(models_dir())
        .output()
        .expect("run save_models.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A model server process on 127.0.0.1, ended on drop.
pub struct ModelServer {
    child: Child,
    pub port: u16,
    pub name: &'static str,
    log: PathBuf,
}

impl ModelServer {
    /// MLServer (`mlserver start`) serving every model folder of `dir` over REST.
    pub fn mlserver(dir: &Path) -> ModelServer {
        let [port, grpc, metrics] = free_ports(3)[..] else {
            unreachable!("three ports")
        };
        let settings = json!({"http_port": port, "grpc_port": grpc, "metrics_port": metrics,
                              "host": "127.0.0.1", "parallel_workers": 0});
        std::fs::write(dir.join("settings.json"), settings.to_string()).expect("settings.json");
        let mut command = Command::new(repo_root().join(".venv-mlserver/bin/mlserver"));
        command.arg("start").arg(dir);
        ModelServer::spawn("MLServer", command, dir, port, "/v2/health/ready")
    }

    /// KServe's model server (`kserve.ModelServer`) serving xgb, rf and rf-v2 over KServe v1.
    pub fn kserve(dir: &Path) -> ModelServer {
        let [port, grpc] = free_ports(2)[..] else {
            unreachable!("two ports")
        };
        let mut command = Command::new(python(".venv-kserve"));
        command
            .arg("kserve_server.py")
            .arg(dir)
            .arg(port.to_string())
            .arg(grpc.to_string())
            .current_dir(models_dir());
        ModelServer::spawn("KServe", command, dir, port, "/v1/models/rf-v2")
    }

    /// Starts `command` with its output in `dir/<name>.log` and `.err`, and waits until `path` answers.
    fn spawn(name: &'static str, mut command: Command, dir: &Path, port: u16, path: &str) -> ModelServer {
        let log = dir.join(format!("{name}.log"));
        let child = command
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
            .stderr(Stdio::from(
                std::fs::File::create(log.with_extension("err")).expect("log"),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("{name} (make model-servers): {e}"));
        ModelServer {
            child,
            port,
            name,
            log,
        }
        .ready(path)
    }

    fn ready(mut self, path: &str) -> ModelServer {
        let mut client = crate::http::HttpClient::new(self.port);
        let up = crate::http::eventually(90, || {
            client
                .send(&crate::http::Request::get(path))
                .is_ok_and(|r| r.status == 200)
        });
        if !up {
            let _ = self.child.kill();
            panic!(
                "{} did not become ready on {}: {}",
                self.name,
                self.port,
                std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default()
            );
        }
        self
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shadow comparison recomputed offline by `tests/models/offline.py` from the same files and rows:
/// per served predictor (agree, disagree, abs_diff_milli).
pub fn offline(dir: &Path, rows: &[Value], served: &[String], output: &str) -> crate::seldon::ShadowTally {
    let input =
        json!({"dir": dir, "rows": rows, "served": served, "shadow": crate::shadow::NAME, "output": output});
    crate::seldon::offline_tally(&python(".venv-mlserver"), &models_dir(), "offline.py", &input)
}

/// How one protocol is spoken: the path clients use, each predictor's path at the server, the body of
/// one row, and the shadow's `compare` settings.
pub struct Protocol {
    pub name: &'static str,
    /// What the served models answer with: `predict_proba` (probabilities) or `predict` (labels).
    pub output: &'static str,
    pub match_prefix: &'static str,
    pub client_path: &'static str,
    pub server_prefix: fn(&str) -> String,
    pub body: fn(&Value) -> Value,
    pub compare: Value,
}

pub fn gateway(server: &ModelServer, protocol: &Protocol) -> Envoy {
    let mut config = seed_plugin_config();
    config["experiments"][0]["match"]["path_prefix"] = json!(protocol.match_prefix);
    let mut shadow = json!({
        "name": NAME, "cluster": CLUSTER, "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
        "path_prefix": (protocol.server_prefix)(NAME), "percent": 100, "timeout_ms": 5000, "max_in_flight": 10000
    });
    if let (Some(block), Some(compare)) = (shadow.as_object_mut(), protocol.compare.as_object()) {
        block.extend(compare.clone());
    }
    config["experiments"][0]["shadow"] = shadow;
    // The routes a VirtualService per predictor gives: its header, the prefix rewritten to its model.
    let route = |predictor: &str, header: bool| {
        let mut r = json!({"match": {"prefix": protocol.match_prefix},
                           "route": {"cluster": cluster_name(predictor), "prefix_rewrite": (protocol.server_prefix)(predictor)}});
        if header {
            r["match"]["headers"] = json!([{"name": "x-predictor", "string_match": {"exact": predictor}}]);
        }
        r
    };
    let mut options = EnvoyOptions::new(
        config,
        vec![("xgb".into(), server.port), ("rf".into(), server.port)],
    );
    options.concurrency = 2;
    options.routes = Some(vec![route("xgb", true), route("rf", true), route("xgb", false)]);
    options.extra_clusters = vec![(CLUSTER.to_string(), server.port)];
    Envoy::start(options).unwrap_or_else(|f| panic!("Envoy did not start:\n{}", f.log))
}

/// Sends each row alone, alternately as a holder of xgb's and of rf's cookie, waiting for the
/// shadow every 20 rows; returns the predictor that served each row.
pub fn predict(envoy: &Envoy, protocol: &Protocol, rows: &[Value]) -> Vec<String> {
    let mut client = HttpClient::new(envoy.listener_port);
    let mut served = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut request = Request::predict(protocol.client_path).header(
            "cookie",
            ["pr-fraud-detection=xgb", "pr-fraud-detection=rf"][i % 2],
        );
        request.body = (protocol.body)(row).to_string().into_bytes();
        let response = client.send(&request).expect("an answer");
        assert_eq!(
            response.status,
            200,
            "row {i}: {}",
            String::from_utf8_lossy(&response.body)
        );
        served.push(response.header("x-predictor").unwrap_or("").to_string());
        if i % 20 == 19 {
            assert!(eventually(30, || shadow_outcomes(envoy, &["xgb", "rf"]) >= (i + 1) as u64));
        }
    }
    served
}

/// One protocol's run: the gateway's tally and the offline one, per served predictor.
pub struct Compared {
    pub label: String,
    pub gateway: crate::seldon::ShadowTally,
    pub offline: crate::seldon::ShadowTally,
    /// The copies' other outcomes at the gateway (failed, timeout, skipped).
    pub other: std::collections::BTreeMap<&'static str, u64>,
    pub rows: usize,
}

impl Compared {
    /// The side-by-side table `make demo-models` prints and the tests log.
    pub fn report(&self) -> String {
        let mut out = format!("{}: {} rows, every client answer 200\n", self.label, self.rows);
        out.push_str(
            "   served    gateway agree/disagree abs_diff_milli    offline agree/disagree abs_diff_milli\n",
        );
        for (p, (a, d, m)) in &self.gateway {
            let (oa, od, om) = self.offline.get(p).copied().unwrap_or_default();
            out.push_str(&format!(
                "   {p:<8} {a:>15}/{d:<8} {m:>14}    {oa:>15}/{od:<8} {om:>14}\n"
            ));
        }
        out.push_str(&format!("   other outcomes at the gateway: {:?}", self.other));
        out
    }
}

/// Serves the seed's fraud models from files with `server`, sends `rows` held-out rows through a
/// gateway whose shadow is rf-v2 on the same server, and recomputes the comparison offline. Every
/// client answer must be 200 from the predictor the filter chose.
pub fn compare_with_offline(protocol: Protocol, server: fn(&Path) -> ModelServer, rows: usize) -> Compared {
    let dir = tempfile::tempdir().expect("a folder for the models");
    save_models(dir.path());
    let server = server(dir.path());
    let envoy = gateway(&server, &protocol);
    let (all_rows, _) = crate::seldon::held_out_rows();
    let rows = &all_rows[..rows.min(all_rows.len())];
    let served = predict(&envoy, &protocol, rows);
    assert_eq!(
        served.iter().filter(|p| *p == "xgb").count(),
        rows.len().div_ceil(2),
        "{served:?}"
    );
    assert!(eventually(30, || shadow_outcomes(&envoy, &["xgb", "rf"])
        >= rows.len() as u64));
    let (gateway, other) = shadow_at_gateway(&envoy, &["xgb", "rf"]);
    let offline = offline(dir.path(), rows, &served, protocol.output);
    envoy.assert_no_wasm_errors();
    Compared {
        label: format!("{} ({}, {})", server.name, protocol.name, protocol.output),
        gateway,
        offline,
        other,
        rows: rows.len(),
    }
}

/// The Open Inference Protocol v2, asking each model for `output`.
pub fn oip(output: &'static str) -> Protocol {
    Protocol {
        name: "Open Inference Protocol v2",
        output,
        match_prefix: "/v2/models/fraud-detection/",
        client_path: "/v2/models/fraud-detection/infer",
        server_prefix: |model| format!("/v2/models/{model}/"),
        body: if output == "predict" {
            |row| {
                json!({"inputs": [{"name": "input-0", "shape": [1, row.as_array().map_or(0, Vec::len)], "datatype": "FP64", "data": row}],
                         "outputs": [{"name": "predict"}]})
            }
        } else {
            |row| {
                json!({"inputs": [{"name": "input-0", "shape": [1, row.as_array().map_or(0, Vec::len)], "datatype": "FP64", "data": row}],
                         "outputs": [{"name": "predict_proba"}]})
            }
        },
        compare: json!({"compare": "oip", "output": output}),
    }
}

/// KServe v1: the model's name ends the prefix (`/v1/models/fraud-detection:predict` becomes
/// `/v1/models/xgb:predict`, and the shadow's copy `/v1/models/rf-v2:predict`: a plain replacement).
pub fn kserve_v1() -> Protocol {
    Protocol {
        name: "KServe v1",
        output: "predict_proba",
        match_prefix: "/v1/models/fraud-detection",
        client_path: "/v1/models/fraud-detection:predict",
        server_prefix: |model| format!("/v1/models/{model}"),
        body: |row| json!({"instances": [row]}),
        compare: json!({"compare": "kserve_v1"}),
    }
}
