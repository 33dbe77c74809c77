//! The fleet view in real Envoys (V8, `--concurrency 2`): two gateway replicas with `pooled: true` read
//! the outcomes of both from a real Prometheus that scrapes them every second through the shipped
//! PodMonitor's relabelling, with traffic split 90/10 between them; a control pair without `pooled`
//! takes the same traffic. Each Envoy's Prometheus cluster goes through a loopback front that counts
//! its queries.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use predictor_router_tests::envoy::{free_port, Envoy};
use predictor_router_tests::gateway::{Gateway, GatewayOptions};
use predictor_router_tests::http::{HttpClient, Request};
use predictor_router_tests::monitoring::{rule_file, scrape_job, Prometheus};
use predictor_router_tests::query_front::QueryFront;
use predictor_router_tests::scenario::{predict_path, seed_plugin_config};
use predictor_router_tests::upstream::{Behaviour, PredictorServer};
use serde_json::{json, Value};

const CLUSTER: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";
const UPDATE: u64 = 4;
const DELAY: u64 = 2;
const WINDOW: u64 = 60;
const SELECTOR: &str = r#"namespace="istio-system""#;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until `phase` seconds into the next update period (updates start at multiples of UPDATE).
fn sleep_until_phase(phase: f64) {
    let t = now();
    let next = (t / UPDATE as f64).floor() * UPDATE as f64 + phase;
    let target = if next > t { next } else { next + UPDATE as f64 };
    thread::sleep(Duration::from_secs_f64(target - t));
}

fn config(pooled: bool) -> Value {
    let mut config = seed_plugin_config();
    config["experiments"][0]["adaptive"] = json!({"policy": "thompson", "update_seconds": UPDATE,
        "min_outcomes": 200, "min_share_percent": 5, "pooled": pooled});
    if pooled {
        config["fleet"] = json!({"prometheus": {"cluster": CLUSTER, "authority": "prometheus.monitoring.svc.cluster.local:9090",
            "selector": SELECTOR, "timeout_ms": 1000, "delay_seconds": DELAY, "window_seconds": WINDOW}});
    }
    config
}

fn replica(config: &Value, upstreams: &[PredictorServer], front: Option<&QueryFront>) -> Envoy {
    let options = GatewayOptions {
        concurrency: 2,
        extra_clusters: front.map(|f| (CLUSTER.to_string(), f.port)).into_iter().collect(),
        component_log_level: Some("wasm:debug".into()),
        ..GatewayOptions::default()
    };
    Gateway::start_envoy(config.clone(), upstreams, options)
        .unwrap_or_else(|f| panic!("Envoy did not start: {}", f.log))
}

fn rf_share(envoy: &Envoy) -> u64 {
    envoy.gauge("predictor_router.fraud-detection.rf.share_bp")
}

/// New visitors (no cookie, no user id) until stopped: of every ten, nine to `busy`, one to `quiet`.
fn split_traffic(
    busy: u16,
    quiet: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> thread::JoinHandle<(u64, u64)> {
    thread::spawn(move || {
        let (mut a, mut b) = (HttpClient::new(busy), HttpClient::new(quiet));
        let (mut sent, mut not_2xx) = (0u64, 0u64);
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            for i in 0..10 {
                let client = if i == 0 { &mut b } else { &mut a };
                let ok = client
                    .send(&Request::predict(predict_path()))
                    .is_ok_and(|r| r.status == 200);
                sent += 1;
                not_2xx += u64::from(!ok);
                thread::sleep(Duration::from_millis(10));
            }
        }
        (sent, not_2xx)
    })
}

/// `(T, [(predictor, trials, reward_milli)])` of each debug line "pooled outcomes at T: ...".
/// `(predictor, trials, reward_milli)` of each predictor.
type Totals = Vec<(String, u64, u64)>;

fn pooled_lines(envoy: &Envoy) -> Vec<(u64, Totals)> {
    envoy
        .log()
        .lines()
        .filter_map(|l| {
            let rest = l.split_once("pooled outcomes at ")?.1;
            let (t, arms) = rest.split_once(": ")?;
            let arms = arms
                .split(", ")
                .filter_map(|a| {
                    let w: Vec<&str> = a.split(' ').collect();
                    Some((
                        w.first()?.to_string(),
                        w.get(1)?.parse().ok()?,
                        w.get(3)?.parse().ok()?,
                    ))
                })
                .collect();
            Some((t.parse().ok()?, arms))
        })
        .collect()
}

/// The SPEC's two sums, sent by the test itself to Prometheus at `time`, rounded: per predictor.
fn prometheus_totals(prometheus: &Prometheus, time: u64) -> Totals {
    let sum = |metric: &str| -> Vec<(String, u64)> {
        let expr = format!(
            r#"sum by (predictor) (increase({metric}{{experiment="fraud-detection",{SELECTOR}}}[{WINDOW}s]))"#
        );
        let answer = prometheus.query_at(&expr, time);
        assert_eq!(answer["status"], "success", "{answer}");
        answer["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let v: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
                (
                    s["metric"]["predictor"].as_str().unwrap().to_string(),
                    v.round() as u64,
                )
            })
            .collect()
    };
    let (trials, rewards) = (
        sum("predictor_router_outcome_trials"),
        sum("predictor_router_outcome_reward_milli"),
    );
    ["xgb", "rf"]
        .iter()
        .map(|p| {
            let of = |v: &[(String, u64)]| v.iter().find(|(n, _)| n == p).map_or(0, |(_, x)| *x);
            (p.to_string(), of(&trials), of(&rewards).min(of(&trials) * 1000))
        })
        .collect()
}

/// Users `user-0..n` as `busy` and `quiet` assign them by hash (`x-user-id`, no cookie): how many differ.
fn hashed_disagreements(busy: u16, quiet: u16, n: usize) -> usize {
    let (mut a, mut b) = (HttpClient::new(busy), HttpClient::new(quiet));
    (0..n)
        .filter(|i| {
            let user = format!("user-{i}");
            let request = Request::predict(predict_path()).header("x-user-id", &user);
            let (ra, rb) = (a.send(&request).unwrap(), b.send(&request).unwrap());
            ra.header("x-predictor") != rb.header("x-predictor")
        })
        .count()
}

#[test]
fn pooled_replicas_agree_at_every_update_learn_together_and_use_prometheus_numbers_while_the_control_disagrees(
) {
    let upstreams = vec![PredictorServer::start("xgb"), PredictorServer::start("rf")];
    // rf answers 503 to 30 % of requests: the learned allocation is rf at its floor (5 %).
    upstreams[1].set_behaviour(Behaviour {
        fail_percent: 30,
        ..Default::default()
    });
    let prometheus_port = free_port();
    let fronts = [
        QueryFront::start(prometheus_port),
        QueryFront::start(prometheus_port),
    ];
    let pooled = [
        replica(&config(true), &upstreams, Some(&fronts[0])),
        replica(&config(true), &upstreams, Some(&fronts[1])),
    ];
    let control = [
        replica(&config(false), &upstreams, None),
        replica(&config(false), &upstreams, None),
    ];
    let targets: Vec<(String, String)> = pooled
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("gateway-{i}"), format!("127.0.0.1:{}", e.admin_port)))
        .collect();
    let targets: Vec<(&str, String)> = targets.iter().map(|(p, a)| (p.as_str(), a.clone())).collect();
    let prometheus = Prometheus::start_on(prometheus_port, vec![scrape_job(&targets)], &rule_file());

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loads = [
        split_traffic(pooled[0].listener_port, pooled[1].listener_port, stop.clone()),
        split_traffic(control[0].listener_port, control[1].listener_port, stop.clone()),
    ];
    let started = Instant::now();
    // One sample per update, halfway through it (every worker has applied the update by then).
    let mut timeline: Vec<(u64, [u64; 4])> = Vec::new();
    let mut hashed: Option<(usize, usize)> = None;
    while started.elapsed() < Duration::from_secs(36) {
        sleep_until_phase(2.5);
        let shares = [
            rf_share(&pooled[0]),
            rf_share(&pooled[1]),
            rf_share(&control[0]),
            rf_share(&control[1]),
        ];
        timeline.push((started.elapsed().as_secs(), shares));
        // Once the pooled pair has learned, while the quiet control replica is still in burn-in: the
        // same 1,000 hashed users on both replicas of each pair.
        if hashed.is_none() && shares[0] == 500 && shares[1] == 500 && shares[2] == 500 && shares[3] == 5000 {
            let p = hashed_disagreements(pooled[0].listener_port, pooled[1].listener_port, 1000);
            let c = hashed_disagreements(control[0].listener_port, control[1].listener_port, 1000);
            hashed = Some((p, c));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let traffic: Vec<(u64, u64)> = loads.into_iter().map(|h| h.join().unwrap()).collect();

    println!("rf share_bp, sampled halfway through each update (s since start: pooled busy, pooled quiet | control busy, control quiet)");
    for (t, s) in &timeline {
        println!("  {t:>3} s: {:>5} {:>5} | {:>5} {:>5}", s[0], s[1], s[2], s[3]);
    }
    println!("hashed users assigned differently by the two replicas (pooled, control): {hashed:?}");
    println!("traffic (sent, not 2xx) per pair: {traffic:?}");

    // 1. Agreement: the pooled pair equal at every update; the control pair not.
    for (t, s) in &timeline {
        assert_eq!(s[0], s[1], "pooled replicas differ at {t} s: {timeline:?}");
    }
    let (pooled_differ, control_differ) =
        hashed.expect("a moment when the pooled pair had learned and the quiet control had not");
    assert_eq!(
        pooled_differ, 0,
        "1,000 hashed users get the same predictor from both pooled replicas"
    );
    assert!(
        control_differ >= 50,
        "the control pair disagrees on hashed users: {control_differ}"
    );
    // 2. Pooling is real: the quiet pooled replica learned at the same update as the busy one; the
    // quiet control replica several updates after its busy partner, if at all.
    let learned = |i: usize| timeline.iter().position(|(_, s)| s[i] == 500);
    assert_eq!(learned(0), learned(1));
    let (busy, quiet) = (
        learned(2).expect("the busy control learns"),
        learned(3).unwrap_or(timeline.len()),
    );
    assert!(
        quiet >= busy + 2,
        "control: busy learned at sample {busy}, quiet at {quiet}"
    );
    assert!(
        learned(1).unwrap() < quiet,
        "the quiet pooled replica learns before the quiet control"
    );

    // 4. The numbers are Prometheus's: each update's totals equal the test's own query at the same T,
    // and both replicas used the same; one query per update per Envoy, at consecutive instants.
    let lines = [pooled_lines(&pooled[0]), pooled_lines(&pooled[1])];
    assert!(lines[0].len() >= 5, "{:?}", lines[0]);
    for (t, arms) in lines.iter().flatten() {
        assert_eq!(arms, &prometheus_totals(&prometheus, *t), "totals at {t}");
        assert_eq!(t % UPDATE, (UPDATE - DELAY) % UPDATE, "T is aligned");
    }
    assert!(
        lines[0].iter().any(|(_, arms)| arms.iter().all(|a| a.1 >= 200)),
        "the pooled totals passed burn-in"
    );
    for front in &fronts {
        let times: Vec<u64> = front.received().iter().map(|q| q.time().unwrap()).collect();
        assert!(times.len() >= 7, "{times:?}");
        assert!(
            times.windows(2).all(|w| w[1] == w[0] + UPDATE),
            "one query per update: {times:?}"
        );
        let query = front.received()[0].query().unwrap();
        assert!(
            query.contains(r#"experiment="fraud-detection",namespace="istio-system""#),
            "{query}"
        );
    }
    for envoy in pooled.iter().chain(&control) {
        envoy.assert_no_wasm_errors();
    }
}
