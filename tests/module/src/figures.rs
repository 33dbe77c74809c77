//! Figures only a host can give, measured through wasm-test-harness on the shipped module.

use std::time::Instant;

use predictor_router::router::config::parse;
use predictor_router::router::decision::decide;
use serde_json::{json, Value};
use wasm_test_harness::{Exchange, Host};

use crate::request_mix::decision_path_requests;
use predictor_router::router::fake_request::FakeRequest;
use predictor_router_e2e::scenario::seed_plugin_config;

use predictor_router_e2e::scenario::predict_path;

/// The hostcalls of one request of a decision path, after warm-up.
pub struct HostcallFigure {
    pub path: &'static str,
    pub hostcalls: Vec<&'static str>,
    pub vm_entries: usize,
    pub allocator_entries: usize,
}

pub struct ConfigureFigure {
    pub experiments: usize,
    pub fuel: u64,
    pub millis: f64,
}

pub struct ScalingFigure {
    pub experiments: usize,
    pub routed_fuel: u64,
    pub unmatched_fuel: u64,
}

pub struct HarnessFigures {
    /// (decision path, fuel per request)
    pub fuel_by_path: Vec<(&'static str, u64)>,
    pub hostcalls_by_path: Vec<HostcallFigure>,
    pub configure: Vec<ConfigureFigure>,
    pub scaling: Vec<ScalingFigure>,
    pub memory_requests: u64,
    pub memory_before: usize,
    pub memory_after: usize,
    /// (decision path, ns per decision in the native core)
    pub native_ns: Vec<(&'static str, f64)>,
    /// The costliest tick while a Thompson estimate runs, by number of predictors.
    pub ticks: Vec<TickFigure>,
    /// Reading one fleet query's answer, by number of predictors.
    pub answers: Vec<AnswerFigure>,
}

#[derive(Debug, Clone)]
pub struct TickFigure {
    pub predictors: usize,
    /// Wasm instructions of the costliest tick.
    pub max_fuel: u64,
    /// Its wall time in wasmtime, µs.
    pub max_micros: u64,
    /// Ticks from the first outcome to the first learned allocation (50 ms apart while estimating).
    pub ticks: u32,
    /// Whether the module asked for the 50 ms tick while the estimate was spread over ticks.
    pub fast_ticks: bool,
}

/// Thompson sampling over `n` predictors (each 80 % successful, 40 outcomes each, burn-in 1): runs
/// ticks 50 ms apart until the allocation is learned, and reports the costliest one.
pub fn tick_cost(module: &[u8], n: usize) -> TickFigure {
    let predictors: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("p{i}"), "weight": 1}))
        .collect();
    let config = json!({"experiments": [{
        "name": "fraud-detection",
        "match": {"path_prefix": "/seldon/default/fraud-detection/"},
        "predictors": predictors,
        "adaptive": {"policy": "thompson", "update_seconds": 1, "min_outcomes": 1, "min_share_percent": 0}
    }]});
    let mut host = Host::new(module)
        .with_config(config.to_string())
        .start()
        .expect("an adaptive configuration");
    for i in 0..(n * 40) {
        let status = if i % 5 == 0 { 503 } else { 200 };
        host.request()
            .path(predict_path())
            .upstream_status(status)
            .send()
            .expect("a request");
    }
    let mut figure = TickFigure {
        predictors: n,
        max_fuel: 0,
        max_micros: 0,
        ticks: 0,
        fast_ticks: false,
    };
    while figure.ticks < 400 {
        host.advance_clock(50_000_000);
        let fuel = host.tick_with_fuel().expect("a tick").remove(0);
        figure.max_fuel = figure.max_fuel.max(fuel.total());
        figure.max_micros = figure.max_micros.max(fuel.nanos_of("proxy_on_tick") / 1000);
        figure.ticks += 1;
        figure.fast_ticks |= host.tick_periods_ms() == [50];
        if host.logs().iter().any(|l| l.message.contains(" allocation ")) {
            break;
        }
    }
    figure
}

/// What reading one fleet query's answer costs (contract "Fleet view").
#[derive(Debug, Clone)]
pub struct AnswerFigure {
    pub predictors: usize,
    /// Bytes of the answer (two samples per predictor).
    pub answer_bytes: usize,
    /// Wasm instructions of `proxy_on_http_call_response`: read the body, parse it into totals, write
    /// them to shared data, count and log.
    pub fuel: u64,
    /// Wasm instructions of the asking worker's tick that sent the query (claim, PromQL, URL).
    pub send_fuel: u64,
}

/// A pooled adaptive experiment over `n` predictors: the tick that sends the query, then the answer
/// (every predictor with 5,000 trials) delivered to `on_http_call_response`.
pub fn answer_cost(module: &[u8], n: usize) -> AnswerFigure {
    const CLUSTER: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";
    let predictors: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("p{i}"), "weight": 1}))
        .collect();
    let config = json!({
        "fleet": {"prometheus": {"cluster": CLUSTER, "authority": "prometheus.monitoring.svc.cluster.local:9090",
                                 "selector": "namespace=\"istio-system\""}},
        "experiments": [{
            "name": "fraud-detection",
            "match": {"path_prefix": "/seldon/default/fraud-detection/"},
            "predictors": predictors,
            "adaptive": {"policy": "thompson", "update_seconds": 10, "min_outcomes": 100, "min_share_percent": 0, "pooled": true}
        }]
    });
    let result: Vec<Value> = (0..n)
        .flat_map(|i| {
            [("trials", "5000"), ("reward_milli", "4000000")].map(|(outcome, value)| {
                json!({"metric": {"predictor": format!("p{i}"), "outcome": outcome},
                       "value": [1_767_225_570, value]})
            })
        })
        .collect();
    let answer = json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string();
    let mut host = Host::new(module)
        .with_config(config.to_string())
        .start()
        .expect("a pooled configuration");
    host.upstream(CLUSTER, wasm_test_harness::Upstream::respond(200, answer.clone()));
    // The first tick writes the shared record, the second claims and sends.
    let mut send_fuel = 0;
    for _ in 0..2 {
        host.advance_clock(500_000_000);
        send_fuel = host.tick_with_fuel().expect("a tick").remove(0).total();
    }
    let delivered = host.deliver_callouts_with_fuel().expect("the answer");
    AnswerFigure {
        predictors: n,
        answer_bytes: answer.len(),
        fuel: delivered.first().map_or(0, |f| f.total()),
        send_fuel,
    }
}

/// `n` experiments on distinct hosts, 8 predictors each.
pub fn many_experiments(n: usize) -> Value {
    let experiments: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "name": format!("e{i}"),
                "match": {"hosts": [format!("e{i}.example.com")]},
                "predictors": (0..8).map(|p| json!({"name": format!("p{p}"), "weight": p + 1})).collect::<Vec<_>>(),
                "sticky": {"user_header": "x-user-id"}
            })
        })
        .collect();
    json!({ "experiments": experiments })
}

pub fn measure(module: &[u8], memory_requests: u64) -> HarnessFigures {
    let seed = seed_plugin_config().to_string();
    let mut host = Host::new(module)
        .with_config(&seed)
        .start()
        .expect("seed configuration");
    let paths = decision_path_requests();
    for (_, send) in &paths {
        for _ in 0..20 {
            send(&mut host); // warm: counters defined, generator seeded
        }
    }
    let exchanges: Vec<(&'static str, Exchange)> = paths
        .iter()
        .map(|(name, send)| (*name, send(&mut host)))
        .collect();
    let fuel_by_path = exchanges
        .iter()
        .map(|(name, e)| (*name, e.fuel.total()))
        .collect();
    let hostcalls_by_path = exchanges
        .iter()
        .map(|(name, e)| HostcallFigure {
            path: name,
            hostcalls: e.hostcalls.clone(),
            vm_entries: e.fuel.callbacks().len(),
            allocator_entries: e.allocator_entries,
        })
        .collect();

    let configure = [1usize, 100, 1000]
        .iter()
        .map(|&n| {
            let config = many_experiments(n).to_string();
            let mut fuel = 0;
            let millis = median(
                (0..3)
                    .map(|_| {
                        let host = Host::new(module)
                            .with_config(&config)
                            .start()
                            .expect("many experiments");
                        let report = &host.start_fuel()[0];
                        fuel = report.of("proxy_on_configure");
                        report.nanos_of("proxy_on_configure") as f64 / 1e6
                    })
                    .collect(),
            );
            ConfigureFigure {
                experiments: n,
                fuel,
                millis,
            }
        })
        .collect();

    let scaling = [1usize, 10, 100, 1000]
        .iter()
        .map(|&n| {
            let mut host = Host::new(module)
                .with_config(many_experiments(n).to_string())
                .start()
                .unwrap();
            let last = format!("e{}.example.com", n - 1);
            for _ in 0..20 {
                host.request().authority(&last).send().unwrap();
                host.request().authority("nobody.example.com").send().unwrap();
            }
            ScalingFigure {
                experiments: n,
                routed_fuel: host.request().authority(&last).send().unwrap().fuel.total(),
                unmatched_fuel: host
                    .request()
                    .authority("nobody.example.com")
                    .send()
                    .unwrap()
                    .fuel
                    .total(),
            }
        })
        .collect();

    let (memory_before, memory_after) = crate::request_mix::linear_memory(module, memory_requests);

    HarnessFigures {
        fuel_by_path,
        hostcalls_by_path,
        configure,
        scaling,
        memory_requests,
        memory_before,
        memory_after,
        native_ns: native_core_ns(),
        ticks: [2, 8, 64].map(|n| tick_cost(module, n)).to_vec(),
        answers: [2, 64].map(|n| answer_cost(module, n)).to_vec(),
    }
}

/// ns per decision of the native core (release build), per path, over an in-memory request.
fn native_core_ns() -> Vec<(&'static str, f64)> {
    let config = parse(seed_plugin_config().to_string().as_bytes()).unwrap();
    let experiment = &config.experiments()[0];
    let requests: [(&str, FakeRequest); 4] = [
        ("forced", FakeRequest::new().header("x-predictor-override", "rf")),
        (
            "sticky",
            FakeRequest::new().cookie("session=1; pr-fraud-detection=rf"),
        ),
        ("hashed", FakeRequest::new().header("x-user-id", "alice")),
        ("random", FakeRequest::new().random(12345)),
    ];
    requests
        .into_iter()
        .map(|(name, request)| {
            let iterations = 200_000u32;
            let started = Instant::now();
            for _ in 0..iterations {
                let mut r = request.clone();
                std::hint::black_box(decide(
                    experiment,
                    std::hint::black_box(predict_path().as_bytes()),
                    &mut r,
                ));
            }
            (name, started.elapsed().as_nanos() as f64 / f64::from(iterations))
        })
        .collect()
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
