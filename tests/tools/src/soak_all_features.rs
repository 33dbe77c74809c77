//! The soak with every feature on at once (`make soak SOAK_MODE=all`, issue 29): one real Envoy (two
//! workers) serving three experiments side by side — `fixed` (fixed weights), `churn` (adaptive,
//! pooled through the fleet view from a real Prometheus that scrapes this Envoy every second) and
//! `fraud-detection` (a pooled rollout ramping on the wall clock, a shadow copying 10 % of its
//! predictions, signed overrides) — at saturation, with a mix of new visitors, cookies, user ids,
//! valid tokens and plain names (refused) for each. The verdict: 0 non-2xx (nothing in this
//! configuration answers anything else), Envoy's memory flat after the warm-up (≤ 1.05×), no wasm
//! error in Envoy's log, and the counters consistent: decisions = requests Envoy saw, and once the last
//! copies are answered, the shadow's outcomes = its copies.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::soak::{saturate, wrk, SoakLoad, CONNECTIONS};
use predictor_router_e2e::envoy::{free_port, Envoy};
use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::monitoring::{rule_file, scrape_job, Prometheus};
use predictor_router_e2e::upstream::PredictorServer;

const PROMETHEUS_CLUSTER: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";
const SIGNING_VARIABLE: &str = "PREDICTOR_ROUTER_KEYS";
/// A 32-byte key (base64url), as `openssl rand -base64 32` makes.
const KEY: &str = "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw";
const EXPERIMENTS: [&str; 3] = ["fixed", "churn", "fraud-detection"];
const PREDICTORS: [&str; 2] = ["xgb", "rf"];
const REASONS: [&str; 4] = ["forced", "sticky", "hashed", "random"];
/// Envoy's memory may grow by this much from the end of the warm-up to the end of the run.
pub const RESIDENT_BOUND: f64 = 1.05;
const WARM_UP_SECONDS: u64 = 20;

pub struct AllFeaturesReport {
    /// The load; its first resident-memory sample is at the end of the warm-up.
    pub load: SoakLoad,
    /// Requests Envoy's connection manager counted in the run, and decisions the filter counted.
    pub envoy_requests: u64,
    pub decisions: u64,
    /// Decisions per experiment, by reason (forced, sticky, hashed, random).
    pub by_experiment: Vec<(String, [u64; 4])>,
    /// Override values refused (plain names under `signed: true`), fraud-detection.
    pub override_rejected: u64,
    /// The shadow's copied counter and the sum of its outcomes, once settled; then each outcome.
    pub shadow_copied: u64,
    pub shadow_outcomes: u64,
    pub shadow_by_outcome: Vec<(String, u64)>,
    /// Copies made during the run, of the fraud-detection decisions they could be made of (not forced).
    pub shadow_copied_in_run: u64,
    pub shadow_eligible_in_run: u64,
    /// Fleet queries answered and failed; the rollout's step and rolled-back gauge at the end; the
    /// adaptive experiment's share of rf.
    pub fleet_ok: u64,
    pub fleet_failed: u64,
    pub rollout_step: u64,
    pub rolled_back: u64,
    pub churn_rf_share_bp: u64,
}

impl AllFeaturesReport {
    /// Each failed check, by name (empty: passed).
    pub fn failures(&self) -> Vec<String> {
        let mut out = self.load.failures(RESIDENT_BOUND);
        let mut check = |ok: bool, what: String| {
            if !ok {
                out.push(what);
            }
        };
        check(
            self.decisions == self.envoy_requests,
            format!(
                "{} decisions for {} requests",
                self.decisions, self.envoy_requests
            ),
        );
        check(
            self.shadow_copied > 0 && self.shadow_outcomes == self.shadow_copied,
            format!(
                "shadow: {} outcomes for {} copies",
                self.shadow_outcomes, self.shadow_copied
            ),
        );
        check(self.fleet_ok > 0, "no fleet query answered".into());
        out
    }

    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "soak, every feature at once: {} s through Envoy (2 workers), wrk -t2 -c{CONNECTIONS}, after a {WARM_UP_SECONDS} s warm-up\n\
             experiments: fixed (80/20), churn (adaptive thompson, pooled from Prometheus), fraud-detection (pooled rollout, shadow 10 %, signed overrides)\n",
            self.load.seconds,
        );
        out.push_str(&self.load.render(RESIDENT_BOUND));
        out.push_str(&format!(
            "requests Envoy counted: {}; decisions the filter counted: {}\n",
            self.envoy_requests, self.decisions
        ));
        for (experiment, reasons) in &self.by_experiment {
            let parts: Vec<String> = REASONS
                .iter()
                .zip(reasons)
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            out.push_str(&format!("  {experiment}: {}\n", parts.join(", ")));
        }
        out.push_str(&format!(
            "override_rejected (plain names, signed overrides): {}\n",
            self.override_rejected
        ));
        let outcomes: Vec<String> = self
            .shadow_by_outcome
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        out.push_str(&format!(
            "shadow: copied {}, outcomes {} ({}); in the run {} copies of {} eligible decisions ({:.2} %, configured 10 %)\n",
            self.shadow_copied,
            self.shadow_outcomes,
            outcomes.join(", "),
            self.shadow_copied_in_run,
            self.shadow_eligible_in_run,
            100.0 * self.shadow_copied_in_run as f64 / self.shadow_eligible_in_run.max(1) as f64
        ));
        out.push_str(&format!(
            "fleet queries: {} answered, {} failed; rollout step {} (rolled back: {}); churn rf share {:.2} %\n",
            self.fleet_ok,
            self.fleet_failed,
            self.rollout_step,
            self.rolled_back,
            self.churn_rf_share_bp as f64 / 100.0
        ));
        let failures = self.failures();
        if failures.is_empty() {
            out.push_str("PASSED\n");
        } else {
            out.push_str(&format!("FAILED: {}\n", failures.join("; ")));
        }
        out
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The three experiments; the rollout starts now and ramps 10, 30, 60, then 100 % over eight minutes.
pub fn plugin_config(shadow_cluster: &str) -> Value {
    let start = predictor_router::router::instant::format(unix_now());
    let predictors = |a: u32, b: u32| json!([{"name": "xgb", "weight": a}, {"name": "rf", "weight": b}]);
    json!({
        "signing": {"keys_env": SIGNING_VARIABLE},
        "fleet": {"prometheus": {"cluster": PROMETHEUS_CLUSTER,
            "authority": "prometheus.monitoring.svc.cluster.local:9090",
            "selector": "namespace=\"istio-system\"", "timeout_ms": 1000, "delay_seconds": 2,
            "window_seconds": 300}},
        "experiments": [
            {"name": "fixed", "match": {"path_prefix": "/seldon/default/fixed/"},
             "predictors": predictors(80, 20), "sticky": {"user_header": "x-user-id"}},
            {"name": "churn", "match": {"path_prefix": "/seldon/default/churn/"},
             "predictors": predictors(50, 50), "sticky": {"user_header": "x-user-id"},
             "adaptive": {"policy": "thompson", "update_seconds": 5, "min_outcomes": 200,
                          "min_share_percent": 5, "pooled": true}},
            {"name": "fraud-detection", "match": {"path_prefix": "/seldon/default/fraud-detection/"},
             "predictors": predictors(50, 50), "sticky": {"user_header": "x-user-id"},
             "override": {"signed": true},
             "rollout": {"canary": "rf", "start": start,
                         "steps": [{"percent": 10, "minutes": 2}, {"percent": 30, "minutes": 3},
                                   {"percent": 60, "minutes": 3}, {"percent": 100}],
                         "update_seconds": 5, "pooled": true},
             "shadow": {"name": predictor_router_e2e::shadow::NAME, "cluster": shadow_cluster,
                        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
                        "percent": 10, "timeout_ms": 1000, "max_in_flight": 64}}
        ]
    })
}

/// A token forcing rf in fraud-detection, valid for a day.
fn token() -> String {
    use predictor_router::router::signing::{mint, KeySet};
    let keys = KeySet::parse(KEY).unwrap_or_else(|e| panic!("the soak key: {e:?}"));
    mint(&keys, "fraud-detection", "rf", unix_now() + 86_400)
        .unwrap_or_else(|| panic!("minting a token: the key set is empty"))
}

/// The wrk script: request i goes to experiment i % 3, as one of six kinds (new visitor, cookie,
/// cookie of the other predictor, user id, a valid token, a plain name); user ids unbounded.
fn wrk_lua(token: &str) -> String {
    format!(
        r#"
local counter = 0
local experiments = {{ "fixed", "churn", "fraud-detection" }}
local body = '{body}'
request = function()
  counter = counter + 1
  local experiment = experiments[(counter % 3) + 1]
  local path = "/seldon/default/" .. experiment .. "/api/v1.0/predictions"
  local kind = math.floor(counter / 3) % 6
  local headers = {{ ["content-type"] = "application/json" }}
  if kind == 1 then
    headers["cookie"] = "session=abc; pr-" .. experiment .. "=xgb"
  elseif kind == 2 then
    headers["cookie"] = "pr-" .. experiment .. "=rf"
  elseif kind == 3 then
    headers["x-user-id"] = "user-" .. counter
  elseif kind == 4 then
    headers["x-predictor-override"] = "{token}"
  elseif kind == 5 then
    headers["x-predictor-override"] = "rf"
  end
  return wrk.format("POST", path, headers, body)
end
"#,
        body = predictor_router_module_tests::request_mix::BODY,
    )
}

struct Soak {
    envoy: Envoy,
    _upstreams: Vec<PredictorServer>,
    _shadow: PredictorServer,
    _prometheus: Prometheus,
}

fn start() -> Soak {
    let upstreams: Vec<PredictorServer> = PREDICTORS.iter().map(|n| PredictorServer::start(n)).collect();
    let shadow = PredictorServer::start("rf-v2");
    for server in upstreams.iter().chain([&shadow]) {
        server.record.store(false, std::sync::atomic::Ordering::Relaxed);
    }
    let prometheus_port = free_port();
    let options = GatewayOptions {
        concurrency: 2,
        vm_environment: vec![(SIGNING_VARIABLE.to_string(), KEY.to_string())],
        extra_clusters: vec![
            (PROMETHEUS_CLUSTER.to_string(), prometheus_port),
            (predictor_router_e2e::shadow::CLUSTER.to_string(), shadow.port),
        ],
        ..GatewayOptions::default()
    };
    let envoy = Gateway::start_envoy(
        plugin_config(predictor_router_e2e::shadow::CLUSTER),
        &upstreams,
        options,
    )
    .unwrap_or_else(|f| panic!("Envoy did not start: {}", f.log));
    let prometheus = Prometheus::start_on(
        prometheus_port,
        vec![scrape_job(&[(
            "gateway-0",
            format!("127.0.0.1:{}", envoy.admin_port),
        )])],
        &rule_file(),
    );
    Soak {
        envoy,
        _upstreams: upstreams,
        _shadow: shadow,
        _prometheus: prometheus,
    }
}

/// Requests Envoy's HTTP connection manager counted on the gateway's listener (stat prefix `ingress`;
/// the admin port's own requests are counted apart, under `http.admin`).
fn envoy_requests(envoy: &Envoy) -> u64 {
    let (_, body) = envoy
        .admin_get("/stats?filter=%5Ehttp%5C.ingress%5C.downstream_rq_total%24")
        .unwrap_or_default();
    body.lines()
        .filter_map(|l| l.strip_prefix("http.ingress.downstream_rq_total: "))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .sum()
}

pub fn run(duration: Duration) -> AllFeaturesReport {
    let soak = start();
    let envoy = &soak.envoy;
    let mut script = tempfile::NamedTempFile::new().expect("script file");
    script.write_all(wrk_lua(&token()).as_bytes()).unwrap();
    let url = format!("http://127.0.0.1:{}/", envoy.listener_port);
    // Warm-up: V8 tiers up, pools and stats settle, the first fleet answers arrive.
    wrk(script.path(), &url, WARM_UP_SECONDS);
    std::thread::sleep(predictor_router_e2e::http::COUNTER_FLUSH);
    let baseline = envoy.counters();
    let baseline_requests = envoy_requests(envoy);

    let seconds = duration.as_secs().max(1);
    let saturated = saturate(envoy, script.path(), &url, seconds);

    // The last copies are answered within timeout_ms; the batched counts reach Envoy within a second.
    std::thread::sleep(Duration::from_millis(1500));
    let counters = envoy.counters();
    let delta =
        |name: &str| counters.get(name).copied().unwrap_or(0) - baseline.get(name).copied().unwrap_or(0);
    let by_experiment: Vec<(String, [u64; 4])> = EXPERIMENTS
        .iter()
        .map(|e| {
            let mut reasons = [0u64; 4];
            for (slot, reason) in reasons.iter_mut().zip(REASONS) {
                *slot = PREDICTORS
                    .iter()
                    .map(|p| delta(&format!("predictor_router.{e}.{p}.decision.{reason}")))
                    .sum();
            }
            (e.to_string(), reasons)
        })
        .collect();
    let decisions =
        by_experiment.iter().flat_map(|(_, r)| r.iter()).sum::<u64>() + delta("predictor_router.unmatched");
    let shadow_total = |measure: &str| -> u64 {
        PREDICTORS
            .iter()
            .map(|p| {
                counters
                    .get(&format!(
                        "predictor_router.fraud-detection.{p}.shadow.{}.{measure}",
                        predictor_router_e2e::shadow::NAME
                    ))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    };
    let shadow_by_outcome: Vec<(String, u64)> = predictor_router_e2e::shadow::OUTCOMES
        .iter()
        .map(|o| (o.to_string(), shadow_total(o)))
        .collect();
    let shadow_copied_in_run = PREDICTORS
        .iter()
        .map(|p| {
            delta(&format!(
                "predictor_router.fraud-detection.{p}.shadow.{}.copied",
                predictor_router_e2e::shadow::NAME
            ))
        })
        .sum();
    let shadow_eligible_in_run = by_experiment
        .iter()
        .find(|(e, _)| e == "fraud-detection")
        .map_or(0, |(_, r)| r[1] + r[2] + r[3]);
    AllFeaturesReport {
        load: SoakLoad::new(seconds, saturated, envoy.wasm_errors()),
        shadow_copied_in_run,
        shadow_eligible_in_run,
        envoy_requests: envoy_requests(envoy) - baseline_requests,
        decisions,
        by_experiment,
        override_rejected: delta("predictor_router.fraud-detection.override_rejected"),
        shadow_copied: shadow_total("copied"),
        shadow_outcomes: shadow_by_outcome.iter().map(|(_, n)| n).sum(),
        shadow_by_outcome,
        fleet_ok: envoy.gauge("predictor_router.fleet.query_ok"),
        fleet_failed: envoy.gauge("predictor_router.fleet.query_failed"),
        rollout_step: envoy.gauge("predictor_router.fraud-detection.rollout.step"),
        rolled_back: envoy.gauge("predictor_router.fraud-detection.rollout.rolled_back"),
        churn_rf_share_bp: envoy.gauge("predictor_router.churn.rf.share_bp"),
    }
}
