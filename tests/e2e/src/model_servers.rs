//! Model servers of other protocols, for the shadow's protocol tests: MLServer (the Open Inference
//! Protocol v2 of KServe v2, Triton and Seldon Core 2) and KServe's own model server (KServe v1),
//! each serving the seed's fraud models from files that `tests/models/save_models.py` writes (trained
//! as the Seldon Core microservice trains them). Installed by `make model-servers` into
//! `.venv-mlserver` and `.venv-kserve` (their pins differ from Seldon Core 1.18's).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::envoy::free_port;
use crate::scenario::repo_root;

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
        let (port, grpc, metrics) = (free_port(), free_port(), free_port());
        let settings = json!({"http_port": port, "grpc_port": grpc, "metrics_port": metrics,
                              "host": "127.0.0.1", "parallel_workers": 0});
        std::fs::write(dir.join("settings.json"), settings.to_string()).expect("settings.json");
        let log = dir.join("mlserver.log");
        let child = Command::new(repo_root().join(".venv-mlserver/bin/mlserver"))
            .arg("start")
            .arg(dir)
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("mlserver.err")).expect("log"),
            ))
            .spawn()
            .expect("mlserver (make model-servers)");
        ModelServer {
            child,
            port,
            name: "MLServer",
            log,
        }
        .ready("/v2/health/ready")
    }

    /// KServe's model server (`kserve.ModelServer`) serving xgb, rf and rf-v2 over KServe v1.
    pub fn kserve(dir: &Path) -> ModelServer {
        let (port, grpc) = (free_port(), free_port());
        let log = dir.join("kserve.log");
        let child = Command::new(python(".venv-kserve"))
            .arg("kserve_server.py")
            .arg(dir)
            .arg(port.to_string())
            .arg(grpc.to_string())
            .current_dir(models_dir())
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("kserve.err")).expect("log"),
            ))
            .spawn()
            .expect("kserve_server.py (make model-servers)");
        ModelServer {
            child,
            port,
            name: "KServe",
            log,
        }
        .ready("/v1/models/rf-v2")
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
    let mut child = Command::new(python(".venv-mlserver"))
        .arg("offline.py")
        .current_dir(models_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run offline.py");
    let request =
        json!({"dir": dir, "rows": rows, "served": served, "shadow": crate::shadow::NAME, "output": output});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write the rows");
    let out = child.wait_with_output().expect("offline.py ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let totals: Value = serde_json::from_slice(&out.stdout).expect("JSON totals");
    totals
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| {
            let n = |f: &str| v[f].as_u64().unwrap_or(0);
            (k.clone(), (n("agree"), n("disagree"), n("abs_diff_milli")))
        })
        .collect()
}
