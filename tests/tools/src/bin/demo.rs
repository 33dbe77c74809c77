//! `make demo`: the seed's fraud-detection experiment in a real Envoy, traffic from three kinds of
//! client, and a report a person can read. Exits non-zero if anything looked wrong.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use predictor_router::router::bucketing::{user_bucket, BucketTable};
use predictor_router_e2e::envoy::{envoy_binary, wasm_module};
use predictor_router_e2e::gateway::{Gateway, GatewayOptions};
use predictor_router_e2e::http::{HttpClient, Request, Response};
use predictor_router_e2e::monitoring::{rule_file, samples, scrape_job, Prometheus};
use predictor_router_e2e::scenario::{
    adaptive_plugin_config, overlays_dir, predictor_names, rollout_plugin_config, seed_plugin_config,
    signed_plugin_config, wasmplugin_manifest,
};
use predictor_router_e2e::stats::{
    chi_square, chi_square_critical_p001, split_degrees_of_freedom, wilson_interval,
};
use predictor_router_e2e::upstream::Behaviour;

const USERS: usize = 2000;
const VISITORS: usize = 1000;
const RETURNS_PER_VISITOR: usize = 2;
const TESTER_REQUESTS: usize = 200;
const THREADS: usize = 4;
const Z_999: f64 = 3.29;

#[derive(Default)]
struct Tally {
    non_2xx: u64,
    requests: u64,
}

fn main() {
    let started = Instant::now();
    let config = seed_plugin_config();
    let experiment = &config["experiments"][0];
    let exp_name = experiment["name"].as_str().unwrap().to_string();
    let path = format!(
        "{}api/v1.0/predictions",
        experiment["match"]["path_prefix"].as_str().unwrap_or("/")
    );
    let names = predictor_names(&config);
    let weights: Vec<u32> = experiment["predictors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["weight"].as_f64().unwrap() as u32)
        .collect();
    let forced = names.get(1).cloned().unwrap_or_else(|| names[0].clone());

    let gw = Gateway::start_with(
        config.clone(),
        GatewayOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    let port = gw.envoy.listener_port;
    // DEMO_PROMETHEUS=1: a Prometheus beside this Envoy, with the shipped rules and scrape job.
    let prometheus = (std::env::var("DEMO_PROMETHEUS").as_deref() == Ok("1")).then(|| {
        let job = scrape_job(&[("demo-gateway", format!("127.0.0.1:{}", gw.envoy.admin_port))]);
        let prometheus = Prometheus::start(vec![job], &rule_file());
        // Counters appear on first use: Prometheus must scrape them once before the traffic, or
        // rate() sees no increase. A few warm-up requests define them.
        let mut client = HttpClient::new(port);
        for i in 0..20 {
            let _ = client.send(&Request::predict(&path).header("x-user-id", format!("warm-up-{i}")));
            let _ = client.send(&Request::predict(&path));
        }
        thread::sleep(Duration::from_secs(2));
        println!("(DEMO_PROMETHEUS=1: 40 warm-up requests went first, so that Prometheus scraped the counters before the traffic)");
        prometheus
    });
    let tally = Arc::new(Mutex::new(Tally::default()));
    let record = {
        let tally = tally.clone();
        move |r: &std::io::Result<Response>| -> Option<String> {
            let mut t = tally.lock().unwrap();
            t.requests += 1;
            match r {
                Ok(r) if r.status / 100 == 2 => r.served_by().map(str::to_string),
                _ => {
                    t.non_2xx += 1;
                    None
                }
            }
        }
    };
    let index_of = |p: &str| names.iter().position(|n| n == p);

    println!("predictor-router demo");
    println!(
        "  Envoy   {} (runtime envoy.wasm.runtime.v8, 2 workers)",
        envoy_binary().display()
    );
    println!(
        "  module  {} ({} bytes)",
        wasm_module().display(),
        std::fs::metadata(wasm_module()).map(|m| m.len()).unwrap_or(0)
    );
    println!(
        "  config  {} (WasmPlugin pluginConfig), delivered over ECDS",
        wasmplugin_manifest().display()
    );
    println!(
        "  experiment \"{exp_name}\": {}",
        names
            .iter()
            .zip(&weights)
            .map(|(n, w)| format!("{n} {w}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();

    // 1. Users with a stable id: hashed assignment, checked against the offline formula.
    let table = BucketTable::new(weights.iter().copied());
    let hashed = run_parallel(
        USERS,
        |i, client| {
            let id = format!("user-{i:05}");
            let served = record(&client.send(&Request::predict(&path).header("x-user-id", &id)));
            let expected = names[table.predictor_of(user_bucket(&exp_name, id.as_bytes())).index()].clone();
            (served, expected)
        },
        port,
    );
    let mut counts = vec![0u64; names.len()];
    let mut matches_formula = 0;
    for (served, expected) in &hashed {
        if let Some(i) = served.as_deref().and_then(index_of) {
            counts[i] += 1;
        }
        if served.as_deref() == Some(expected.as_str()) {
            matches_formula += 1;
        }
    }
    println!("1. {USERS} users sending x-user-id (hashed: same answer on every replica)");
    let split_ok = print_split(&names, &weights, &counts);
    println!("   {matches_formula} of {USERS} match the offline formula murmur3(\"{exp_name}:<id>\") → bucket → predictor");
    println!();

    // 2. Anonymous visitors with a cookie jar: random first visit, sticky afterwards.
    let visits = run_parallel(
        VISITORS,
        |_, client| {
            let first = client.send(&Request::predict(&path));
            let jar = first
                .as_ref()
                .ok()
                .and_then(|r| r.header("set-cookie"))
                .and_then(|c| c.split(';').next())
                .map(str::to_string);
            let assigned = record(&first);
            let mut stayed = 0;
            for _ in 0..RETURNS_PER_VISITOR {
                let mut request = Request::predict(&path);
                if let Some(jar) = &jar {
                    request = request.header("cookie", jar);
                }
                let served = record(&client.send(&request));
                if served.is_some() && served == assigned {
                    stayed += 1;
                }
            }
            (assigned, stayed)
        },
        port,
    );
    let mut first_counts = vec![0u64; names.len()];
    let mut stayed = 0;
    for (assigned, s) in &visits {
        if let Some(i) = assigned.as_deref().and_then(index_of) {
            first_counts[i] += 1;
        }
        stayed += s;
    }
    let returns = VISITORS * RETURNS_PER_VISITOR;
    println!("2. {VISITORS} anonymous visitors with a cookie jar (random first visit, then {RETURNS_PER_VISITOR} returns each)");
    let first_ok = print_split(&names, &weights, &first_counts);
    println!(
        "   returning visits that stayed on their predictor: {stayed} of {returns} ({:.1} %)",
        100.0 * stayed as f64 / returns as f64
    );
    println!();

    // 3. Testers forcing a predictor.
    let forced_results = run_parallel(
        TESTER_REQUESTS,
        |_, client| record(&client.send(&Request::predict(&path).header("x-predictor-override", &forced))),
        port,
    );
    let honoured = forced_results
        .iter()
        .filter(|s| s.as_deref() == Some(forced.as_str()))
        .count();
    println!("3. {TESTER_REQUESTS} tester requests with x-predictor-override: {forced}");
    println!(
        "   served by {forced}: {honoured} of {TESTER_REQUESTS} ({:.1} %)",
        100.0 * honoured as f64 / TESTER_REQUESTS as f64
    );
    println!();

    match &prometheus {
        Some(prometheus) => print_recording_rules(prometheus),
        None => println!(
            "   (make demo DEMO_PROMETHEUS=1 runs Prometheus beside this Envoy with envoyfilter/overlays/monitoring's rules)"
        ),
    }
    println!();

    let adaptive_ok = adaptive_part(&path);
    println!();
    let signed_ok = signed_part(&path);
    println!();
    let rollout_ok = rollout_part(&path);
    println!();

    println!("Envoy's counters (/stats/prometheus):");
    for line in gw.envoy.prometheus() {
        println!("   {line}");
    }
    let wasm_errors = gw.envoy.wasm_errors();
    let t = tally.lock().unwrap();
    println!();
    println!(
        "{} requests, {} non-2xx, {} wasm errors in Envoy's log, {:.1} s",
        t.requests,
        t.non_2xx,
        wasm_errors.len(),
        started.elapsed().as_secs_f64()
    );
    let healthy = t.non_2xx == 0
        && wasm_errors.is_empty()
        && matches_formula == USERS
        && stayed == returns
        && honoured == TESTER_REQUESTS
        && split_ok
        && first_ok
        && adaptive_ok
        && signed_ok
        && rollout_ok;
    if !healthy {
        eprintln!("demo: something was off (see above)");
        for e in wasm_errors {
            eprintln!("  {e}");
        }
        std::process::exit(1);
    }
}

/// `n` new visitors (no cookie, no user id): the predictor each was given (`x-predictor`).
fn new_visitors(n: usize, path: &str, port: u16) -> Vec<Option<String>> {
    run_parallel(
        n,
        |_, client| {
            client
                .send(&Request::predict(path))
                .ok()
                .and_then(|r| r.header("x-predictor").map(str::to_string))
        },
        port,
    )
}

/// Runs `job` for 0..n over a few threads, each with its own keep-alive connection; results in order.
fn run_parallel<T: Send>(n: usize, job: impl Fn(usize, &mut HttpClient) -> T + Sync, port: u16) -> Vec<T> {
    let job = &job;
    let mut all: Vec<(usize, T)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut client = HttpClient::new(port);
                    (t..n)
                        .step_by(THREADS)
                        .map(|i| (i, job(i, &mut client)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Prints configured vs observed shares with a 99.9 % interval; true when consistent (chi-square, p = 0.001).
fn print_split(names: &[String], weights: &[u32], counts: &[u64]) -> bool {
    let n: u64 = counts.iter().sum();
    let total: u32 = weights.iter().sum();
    println!(
        "   {:<10} {:>10} {:>18} {:>22}",
        "predictor", "configured", "observed", "99.9 % interval"
    );
    for ((name, w), c) in names.iter().zip(weights).zip(counts) {
        let (lo, hi) = wilson_interval(*c, n, Z_999);
        println!(
            "   {:<10} {:>9.1} % {:>9.1} % ({:>5}) {:>10.1} – {:.1} %",
            name,
            100.0 * f64::from(*w) / f64::from(total),
            100.0 * *c as f64 / n.max(1) as f64,
            c,
            100.0 * lo,
            100.0 * hi
        );
    }
    let shares: Vec<f64> = weights.iter().map(|w| f64::from(*w)).collect();
    let chi2 = chi_square(counts, &shares);
    let df = split_degrees_of_freedom(&shares);
    let bound = chi_square_critical_p001(df);
    let ok = chi2 < bound && counts.iter().zip(weights).all(|(c, w)| *w > 0 || *c == 0);
    println!(
        "   chi-square {chi2:.2} (df {df}); a split this far off happens by chance under 0.1 % of the time above {bound:.2}: {}",
        if ok { "consistent with the weights" } else { "NOT consistent" }
    );
    ok
}

/// Part 4: the adaptive variant (envoyfilter/overlays/adaptive/wasmplugin.yaml) in a second Envoy, with
/// rf answering 503: the allocation of new users moves away from it while the demo watches.
fn adaptive_part(path: &str) -> bool {
    const ROUNDS: usize = 8;
    const VISITORS_PER_ROUND: usize = 200;
    let mut config = adaptive_plugin_config();
    // Faster than the manifest's (update_seconds 10, min_outcomes 100) so that it moves within seconds.
    config["experiments"][0]["adaptive"]["update_seconds"] = 1.into();
    config["experiments"][0]["adaptive"]["min_outcomes"] = 50.into();
    let adaptive = config["experiments"][0]["adaptive"].clone();
    let gw = Gateway::start_with(
        config,
        GatewayOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    gw.upstream("rf").set_behaviour(Behaviour {
        status: 503,
        ..Default::default()
    });
    println!(
        "4. adaptive allocation ({}, with update_seconds 1 and min_outcomes 50 for the demo): {adaptive}",
        overlays_dir().join("adaptive/wasmplugin.yaml").display()
    );
    println!("   rf now answers 503 to everything; {VISITORS_PER_ROUND} new visitors per round, no cookie");
    println!(
        "   {:>6}  {:>22}  {:>14}",
        "time", "allocation (share_bp)", "new users → rf"
    );
    let started = Instant::now();
    let mut last_rf_share = 0.0;
    for _ in 0..ROUNDS {
        let served = new_visitors(VISITORS_PER_ROUND, path, gw.envoy.listener_port);
        let to_rf = served.iter().filter(|s| s.as_deref() == Some("rf")).count();
        last_rf_share = to_rf as f64 / VISITORS_PER_ROUND as f64;
        let gauge = |p: &str| {
            gw.envoy
                .counter(&format!("predictor_router.fraud-detection.{p}.share_bp"))
        };
        println!(
            "   {:>5.1}s  xgb {:>5} rf {:>5}         {:>5.1} %",
            started.elapsed().as_secs_f64(),
            gauge("xgb"),
            gauge("rf"),
            100.0 * last_rf_share
        );
        thread::sleep(Duration::from_millis(700));
    }
    let moved = last_rf_share < 0.15;
    for line in gw
        .envoy
        .log()
        .lines()
        .filter(|l| l.contains(" allocation "))
        .take(2)
    {
        let message = line.split("predictor_router: ").last().unwrap_or(line);
        println!("   log: predictor_router: {message}");
    }
    println!(
        "   {}",
        if moved {
            "the bandit moved new users away from the failing predictor (users holding rf keep it)"
        } else {
            "NOT moved: rf still gets new users"
        }
    );
    moved
}

/// Part 6: a progressive rollout (envoyfilter/overlays/rollout/) in its own Envoy: rf ramps from 5 % to
/// 20 % on the clock, then starts failing and the guard rolls it back.
fn rollout_part(path: &str) -> bool {
    const VISITORS_PER_ROUND: usize = 200;
    let mut config = rollout_plugin_config();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // One-minute steps, starting 56 s ago: step 2 comes 4 s into the demo. A look every second.
    let rollout = &mut config["experiments"][0]["rollout"];
    rollout["start"] = predictor_router::router::instant::format(now - 56).into();
    rollout["steps"] = serde_json::json!([{"percent": 5, "minutes": 1}, {"percent": 20, "minutes": 1}, {"percent": 50, "minutes": 1}, {"percent": 100}]);
    rollout["update_seconds"] = 1.into();
    rollout["guard"]["min_outcomes"] = 100.into();
    let gw = Gateway::start_with(
        config,
        GatewayOptions {
            concurrency: 2,
            ..Default::default()
        },
    );
    println!(
        "6. progressive rollout ({}, with one-minute steps, update_seconds 1 and min_outcomes 100 for the demo)",
        overlays_dir().join("rollout/wasmplugin.yaml").display()
    );
    println!("   rf ramps 5 → 20 → 50 → 100 % on the clock; {VISITORS_PER_ROUND} new visitors per round, no cookie");
    println!(
        "   {:>6}  {:>4}  {:>12}  {:>14}",
        "time", "step", "rf share_bp", "new users → rf"
    );
    let gauge = |name: &str| {
        gw.envoy
            .counter(&format!("predictor_router.fraud-detection.{name}"))
    };
    let started = Instant::now();
    let mut failing_since = None;
    let mut after_rollback = 0;
    let mut last_rf_share = 1.0;
    for _ in 0..40 {
        let served = new_visitors(VISITORS_PER_ROUND, path, gw.envoy.listener_port);
        last_rf_share =
            served.iter().filter(|s| s.as_deref() == Some("rf")).count() as f64 / VISITORS_PER_ROUND as f64;
        let (step, share, rolled_back) = (
            gauge("rollout.step"),
            gauge("rf.share_bp"),
            gauge("rollout.rolled_back"),
        );
        println!(
            "   {:>5.1}s  {step:>4}  {share:>12}  {:>13.1} %{}",
            started.elapsed().as_secs_f64(),
            100.0 * last_rf_share,
            if rolled_back == 1 { "  rolled back" } else { "" }
        );
        if step >= 2 && failing_since.is_none() {
            gw.upstream("rf").set_behaviour(Behaviour {
                fail_percent: 30,
                ..Default::default()
            });
            failing_since = Some(started.elapsed());
            println!("   rf now answers 503 to 30 % of its requests");
        }
        if rolled_back == 1 {
            after_rollback += 1;
            if after_rollback == 2 {
                break;
            }
        }
        thread::sleep(Duration::from_millis(500));
    }
    // Each VM of the Envoy (one per worker, and the main thread's) logs its own step changes: once each here.
    let log = gw.envoy.log();
    let mut shown: Vec<&str> = Vec::new();
    for line in log.lines().filter(|l| l.contains(" rollout ")) {
        let message = line.split("predictor_router: ").last().unwrap_or(line);
        if !shown.contains(&message) {
            shown.push(message);
            println!("   log: predictor_router: {message}");
        }
    }
    let mut client = gw.client();
    let holder = client
        .send(&Request::predict(path).header("cookie", "pr-fraud-detection=rf"))
        .ok()
        .and_then(|r| r.header("x-predictor").map(str::to_string));
    let forced = client
        .send(&Request::predict(path).header("x-predictor-override", "rf"))
        .ok()
        .and_then(|r| r.header("x-predictor").map(str::to_string));
    println!(
        "   a user holding rf's cookie now gets {}; a tester's override still reaches {}",
        holder.as_deref().unwrap_or("?"),
        forced.as_deref().unwrap_or("?")
    );
    let ok = after_rollback >= 1
        && last_rf_share == 0.0
        && holder.as_deref() == Some("xgb")
        && forced.as_deref() == Some("rf");
    println!(
        "   {}",
        if ok {
            "the guard rolled the failing canary back: no new users, its users reassigned to the baseline"
        } else {
            "NOT rolled back as expected"
        }
    );
    ok
}

/// Part 5: signed overrides (envoyfilter/overlays/signed-overrides/) in a third Envoy: a fresh key in
/// the VM's environment, a plain predictor name refused, a minted token honoured.
fn signed_part(path: &str) -> bool {
    use predictor_router::router::signing::{mint, KeySet};
    const REQUESTS: usize = 50;
    let key_command = "openssl rand -base64 32 | tr '+/' '-_'";
    let key = std::process::Command::new("sh")
        .args(["-c", key_command])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(key) = key else {
        println!("5. signed overrides: `{key_command}` failed (is openssl installed?)");
        return false;
    };
    let config = signed_plugin_config();
    let gw = Gateway::start_with(
        config,
        GatewayOptions {
            vm_environment: vec![("PREDICTOR_ROUTER_KEYS".to_string(), key.clone())],
            ..Default::default()
        },
    );
    println!(
        "5. signed overrides ({}): a fresh key from `{key_command}` in the VM's PREDICTOR_ROUTER_KEYS",
        overlays_dir().join("signed-overrides").display()
    );
    let served_rf = |value: &str| {
        run_parallel(
            REQUESTS,
            |_, client| {
                client
                    .send(&Request::predict(path).header("x-predictor-override", value))
                    .ok()
                    .and_then(|r| r.header("x-predictor").map(str::to_string))
            },
            gw.envoy.listener_port,
        )
        .iter()
        .filter(|s| s.as_deref() == Some("rf"))
        .count()
    };
    let plain = served_rf("rf");
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 2 * 3600;
    let token = KeySet::parse(&key)
        .ok()
        .and_then(|keys| mint(&keys, "fraud-detection", "rf", expiry))
        .unwrap_or_default();
    let signed = served_rf(&token);
    let rejected = gw
        .envoy
        .counter("predictor_router.fraud-detection.override_rejected");
    println!("   x-predictor-override: rf (a plain name): {plain} of {REQUESTS} to rf (the 50/50 split), override_rejected {rejected}");
    println!("   x-predictor-override: {token}");
    println!("     (what `predictor-router sign-override --experiment fraud-detection --predictor rf --ttl 2h` prints)");
    println!("     served by rf: {signed} of {REQUESTS}");
    let ok = signed == REQUESTS && rejected == REQUESTS as u64 && plain < REQUESTS;
    if !ok {
        println!("   NOT as expected: the token must force rf and every plain name be rejected");
    }
    ok
}

/// What the shipped recording rules report about the traffic so far (DEMO_PROMETHEUS=1).
fn print_recording_rules(prometheus: &Prometheus) {
    // Two scrapes (1 s apart) and a rule evaluation after the last request.
    thread::sleep(Duration::from_secs(3));
    println!(
        "Prometheus at http://127.0.0.1:{} (envoyfilter/overlays/monitoring/prometheusrule.yaml, podmonitor.yaml):",
        prometheus.port
    );
    for (rule, what) in [
        (
            "predictor_router:new_assignment_share:ratio5m",
            "observed split of new assignments",
        ),
        ("predictor_router:configured_share", "configured share"),
        (
            "predictor_router:srm_z:1h",
            "sample-ratio mismatch z (|z| > 3.29: alert)",
        ),
        ("predictor_router:response_5xx:ratio5m", "5xx ratio"),
    ] {
        let values: Vec<String> = samples(&prometheus.vector(rule))
            .iter()
            .map(|(labels, v)| format!("{} {v:.3}", labels["predictor"].as_str().unwrap_or("?")))
            .collect();
        println!("   {rule:<48} {:<28} {}", values.join("  "), what);
    }
}
