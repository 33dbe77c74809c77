//! `make bench`: see tests/tools/src/bench/mod.rs. Writes BENCHMARKS.md (path from `--out`).

use std::process::Command;

use predictor_router_e2e::envoy::{envoy_binary, free_port, wasm_module};
use predictor_router_e2e::scenario::{
    adaptive_plugin_config, feedback_path, predict_path, repo_root, seed_plugin_config, signed_plugin_config,
};
use predictor_router_e2e::seldon::feedback_plugin_config;
use predictor_router_module_tests::figures;
use predictor_router_tools::bench::load::{measure, BenchEnvoy, Sample, ENVOY_CORE, LOAD_CORE};
use predictor_router_tools::bench::report::{render, Context, ModeResults, Target};
use predictor_router_tools::bench::variants::{
    bootstrap, upstream_bootstrap, Case, Mode, Routing, Variant, WasmFilter,
};
use predictor_router_tools::bench::{prometheus_stub, startup};

const CONNECTIONS: u32 = 32;
const SIZE_TARGET: u64 = 160 * 1024;
const STARTUP_RUNS: usize = 5;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            // The first non-blank line of either stream (envoy --version starts with a blank line).
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|_| format!("{program}: not found"))
}

/// A Seldon feedback body of about 4 KB (the request, its response, the reward).
fn four_kb_feedback() -> String {
    let row: Vec<String> = (0..12)
        .map(|i| format!("{:.6}", f64::from(i) * 0.123_457))
        .collect();
    let rows = vec![format!("[{}]", row.join(",")); 36].join(",");
    format!(
        r#"{{"request":{{"data":{{"ndarray":[{rows}]}}}},"response":{{"data":{{"ndarray":[[0.9,0.1]]}}}},"reward":1}}"#
    )
}

fn variants() -> Vec<Variant> {
    let bench = repo_root().join("dist/bench");
    let seed = seed_plugin_config().to_string();
    let wasm = |module: std::path::PathBuf| {
        Some(WasmFilter {
            module,
            configuration: seed.clone(),
            vm_environment: Vec::new(),
        })
    };
    let with_config = |configuration: String| {
        Some(WasmFilter {
            module: wasm_module(),
            configuration,
            vm_environment: Vec::new(),
        })
    };
    vec![
        Variant {
            name: "plain Envoy",
            routing: Routing::Plain,
            filter: None,
            clusters: Vec::new(),
        },
        Variant {
            name: "native header routing",
            routing: Routing::HeaderRoutes,
            filter: None,
            clusters: Vec::new(),
        },
        Variant {
            name: "native weighted_clusters",
            routing: Routing::Weighted,
            filter: None,
            clusters: Vec::new(),
        },
        Variant {
            name: "no-op wasm",
            routing: Routing::Plain,
            filter: wasm(bench.join("floor_noop.wasm")),
            clusters: Vec::new(),
        },
        Variant {
            name: "set-header wasm",
            routing: Routing::HeaderRoutes,
            filter: wasm(bench.join("floor_set_header.wasm")),
            clusters: Vec::new(),
        },
        Variant {
            name: "predictor-router",
            routing: Routing::HeaderRoutes,
            filter: wasm(wasm_module()),
            clusters: Vec::new(),
        },
        Variant {
            name: "predictor-router, all SDK exports",
            routing: Routing::HeaderRoutes,
            filter: wasm(bench.join("predictor_router_all_exports.wasm")),
            clusters: Vec::new(),
        },
        Variant {
            name: "predictor-router, adaptive (response)",
            routing: Routing::HeaderRoutes,
            filter: with_config(adaptive_plugin_config().to_string()),
            clusters: Vec::new(),
        },
        Variant {
            name: "predictor-router, adaptive (feedback)",
            routing: Routing::HeaderRoutes,
            filter: with_config(feedback_plugin_config(10, 100).to_string()),
            clusters: Vec::new(),
        },
        Variant {
            name: "predictor-router, signed overrides",
            routing: Routing::HeaderRoutes,
            filter: Some(WasmFilter {
                module: wasm_module(),
                configuration: signed_plugin_config().to_string(),
                vm_environment: vec![(SIGNING_VARIABLE.to_string(), BENCH_KEY.to_string())],
            }),
            clusters: Vec::new(),
        },
        Variant {
            name: "predictor-router, shadow 0.01 %",
            routing: Routing::HeaderRoutes,
            filter: with_config(shadow_bench_config(0.01).to_string()),
            clusters: vec![(SHADOW_CLUSTER.to_string(), shadow_port())],
        },
        Variant {
            name: "predictor-router, shadow 100 %",
            routing: Routing::HeaderRoutes,
            filter: with_config(shadow_bench_config(100.0).to_string()),
            clusters: vec![(SHADOW_CLUSTER.to_string(), shadow_port())],
        },
        Variant {
            name: "predictor-router, adaptive pooled (fleet)",
            routing: Routing::HeaderRoutes,
            filter: with_config(fleet_bench_config().to_string()),
            clusters: vec![(FLEET_CLUSTER.to_string(), prometheus_stub::start())],
        },
    ]
}

const FLEET_CLUSTER: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";
const SHADOW_CLUSTER: &str = predictor_router_e2e::shadow::CLUSTER;
/// The upstream mode's case whose every request is copied to the shadow.
const COPIED_CASE: &str = "shadow 100 %, sticky, POST 4 KB (copied)";

/// A loopback shadow predictor for the whole run (it answers like a Seldon model, at once).
fn shadow_port() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        let server = predictor_router_e2e::upstream::PredictorServer::start("rf-v2");
        server.record.store(false, std::sync::atomic::Ordering::Relaxed);
        let port = server.port;
        std::mem::forget(server); // serves until the bench exits
        port
    })
}

/// The shipped experiment with a shadow copying `percent` of its requests (0.01 %: the contract's least,
/// as near to "configured but not copying" as the configuration allows).
fn shadow_bench_config(percent: f64) -> serde_json::Value {
    predictor_router_e2e::shadow::plugin_config(
        serde_json::json!({"percent": percent, "max_in_flight": 10000}),
    )
}

/// The adaptive variant pooled through the fleet view, with a query every second (`update_seconds` 1:
/// ten times the shipped rate, the worst case for the tick).
fn fleet_bench_config() -> serde_json::Value {
    let mut config = adaptive_plugin_config();
    config["experiments"][0]["adaptive"]["pooled"] = true.into();
    config["experiments"][0]["adaptive"]["update_seconds"] = 1.into();
    config["fleet"] = serde_json::json!({"prometheus": {"cluster": FLEET_CLUSTER,
        "authority": "prometheus.monitoring.svc.cluster.local:9090", "selector": "namespace=\"istio-system\""}});
    config
}

const SIGNING_VARIABLE: &str = "PREDICTOR_ROUTER_KEYS";
/// A 32-byte key for the signed-overrides variant (base64url), as `openssl rand -base64 32` makes.
const BENCH_KEY: &str = "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw";

/// A token for rf, valid for a day (the bench takes well under that).
fn bench_token() -> String {
    use predictor_router::router::signing::{mint, KeySet};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let keys = KeySet::parse(BENCH_KEY).expect("the bench key is valid");
    mint(&keys, "fraud-detection", "rf", now + 86_400).expect("a key to mint with")
}

fn cases(variants: &[Variant], mode: Mode) -> Vec<Case> {
    let find = |name: &str| variants.iter().position(|v| v.name == name).unwrap();
    let case = |name: &str, variant: &str, headers: &[(&str, &str)]| Case {
        name: name.to_string(),
        variant: find(variant),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        post: None,
    };
    let post = |name: &str, variant: &str, headers: &[(&str, &str)], path: &str| Case {
        post: Some((path.to_string(), four_kb_feedback())),
        ..case(name, variant, headers)
    };
    let mut cases = vec![
        case("plain Envoy", "plain Envoy", &[]),
        case(
            "native header routing",
            "native header routing",
            &[("x-predictor", "rf")],
        ),
    ];
    if mode == Mode::Upstream {
        cases.push(case("native weighted_clusters", "native weighted_clusters", &[]));
        // The copied prediction is measured here, not against direct_response: a route answering
        // at the request headers ends the stream before the body is read, so no copy would be whole
        // and every one would be skipped, not sent. The shadow's counters are read after the rounds.
        let sticky = [("cookie", "pr-fraud-detection=rf")];
        cases.extend([
            post(
                "shadow 0.01 %, sticky, POST 4 KB",
                "predictor-router, shadow 0.01 %",
                &sticky,
                predict_path(),
            ),
            post(
                COPIED_CASE,
                "predictor-router, shadow 100 %",
                &sticky,
                predict_path(),
            ),
        ]);
    }
    cases.extend([
        case("no-op wasm", "no-op wasm", &[]),
        case("set-header wasm", "set-header wasm", &[]),
        case("predictor-router, random", "predictor-router", &[]),
        case(
            "predictor-router, sticky",
            "predictor-router",
            &[("cookie", "pr-fraud-detection=rf")],
        ),
        case(
            "predictor-router, hashed",
            "predictor-router",
            &[("x-user-id", "alice")],
        ),
        case(
            "predictor-router, forced",
            "predictor-router",
            &[("x-predictor-override", "rf")],
        ),
    ]);
    if mode == Mode::Direct {
        let sticky = [("cookie", "pr-fraud-detection=rf")];
        cases.extend([
            case(
                "predictor-router, random, all SDK exports",
                "predictor-router, all SDK exports",
                &[],
            ),
            post(
                "predictor-router, sticky, POST 4 KB",
                "predictor-router",
                &sticky,
                predict_path(),
            ),
            case(
                "adaptive (response), random",
                "predictor-router, adaptive (response)",
                &[],
            ),
            case(
                "adaptive (response), sticky",
                "predictor-router, adaptive (response)",
                &sticky,
            ),
            post(
                "adaptive (feedback), feedback POST 4 KB",
                "predictor-router, adaptive (feedback)",
                &sticky,
                feedback_path(),
            ),
            case(
                "adaptive pooled (fleet), random",
                "predictor-router, adaptive pooled (fleet)",
                &[],
            ),
            case(
                "adaptive pooled (fleet), sticky",
                "predictor-router, adaptive pooled (fleet)",
                &sticky,
            ),
            case(
                "shadow 0.01 %, sticky",
                "predictor-router, shadow 0.01 %",
                &sticky,
            ),
            post(
                "shadow 0.01 %, sticky, POST 4 KB",
                "predictor-router, shadow 0.01 %",
                &sticky,
                predict_path(),
            ),
            case(
                "signed override, forced (token)",
                "predictor-router, signed overrides",
                &[("x-predictor-override", &bench_token())],
            ),
        ]);
    }
    cases
}

fn run_mode(
    mode: Mode,
    rounds: usize,
    seconds: u32,
    dir: &std::path::Path,
    resident: &mut Vec<(String, u64)>,
) -> ModeResults {
    let variants = variants();
    let cases = cases(&variants, mode);
    let upstream = (mode == Mode::Upstream).then(|| {
        let (listener, admin) = (free_port(), free_port());
        BenchEnvoy::start(
            dir,
            "upstream",
            &upstream_bootstrap(listener, admin),
            listener,
            admin,
            LOAD_CORE,
        )
    });
    let mut used: Vec<usize> = cases.iter().map(|c| c.variant).collect();
    used.dedup();
    let envoys: Vec<Option<BenchEnvoy>> = (0..variants.len())
        .map(|i| {
            used.contains(&i).then(|| {
                let (listener, admin) = (free_port(), free_port());
                let doc = bootstrap(
                    &variants[i],
                    mode,
                    listener,
                    admin,
                    upstream.as_ref().map(|u| u.listener),
                );
                let name = format!("{mode:?}-{i}").to_lowercase();
                BenchEnvoy::start(dir, &name, &doc, listener, admin, ENVOY_CORE)
            })
        })
        .collect();
    let run = |case: &Case, secs: u32| -> Sample {
        let envoy = envoys[case.variant].as_ref().unwrap();
        let (path, body) = match &case.post {
            Some((path, body)) => (path.as_str(), Some((body.as_str(), dir))),
            None => (predict_path(), None),
        };
        measure(envoy, path, &case.headers, body, secs, CONNECTIONS)
    };
    eprintln!("{mode:?}: warming up {} cases", cases.len());
    for case in &cases {
        run(case, 1);
    }
    let mut all = Vec::new();
    for round in 0..rounds {
        let samples: Vec<Sample> = cases.iter().map(|c| run(c, seconds)).collect();
        eprintln!(
            "{mode:?} round {}/{rounds}: {}",
            round + 1,
            cases
                .iter()
                .zip(&samples)
                .map(|(c, s)| format!("{}={:.0}rps/{:.1}µs", c.name, s.rps, s.cpu_us))
                .collect::<Vec<_>>()
                .join(" ")
        );
        all.push(samples);
    }
    if mode == Mode::Direct {
        for (i, envoy) in envoys.iter().enumerate() {
            if let Some(e) = envoy {
                resident.push((variants[i].name.to_string(), e.resident_bytes()));
            }
        }
    }
    // What became of the copies (`shadow 100 %`): proof that they were sent and answered.
    let shadow_outcomes = cases
        .iter()
        .find(|c| c.name == COPIED_CASE)
        .and_then(|c| envoys[c.variant].as_ref())
        .map(|e| shadow_counters(e.admin))
        .unwrap_or_default();
    ModeResults {
        cases: cases.iter().map(|c| c.name.clone()).collect(),
        rounds: all,
        shadow_outcomes,
    }
}

/// The shadow's counters of an Envoy, summed over the served predictors: `copied` and each outcome.
fn shadow_counters(admin: u16) -> Vec<(String, u64)> {
    let body = predictor_router_e2e::http::HttpClient::new(admin)
        .send(&predictor_router_e2e::http::Request::get(
            "/stats?filter=%5Ewasmcustom%5C.predictor_router",
        ))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap_or_default();
    let name = predictor_router_e2e::shadow::NAME;
    ["copied"]
        .iter()
        .chain(predictor_router_e2e::shadow::OUTCOMES.iter())
        .map(|measure| {
            let sum = body
                .lines()
                .filter_map(|l| l.split_once(": "))
                .filter(|(k, _)| k.ends_with(&format!(".shadow.{name}.{measure}")))
                .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
                .sum();
            (measure.to_string(), sum)
        })
        .collect()
}

fn main() {
    let out = std::env::args()
        .skip_while(|a| a != "--out")
        .nth(1)
        .unwrap_or_else(|| "BENCHMARKS.md".into());
    let rounds = env_or("BENCH_ROUNDS", 10) as usize;
    let seconds = env_or("BENCH_SECONDS", 1) as u32;
    let memory_requests = env_or("BENCH_MEMORY_REQUESTS", 1_000_000);
    let dir = tempfile::Builder::new()
        .prefix("predictor-router-bench-")
        .tempdir()
        .unwrap();

    eprintln!("harness figures ({memory_requests} requests for the memory figure)");
    let module = std::fs::read(wasm_module()).unwrap();
    let figures = figures::measure(&module, memory_requests);

    let mut resident = Vec::new();
    let direct = run_mode(Mode::Direct, rounds, seconds, dir.path(), &mut resident);
    let upstream = run_mode(Mode::Upstream, rounds, seconds, dir.path(), &mut resident);

    let bench_dir = repo_root().join("dist/bench");
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let shipped = size(wasm_module());
    let sizes = vec![
        ("dist/predictor_router.wasm (shipped)".to_string(), shipped),
        (
            "predictor-router with all SDK exports".to_string(),
            size(bench_dir.join("predictor_router_all_exports.wasm")),
        ),
        ("no-op floor".to_string(), size(bench_dir.join("floor_noop.wasm"))),
        (
            "set-header floor".to_string(),
            size(bench_dir.join("floor_set_header.wasm")),
        ),
    ];

    eprintln!("start-up: plain Envoy and the shipped module, {STARTUP_RUNS} starts each");
    let all = variants();
    let startup_variants: Vec<&Variant> = ["plain Envoy", "set-header wasm", "predictor-router"]
        .iter()
        .filter_map(|name| all.iter().find(|v| v.name == *name))
        .collect();
    let startup = startup::measure(&startup_variants, dir.path(), STARTUP_RUNS);

    let cpu = |s: &Sample| s.cpu_us;
    let mut targets = Vec::new();
    if let (Some(set), Some(plain)) = (direct.index("set-header wasm"), direct.index("plain Envoy")) {
        let set_over_plain = direct.median_difference(set, plain, cpu);
        for path in ["random", "sticky", "hashed", "forced"] {
            let i = direct.index(&format!("predictor-router, {path}")).unwrap();
            let over_plain = direct.median_difference(i, plain, cpu);
            let ratio = over_plain / set_over_plain;
            targets.push(Target {
                what: format!(
                    "Envoy CPU over plain Envoy, {path}: at most 1.6× the set-header-only filter's"
                ),
                measured: format!("{ratio:.2}× ({over_plain:+.1} vs {set_over_plain:+.1} µs)"),
                met: ratio <= 1.6,
            });
        }
    }
    if let Some(native) = upstream.index("native header routing") {
        for path in ["random", "sticky", "hashed", "forced"] {
            let i = upstream.index(&format!("predictor-router, {path}")).unwrap();
            let r = upstream.median_ratio(i, native, |s| s.rps);
            targets.push(Target {
                what: format!("throughput vs native header routing with an upstream, {path}: at least 0.90"),
                measured: format!("{r:.3}"),
                met: r >= 0.90,
            });
        }
    }
    // Shadow comparison: configured but (almost) never copying costs nothing measurable.
    let pairs = [
        (
            "shadow 0.01 %, sticky, POST 4 KB",
            "predictor-router, sticky, POST 4 KB",
            "Envoy CPU, shadow at 0.01 % vs no shadow (POST 4 KB): within noise (±3 µs)",
            Some(3.0),
        ),
        (
            "shadow 0.01 %, sticky",
            "predictor-router, sticky",
            "Envoy CPU, shadow at 0.01 % vs no shadow (GET): within noise (±3 µs)",
            Some(3.0),
        ),
    ];
    for (case, against, what, noise) in pairs {
        if let (Some(i), Some(j)) = (direct.index(case), direct.index(against)) {
            let d = direct.median_difference(i, j, cpu);
            targets.push(Target {
                what: what.into(),
                measured: format!("{d:+.1} µs per request"),
                met: noise.is_none_or(|n| d.abs() <= n),
            });
        }
    }
    if let (Some(i), Some(j)) = (
        upstream.index(COPIED_CASE),
        upstream.index("shadow 0.01 %, sticky, POST 4 KB"),
    ) {
        let d = upstream.median_difference(i, j, cpu);
        let sent = upstream
            .shadow_outcomes
            .iter()
            .find(|(m, _)| m == "copied")
            .map_or(0, |(_, v)| *v);
        let skipped = upstream
            .shadow_outcomes
            .iter()
            .find(|(m, _)| m == "skipped")
            .map_or(0, |(_, v)| *v);
        targets.push(Target {
            what: "Envoy CPU with an upstream, a copied 4 KB prediction vs the same not copied (a figure; met when the copies were sent, not skipped)".into(),
            measured: format!("{d:+.1} µs per request ({sent} copied, {skipped} of them skipped)"),
            met: sent > 0 && skipped * 10 < sent,
        });
    }
    targets.push(Target {
        what: "module size after wasm-opt: at most 160 KB (163,840 bytes)".into(),
        measured: format!("{shipped} bytes"),
        met: shipped <= SIZE_TARGET,
    });
    let thousand = figures.configure.iter().find(|c| c.experiments == 1000).unwrap();
    targets.push(Target {
        what: "`on_configure`, 1,000 experiments × 8 predictors: under 20 ms in the harness".into(),
        measured: format!("{:.2} ms", thousand.millis),
        met: thousand.millis < 20.0,
    });
    let one = figures.scaling.first().unwrap();
    let many = figures.scaling.last().unwrap();
    let ratio = many.routed_fuel as f64 / one.routed_fuel as f64;
    targets.push(Target {
        what: "fuel per request at 1,000 experiments within 1.2× of 1 experiment".into(),
        measured: format!("{ratio:.2}× ({} vs {})", many.routed_fuel, one.routed_fuel),
        met: ratio <= 1.2,
    });

    let ctx = Context {
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: format!(
            "{} cores, {}, {:.0} GiB memory, {}",
            command_line("nproc", &[]),
            std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string()))
                .unwrap_or_default(),
            std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| m
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
                .unwrap_or(0.0)
                / 1048576.0,
            command_line("uname", &["-sr"])
        ),
        versions: vec![
            format!(
                "Envoy: {}",
                command_line(&envoy_binary().display().to_string(), &["--version"])
                    .replace(&envoy_binary().display().to_string(), "")
                    .trim()
                    .to_string()
            ),
            command_line("rustc", &["--version"]),
            command_line("wrk", &["-v"]),
            command_line("wasm-opt", &["--version"]),
        ],
        command: format!("make bench (BENCH_ROUNDS={rounds}, BENCH_SECONDS={seconds})"),
        rounds,
        seconds,
        connections: CONNECTIONS,
        sizes,
        resident,
        startup,
    };
    let md = render(&ctx, &direct, &upstream, &figures, &targets);
    std::fs::write(repo_root().join(&out), &md).expect("write the report");
    println!("{md}");
}
