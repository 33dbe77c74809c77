//! Real Seldon Core v1 predictors on 127.0.0.1: `seldon-core-microservice FraudModel` processes (PyPI
//! `seldon-core` 1.18.2, installed into `.venv` by `make seldon`), one serving XGBoost and one a
//! scikit-learn random forest, trained at start on `tests/seldon/fraud_data.py`'s synthetic data set.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::envoy::free_port;
use crate::http::{HttpClient, Request};
use crate::scenario::repo_root;

fn venv_bin(name: &str) -> PathBuf {
    repo_root().join(".venv/bin").join(name)
}

fn model_dir() -> PathBuf {
    repo_root().join("tests/seldon")
}

/// Fails with the install instruction when the microservice is not installed.
pub fn require_seldon() {
    assert!(
        venv_bin("seldon-core-microservice").exists(),
        "seldon-core-microservice is not in .venv: run `make seldon` (pip install seldon-core==1.18.2 \
         'setuptools<70' scikit-learn xgboost-cpu into .venv)"
    );
}

/// One model process.
pub struct SeldonModel {
    /// The predictor it serves (the gateway's cluster name).
    pub kind: String,
    /// The model behind it (`MODEL_KIND`).
    pub model_kind: String,
    pub port: u16,
    child: Child,
    count_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl SeldonModel {
    /// Starts `seldon-core-microservice FraudModel` with `MODEL_KIND=kind` (`xgb` or `rf`); call
    /// [`SeldonModel::wait_ready`] before sending to it.
    pub fn start(kind: &str) -> SeldonModel {
        SeldonModel::start_serving(kind, kind)
    }

    /// Starts the model `model_kind` (`MODEL_KIND`: `xgb`, `rf` or `rf-shuffled`) as the predictor
    /// named `predictor` (its [`SeldonModel::kind`], the gateway's cluster).
    pub fn start_serving(predictor: &str, model_kind: &str) -> SeldonModel {
        require_seldon();
        let dir = tempfile::tempdir().expect("a working directory");
        let count_file = dir.path().join("feedback.count");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("model.log")).expect("log file");
        let child = Command::new(venv_bin("seldon-core-microservice"))
            .args([
                "FraudModel",
                "--service-type",
                "MODEL",
                "--workers",
                "1",
                "--threads",
                "8",
            ])
            .args(["--http-port", &port.to_string()])
            .args(["--grpc-port", &free_port().to_string()])
            .args(["--metrics-port", &free_port().to_string()])
            .args(["--log-level", "WARNING"])
            .current_dir(model_dir())
            .env("MODEL_KIND", model_kind)
            .env("FEEDBACK_COUNT_FILE", &count_file)
            .env("PATH", format!("{}:/usr/bin:/bin", venv_bin("").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            // Its own process group: gunicorn forks workers, and all of them go on drop.
            .process_group(0)
            .spawn()
            .expect("start seldon-core-microservice");
        SeldonModel {
            kind: predictor.to_string(),
            model_kind: model_kind.to_string(),
            port,
            child,
            count_file,
            _dir: dir,
        }
    }

    /// Waits until the model answers `/health/ping` (it trains first: a few seconds).
    pub fn wait_ready(&mut self) {
        if let Err(why) = self.try_wait_ready() {
            panic!("{why}");
        }
    }

    /// Like [`SeldonModel::wait_ready`], but says why the model did not become ready.
    pub fn try_wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the {} model exited ({status}):\n{}",
                    self.kind,
                    self.log()
                ));
            }
            let pong = HttpClient::new(self.port)
                .send(&Request::get("/health/ping"))
                .is_ok_and(|r| r.status == 200);
            if pong && self.count_file.exists() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "the {} model did not become ready in 120 s:\n{}",
            self.kind,
            self.log()
        ))
    }

    /// (feedback calls the model process received, sum of their rewards), as the model counted them.
    pub fn feedback_received(&self) -> (u64, f64) {
        let text = std::fs::read_to_string(&self.count_file).unwrap_or_default();
        let mut parts = text.split_whitespace();
        let calls = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let rewards = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        (calls, rewards)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("model.log")).unwrap_or_default()
    }
}

impl Drop for SeldonModel {
    fn drop(&mut self) {
        // The model's own process group (gunicorn master, workers, Seldon's metrics server): signalled
        // with libc, never through a `kill` command line whose parsing of negative ids varies.
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            if pgid > 1 {
                unsafe {
                    libc::kill(-pgid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Both predictors of the seed's experiment, started side by side (they train in parallel).
/// Ports are picked free and then handed to the model: another process may take one in between (tests
/// run in parallel), so a model that cannot bind is started again on new ports.
pub fn start_models() -> Vec<SeldonModel> {
    start_models_serving(&[("xgb", "xgb"), ("rf", "rf")])
}

/// `(predictor, model kind)` pairs, started side by side and waited for, as [`start_models`].
pub fn start_models_serving(pairs: &[(&str, &str)]) -> Vec<SeldonModel> {
    let mut models: Vec<SeldonModel> = pairs
        .iter()
        .map(|(predictor, kind)| SeldonModel::start_serving(predictor, kind))
        .collect();
    for model in &mut models {
        let mut attempt = 1;
        while let Err(why) = model.try_wait_ready() {
            if attempt == 3 || !why.contains("Address already in use") {
                panic!("{why}");
            }
            attempt += 1;
            *model = SeldonModel::start_serving(&model.kind.clone(), &model.model_kind.clone());
        }
    }
    models
}

/// The shipped experiment with a rollout of rf that learns from Seldon feedback: rf at 50 % from
/// `start` (Unix seconds) for ten minutes, then 100 %; a look every second, judged from `min_outcomes`.
pub fn feedback_rollout_config(start: u64, min_outcomes: u32) -> Value {
    let mut config = crate::scenario::seed_plugin_config();
    config["experiments"][0]["rollout"] = json!({
        "canary": "rf",
        "start": predictor_router::router::instant::format(start),
        "steps": [{"percent": 50, "minutes": 10}, {"percent": 100}],
        "reward": "feedback",
        "feedback_path": crate::scenario::feedback_path(),
        "update_seconds": 1,
        "guard": {"min_outcomes": min_outcomes}
    });
    config
}

/// The held-out rows of the synthetic data set and their labels (1 = fraud), from fraud_data.py.
pub fn held_out_rows() -> (Vec<Value>, Vec<u8>) {
    let output = Command::new(venv_bin("python"))
        .arg("fraud_data.py")
        .current_dir(model_dir())
        .output()
        .expect("run fraud_data.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let data: Value = serde_json::from_slice(&output.stdout).expect("JSON rows");
    let rows = data["rows"].as_array().cloned().unwrap_or_default();
    let labels = data["labels"]
        .as_array()
        .map(|l| l.iter().map(|v| v.as_u64().unwrap_or(0) as u8).collect())
        .unwrap_or_default();
    (rows, labels)
}

/// Seldon's prediction request for one row.
pub fn prediction_body(row: &Value) -> Value {
    json!({"data": {"ndarray": [row]}})
}

/// The predicted class (1 = fraud) in a Seldon prediction response (`[[p_legit, p_fraud]]`).
pub fn predicted_class(response: &Value) -> Option<u8> {
    let p = response["data"]["ndarray"][0][1].as_f64()?;
    Some(u8::from(p > 0.5))
}

/// Seldon's feedback request: the prediction request and response, and the reward.
pub fn feedback_body(request: &Value, response: &Value, reward: f64) -> Value {
    json!({"request": request, "response": response, "reward": reward})
}

/// One prediction and its feedback, as a client with a cookie jar saw them through the gateway.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The predictor that answered (the gateway's `x-predictor` response header).
    pub predictor: String,
    /// The first request of its user (a new assignment).
    pub first: bool,
    pub correct: bool,
    pub feedback_status: u16,
}

/// A user with a cookie jar: for each row, a prediction through the gateway, then Seldon feedback
/// (reward 1 when the predicted class matches the label, else 0) with the same cookie.
pub fn user_session(port: u16, predict_path: &str, feedback_path: &str, rows: &[(Value, u8)]) -> Vec<Scored> {
    let mut client = HttpClient::new(port);
    let mut jar: Option<String> = None;
    let with_jar = |request: Request, jar: &Option<String>| match jar {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    };
    let mut scored = Vec::new();
    for (i, (row, label)) in rows.iter().enumerate() {
        let body = prediction_body(row);
        let mut request = Request::predict(predict_path);
        request.body = body.to_string().into_bytes();
        let Ok(response) = client.send(&with_jar(request, &jar)) else {
            continue;
        };
        if let Some(cookie) = response.header("set-cookie") {
            jar = cookie.split(';').next().map(str::to_string);
        }
        let predictor = response.header("x-predictor").unwrap_or_default().to_string();
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let correct = predicted_class(&answer) == Some(*label);
        let mut feedback = Request::predict(feedback_path);
        feedback.body = feedback_body(&body, &answer, if correct { 1.0 } else { 0.0 })
            .to_string()
            .into_bytes();
        let feedback_status = client.send(&with_jar(feedback, &jar)).map_or(0, |r| r.status);
        scored.push(Scored {
            predictor,
            first: i == 0,
            correct,
            feedback_status,
        });
    }
    scored
}

/// The adaptive variant of the shipped experiment, learning from Seldon feedback instead of responses:
/// `reward: feedback` on Seldon's feedback endpoint; `update_seconds` and `min_outcomes` as given.
pub fn feedback_plugin_config(update_seconds: u32, min_outcomes: u32) -> Value {
    let mut config = crate::scenario::adaptive_plugin_config();
    let adaptive = &mut config["experiments"][0]["adaptive"];
    if let Some(block) = adaptive.as_object_mut() {
        block.remove("max_latency_ms");
        block.insert("reward".into(), json!("feedback"));
        block.insert("feedback_path".into(), json!(crate::scenario::feedback_path()));
        block.insert("update_seconds".into(), json!(update_seconds));
        block.insert("min_outcomes".into(), json!(min_outcomes));
    }
    config
}

/// Envoy (two workers, V8) in front of real models, routed like the VirtualService (prefix rewrite).
pub fn gateway(plugin_config: Value, models: &[SeldonModel]) -> crate::envoy::Envoy {
    gateway_with_clusters(plugin_config, models, Vec::new())
}

fn gateway_with_clusters(
    plugin_config: Value,
    models: &[SeldonModel],
    extra_clusters: Vec<(String, u16)>,
) -> crate::envoy::Envoy {
    let prefix = plugin_config["experiments"][0]["match"]["path_prefix"]
        .as_str()
        .unwrap_or("/")
        .to_string();
    let mut options = crate::envoy::EnvoyOptions::new(
        plugin_config,
        models.iter().map(|m| (m.kind.clone(), m.port)).collect(),
    );
    options.concurrency = 2;
    options.rewrite_prefix = Some(prefix);
    options.extra_clusters = extra_clusters;
    crate::envoy::Envoy::start(options)
        .unwrap_or_else(|f| panic!("Envoy did not start (exit {:?}):\n{}", f.exit_code, f.log))
}

/// `users` users, each with `rows_per_user` consecutive held-out rows, over `threads` clients.
pub fn run_users(
    port: u16,
    rows: &[(Value, u8)],
    first_user: usize,
    users: usize,
    rows_per_user: usize,
    threads: usize,
) -> Vec<Scored> {
    let predict = crate::scenario::predict_path();
    let feedback = crate::scenario::feedback_path();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..users)
                        .step_by(threads)
                        .flat_map(|u| {
                            let start = ((first_user + u) * rows_per_user) % rows.len().max(1);
                            let mine: Vec<(Value, u8)> = rows
                                .iter()
                                .cycle()
                                .skip(start)
                                .take(rows_per_user)
                                .cloned()
                                .collect();
                            user_session(port, predict, feedback, &mine)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Envoy in front of real models as [`gateway`], with the shadow's cluster
/// ([`crate::shadow::CLUSTER`]) pointing at `shadow`.
pub fn shadow_gateway(
    plugin_config: Value,
    models: &[SeldonModel],
    shadow: &SeldonModel,
) -> crate::envoy::Envoy {
    gateway_with_clusters(
        plugin_config,
        models,
        vec![(crate::shadow::CLUSTER.to_string(), shadow.port)],
    )
}

/// Rows sent before the client waits for the shadow to have answered them all: the shadow (one
/// gunicorn worker, slower than the served models) would otherwise fall further behind with every row,
/// and on a loaded machine its queue outgrew `timeout_ms` (CI: 3 of 400 copies timed out).
const ROWS_AHEAD_OF_THE_SHADOW: usize = 20;

/// One prediction per row through the gateway, alternately as a holder of xgb's and of rf's cookie;
/// the predictor that answered each (the `x-predictor` header), in row order. Every
/// [`ROWS_AHEAD_OF_THE_SHADOW`] rows it waits until each copy sent so far has its outcome.
pub fn predict_rows_as_both_cookies(envoy: &crate::envoy::Envoy, rows: &[Value]) -> Vec<String> {
    let mut client = HttpClient::new(envoy.listener_port);
    let mut served = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mut request = Request::predict(crate::scenario::predict_path()).header(
            "cookie",
            ["pr-fraud-detection=xgb", "pr-fraud-detection=rf"][i % 2],
        );
        request.body = prediction_body(row).to_string().into_bytes();
        served.push(client.send(&request).map_or(String::new(), |r| {
            if r.status == 200 {
                r.header("x-predictor").unwrap_or_default().to_string()
            } else {
                format!("status {}", r.status)
            }
        }));
        if (i + 1) % ROWS_AHEAD_OF_THE_SHADOW == 0 {
            crate::http::eventually(30, || shadow_outcomes(envoy, &["xgb", "rf"]) > i as u64);
        }
    }
    served
}

/// Copies of predictions served by `served` that have an outcome, whichever.
pub fn shadow_outcomes(envoy: &crate::envoy::Envoy, served: &[&str]) -> u64 {
    let (tally, other) = shadow_at_gateway(envoy, served);
    tally.values().map(|(a, d, _)| a + d).sum::<u64>() + other.values().sum::<u64>()
}

/// Per served predictor: (agree, disagree, abs_diff_milli), as the gateway counts them.
pub type ShadowTally = std::collections::BTreeMap<String, (u64, u64, u64)>;

/// The shadow comparison recomputed offline by `tests/seldon/shadow_offline.py`: the same models, the
/// same rows, each row with the predictor that served it.
pub fn shadow_offline(rows: &[Value], served: &[String], shadow_model: &str) -> ShadowTally {
    let input = json!({"rows": rows, "served": served, "shadow": shadow_model});
    offline_tally(&venv_bin("python"), &model_dir(), "shadow_offline.py", &input)
}

/// Runs an offline recomputation (`script` in `dir`, with `python`): `input` as JSON on its stdin,
/// per served predictor `{"agree", "disagree", "abs_diff_milli"}` as JSON on its stdout.
pub fn offline_tally(
    python: &std::path::Path,
    dir: &std::path::Path,
    script: &str,
    input: &Value,
) -> ShadowTally {
    use std::io::Write;
    let mut child = Command::new(python)
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.to_string().as_bytes())
            .expect("write the rows");
    }
    let output = child.wait_with_output().expect("the recomputation ends");
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let totals: Value = serde_json::from_slice(&output.stdout).expect("JSON totals");
    totals
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let n = |f: &str| v[f].as_u64().unwrap_or(0);
                    (k.clone(), (n("agree"), n("disagree"), n("abs_diff_milli")))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The gateway's shadow counters per served predictor: (agree, disagree, abs_diff_milli), and the
/// other outcomes (failed, timeout, skipped), each summed over the served predictors.
pub fn shadow_at_gateway(
    envoy: &crate::envoy::Envoy,
    served: &[&str],
) -> (ShadowTally, std::collections::BTreeMap<&'static str, u64>) {
    let counters = envoy.counters();
    let get = |p: &str, m: &str| {
        counters
            .get(&format!(
                "predictor_router.fraud-detection.{p}.shadow.{}.{m}",
                crate::shadow::NAME
            ))
            .copied()
            .unwrap_or(0)
    };
    let tally = served
        .iter()
        .map(|p| {
            (
                p.to_string(),
                (get(p, "agree"), get(p, "disagree"), get(p, "abs_diff_milli")),
            )
        })
        .collect();
    let other = ["failed", "timeout", "skipped"]
        .into_iter()
        .map(|outcome| (outcome, served.iter().map(|p| get(p, outcome)).sum()))
        .collect();
    (tally, other)
}
