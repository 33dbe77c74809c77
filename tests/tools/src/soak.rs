//! The soak: saturating load through a real Envoy (two workers) with a mix of new visitors, returning
//! visitors with cookies, user ids and forced requests; then the verdict: no failed request, no wasm
//! error, Envoy's memory flat, the module's linear memory flat (harness, same mix), and the observed
//! split of new assignments within its bound.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bench::load::parse_wrk;
use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::scenario::predict_path;
use predictor_router_e2e::scenario::{predictor_names, seed_plugin_config};
use predictor_router_e2e::stats::{chi_square, chi_square_critical_p001, split_degrees_of_freedom};
use predictor_router_module_tests::module::module_bytes;
use predictor_router_module_tests::request_mix::{linear_memory, RequestMix};

/// What every soak checks of its load: wrk's figures, Envoy's wasm errors and resident memory.
pub struct SoakLoad {
    pub seconds: u64,
    pub requests: u64,
    pub rps: f64,
    pub p99_us: f64,
    pub non_2xx: u64,
    pub socket_errors: String,
    pub wasm_errors: Vec<String>,
    /// (seconds into the run, Envoy resident bytes); the first is where growth is measured from.
    pub resident: Vec<(u64, u64)>,
}

impl SoakLoad {
    pub fn new(seconds: u64, saturated: Saturated, wasm_errors: Vec<String>) -> Self {
        SoakLoad {
            seconds,
            requests: saturated.sample.requests,
            rps: saturated.sample.rps,
            p99_us: saturated.sample.p99_us,
            non_2xx: saturated.sample.non_2xx,
            socket_errors: saturated.socket_errors,
            wasm_errors,
            resident: saturated.resident,
        }
    }

    /// Envoy's resident memory at the end over the first sample.
    pub fn resident_growth(&self) -> f64 {
        let first = self.resident.first().map_or(0, |r| r.1);
        let last = self.resident.last().map_or(0, |r| r.1);
        last as f64 / first.max(1) as f64
    }

    /// Each failed check, by name: requests, non-2xx, socket errors, wasm errors, memory growth over
    /// `growth_bound`.
    pub fn failures(&self, growth_bound: f64) -> Vec<String> {
        let checks = [
            (self.requests > 0, "no requests".to_string()),
            (self.non_2xx == 0, format!("{} non-2xx responses", self.non_2xx)),
            // wrk prints the line only when there were errors
            (
                !self.socket_errors.contains("read"),
                format!("socket errors: {}", self.socket_errors),
            ),
            (
                self.wasm_errors.is_empty(),
                format!("wasm errors: {:?}", self.wasm_errors),
            ),
            (
                self.resident_growth() <= growth_bound,
                format!(
                    "resident memory grew {:.3}× (bound {growth_bound}×)",
                    self.resident_growth()
                ),
            ),
        ];
        checks
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, what)| what)
            .collect()
    }

    /// The load's lines of a report.
    pub fn render(&self, growth_bound: f64) -> String {
        let mut out = format!(
            "requests: {} ({:.0}/s), p99 {:.0} µs, non-2xx: {}, socket errors: {}\n\
             wasm errors in Envoy's log: {}\n",
            self.requests,
            self.rps,
            self.p99_us,
            self.non_2xx,
            if self.socket_errors.is_empty() {
                "none"
            } else {
                &self.socket_errors
            },
            self.wasm_errors.len()
        );
        out.push_str("Envoy resident memory:");
        for (t, bytes) in &self.resident {
            out.push_str(&format!(" {t}s {:.1} MB,", *bytes as f64 / 1e6));
        }
        out.push_str(&format!(
            " growth {:.3}x (bound {growth_bound}x)\n",
            self.resident_growth()
        ));
        out
    }
}

/// Envoy's memory may grow by this much over the mixed soak.
const RESIDENT_GROWTH_BOUND: f64 = 1.10;

pub struct SoakReport {
    pub load: SoakLoad,
    pub linear_memory: (usize, usize, u64),
    /// The shipped experiment's predictors and configured weights.
    pub predictors: Vec<(String, f64)>,
    /// (reason, counts per predictor, chi-square, bound)
    pub splits: Vec<(&'static str, Vec<u64>, f64, f64)>,
}

impl SoakReport {
    pub fn passed(&self) -> bool {
        self.load.failures(RESIDENT_GROWTH_BOUND).is_empty()
            && self.linear_memory.0 == self.linear_memory.1
            && self.splits.iter().all(|(_, _, chi2, bound)| chi2 < bound)
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "soak: {} s through Envoy (2 workers), wrk -t2 -c32, mix of new visitors, cookies, user ids, forced\n",
            self.load.seconds
        );
        out.push_str(&self.load.render(RESIDENT_GROWTH_BOUND));
        out.push_str(&format!(
            "module linear memory (harness, same mix, {} requests): {} -> {} bytes\n",
            self.linear_memory.2, self.linear_memory.0, self.linear_memory.1
        ));
        let total_weight: f64 = self.predictors.iter().map(|(_, w)| w).sum();
        for (reason, counts, chi2, bound) in &self.splits {
            let n: u64 = counts.iter().sum();
            let shares: Vec<String> = self
                .predictors
                .iter()
                .zip(counts)
                .map(|((name, weight), c)| {
                    format!(
                        "{name} {c} ({:.2} %, configured {:.0} %)",
                        100.0 * *c as f64 / n.max(1) as f64,
                        100.0 * weight / total_weight.max(1.0)
                    )
                })
                .collect();
            out.push_str(&format!(
                "{reason} assignments of {n}: {}, chi-square {chi2:.2} (bound {bound:.2} at p = 0.001)\n",
                shares.join(", ")
            ));
        }
        out.push_str(if self.passed() { "PASSED\n" } else { "FAILED\n" });
        out
    }
}

pub fn run(duration: Duration, linear_memory_requests: u64) -> SoakReport {
    let gw = Gateway::start_with(
        seed_plugin_config(),
        GatewayOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    for upstream in &gw.upstreams {
        upstream.record.store(false, std::sync::atomic::Ordering::SeqCst);
    }
    let mut script = tempfile::NamedTempFile::new().expect("script file");
    script
        .write_all(RequestMix::shipped().wrk_lua().as_bytes())
        .unwrap();
    let url = format!("http://127.0.0.1:{}{}", gw.envoy.listener_port, predict_path());
    wrk(script.path(), &url, 3); // warm-up: V8 tiers up, pools and stats settle
    let baseline = gw.envoy.counters();

    let seconds = duration.as_secs().max(1);
    let saturated = saturate(&gw.envoy, script.path(), &url, seconds);

    // wrk is another process: wait for the filter's batched counts (at most a second) explicitly.
    std::thread::sleep(predictor_router_e2e::http::COUNTER_FLUSH);
    let counters = gw.envoy.counters();
    let delta =
        |name: &str| counters.get(name).copied().unwrap_or(0) - baseline.get(name).copied().unwrap_or(0);
    let config = seed_plugin_config();
    let experiment = config["experiments"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let names = predictor_names(&config);
    let weights: Vec<f64> = config["experiments"][0]["predictors"]
        .as_array()
        .map(|ps| ps.iter().map(|p| p["weight"].as_f64().unwrap_or(0.0)).collect())
        .unwrap_or_default();
    let splits = ["random", "hashed"]
        .iter()
        .map(|reason| {
            let counts: Vec<u64> = names
                .iter()
                .map(|p| delta(&format!("predictor_router.{experiment}.{p}.decision.{reason}")))
                .collect();
            let df = split_degrees_of_freedom(&weights);
            (
                *reason,
                counts.clone(),
                chi_square(&counts, &weights),
                chi_square_critical_p001(df),
            )
        })
        .collect();

    SoakReport {
        load: SoakLoad::new(seconds, saturated, gw.envoy.wasm_errors()),
        linear_memory: linear_memory_figure(linear_memory_requests),
        predictors: names.into_iter().zip(weights).collect(),
        splits,
    }
}

/// The module's linear memory before and after the standard mix (see [`linear_memory`]).
fn linear_memory_figure(requests: u64) -> (usize, usize, u64) {
    let (before, after) = linear_memory(module_bytes(), requests);
    (before, after, requests)
}

/// Connections wrk keeps open (two threads).
pub const CONNECTIONS: u32 = 32;

/// `wrk -t2 -c32` with `script` against `url` for `seconds`; its output.
pub fn wrk(script: &std::path::Path, url: &str, seconds: u64) -> std::process::Output {
    Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .expect("run wrk (apt-get install wrk)")
}

/// What a saturating run gave: wrk's figures, its socket-error line (empty: none), and Envoy's
/// resident memory (seconds into the run, bytes) at the start, every tenth of the run, and the end.
pub struct Saturated {
    pub sample: crate::bench::load::Sample,
    pub socket_errors: String,
    pub resident: Vec<(u64, u64)>,
}

/// [`wrk`] for `seconds`, sampling `envoy`'s resident memory while it runs.
pub fn saturate(
    envoy: &predictor_router_e2e::envoy::Envoy,
    script: &std::path::Path,
    url: &str,
    seconds: u64,
) -> Saturated {
    let started = Instant::now();
    let rss = || envoy.resident_bytes().unwrap_or(0);
    let mut resident = vec![(0, rss())];
    let output = std::thread::scope(|scope| {
        let load = scope.spawn(|| wrk(script, url, seconds));
        let step = (seconds / 10).max(1);
        while !load.is_finished() {
            std::thread::sleep(Duration::from_millis(200));
            let t = started.elapsed().as_secs();
            if t >= resident.last().map_or(0, |r| r.0) + step && t < seconds {
                resident.push((t, rss()));
            }
        }
        load.join().unwrap()
    });
    resident.push((started.elapsed().as_secs(), rss()));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let socket_errors = text
        .lines()
        .find(|l| l.contains("Socket errors"))
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    Saturated {
        sample: parse_wrk(&text),
        socket_errors,
        resident,
    }
}
