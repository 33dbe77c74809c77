//! The compiled module (dist/predictor_router.wasm) through wasm-test-harness with every feature of
//! this round on at once (a pooled rollout, a pooled adaptive experiment, the fleet view, a shadow,
//! signed overrides) and the input driving everything from outside a request: what Prometheus and
//! the shadow answer (any status, any bytes, a failure, silence, late), ticks, and the host clock
//! moving forward, jumping back or ahead by up to ten years, or standing still. No trap, and only
//! configured predictor names in the routing header.
//!
//! libFuzzer sees the coverage of the native side only (the harness, wasmtime); the module's own
//! branches are reached by the mutations, not steered to. The core's parsers have their own native
//! targets (`prometheus_answer`, `shadow_answers`, `new_config_blocks`) where coverage does steer.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_test_harness::{Host, Upstream};

const PROMETHEUS: &str = "outbound|9090||prometheus.monitoring.svc.cluster.local";
const SHADOW: &str = "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local";
const KEYS: &str = "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw";
const CONFIG: &str = r#"{"signing":{"keys_env":"PREDICTOR_ROUTER_KEYS"},
 "fleet":{"prometheus":{"cluster":"outbound|9090||prometheus.monitoring.svc.cluster.local","authority":"prometheus:9090","timeout_ms":500,"delay_seconds":0}},
 "experiments":[
  {"name":"fraud-detection","match":{"path_prefix":"/seldon/default/fraud-detection/"},
   "predictors":[{"name":"xgb","weight":50},{"name":"rf","weight":50}],
   "sticky":{"user_header":"x-user-id"},"override":{"signed":true,"query_param":"predictor"},
   "rollout":{"canary":"rf","start":"2026-01-01T00:00:30Z","steps":[{"percent":20,"minutes":1},{"percent":50,"minutes":1},{"percent":100}],
              "update_seconds":1,"pooled":true,"guard":{"min_outcomes":5}},
   "shadow":{"name":"rf-v2","cluster":"outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local","authority":"rf-v2:8000",
             "percent":50,"timeout_ms":300,"max_in_flight":8}},
  {"name":"churn","match":{"path_prefix":"/seldon/default/churn/"},
   "predictors":[{"name":"a","weight":1},{"name":"b","weight":1},{"name":"c","weight":0}],
   "adaptive":{"policy":"thompson","update_seconds":1,"min_outcomes":2,"pooled":true,"reward":"feedback",
               "feedback_path":"/seldon/default/churn/api/v1.0/feedback"},
   "shadow":{"name":"churn-v2","cluster":"outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local","authority":"c:8000",
             "percent":100,"compare":"status"}}]}"#;

const SECOND: u64 = 1_000_000_000;
/// 2020-01-01 and 2100-01-01: the clock is kept between them across runs.
const EARLIEST: u64 = 1_577_836_800 * SECOND;
const LATEST: u64 = 4_102_444_800 * SECOND;

thread_local! {
    static HOST: RefCell<Host> = RefCell::new({
        let path = std::env::var("PREDICTOR_ROUTER_WASM").unwrap_or_else(|_| "../../dist/predictor_router.wasm".into());
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make build`)"));
        Host::new(wasm).with_config(CONFIG).env("PREDICTOR_ROUTER_KEYS", KEYS).workers(2).start()
            .unwrap_or_else(|e| panic!("the fuzz configuration: {e}"))
    });
}

#[derive(Arbitrary, Debug)]
enum Script {
    Respond { status: u16, body: Body, delay_ms: u16 },
    Fail,
    Silent,
}

/// An answer's body: raw bytes, or the shape a consumer reads with fuzzed contents (random bytes
/// would almost never get past the JSON syntax), or such a body cut short.
#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    /// The query API's vector: (predictor name, outcome label, value) per sample.
    Prometheus(Vec<(u8, bool, String)>),
    /// A Seldon answer: rows of probabilities, as `ndarray` or as a `tensor` with its (fuzzed) shape.
    Seldon { rows: Vec<Vec<f64>>, tensor: bool, shape: Vec<u32> },
    Truncated(Box<Body>, u16),
}

const PREDICTORS: [&str; 6] = ["xgb", "rf", "a", "b", "c", "unknown"];

impl Body {
    fn bytes(&self, depth: u8) -> Vec<u8> {
        match self {
            Body::Raw(bytes) => bytes.clone(),
            Body::Prometheus(samples) => {
                let result: Vec<String> = samples
                    .iter()
                    .take(12)
                    .map(|(p, trials, value)| {
                        let outcome = if *trials { "trials" } else { "reward_milli" };
                        format!(
                            r#"{{"metric":{{"predictor":"{}","outcome":"{outcome}"}},"value":[1767225600,{:?}]}}"#,
                            PREDICTORS[usize::from(*p) % PREDICTORS.len()],
                            value
                        )
                    })
                    .collect();
                format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#, result.join(","))
                    .into_bytes()
            }
            Body::Seldon { rows, tensor, shape } => {
                let rows: Vec<Vec<f64>> = rows.iter().take(8).map(|r| r.iter().take(8).copied().collect()).collect();
                let value = if *tensor {
                    let values: Vec<f64> = rows.iter().flatten().copied().collect();
                    serde_json::json!({"data": {"tensor": {"shape": shape.iter().take(3).collect::<Vec<_>>(), "values": values}}})
                } else {
                    serde_json::json!({"data": {"ndarray": rows}})
                };
                value.to_string().into_bytes()
            }
            Body::Truncated(inner, at) if depth < 2 => {
                let mut bytes = inner.bytes(depth + 1);
                bytes.truncate(usize::from(*at));
                bytes
            }
            Body::Truncated(..) => Vec::new(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Request { churn: bool, worker: bool, path_tail: Vec<u8>, headers: Vec<(u8, Vec<u8>)>, body: Body, status: u16, answer: Body },
    Tick,
    Advance { millis: u16 },
    /// Seconds, back (negative) or ahead, at most ten years either way.
    Jump { seconds: i32 },
    StandStill(bool),
    /// How Prometheus or the shadow answers from now on, then every due answer delivered.
    Answer { prometheus: bool, script: Script },
    Deliver,
}

const NAMES: [&str; 6] = ["cookie", "x-predictor-override", "x-user-id", "x-predictor", "content-type", "x-other"];

fn script(script: Script) -> Upstream {
    match script {
        Script::Respond { status, body, delay_ms } => {
            Upstream::respond(u32::from(status % 1000), body.bytes(0)).after_ms(u64::from(delay_ms % 2000))
        }
        Script::Fail => Upstream::Fail,
        Script::Silent => Upstream::Silent,
    }
}

fn clean(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().filter(|b| !matches!(b, b'\r' | b'\n' | 0)).collect()
}

fuzz_target!(|ops: Vec<Op>| {
    HOST.with(|host| {
        let mut host = host.borrow_mut();
        for op in ops.into_iter().take(32) {
            match op {
                Op::Request { churn, worker, path_tail, headers, body, status, answer } => {
                    let mut path = if churn { b"/seldon/default/churn/".to_vec() } else { b"/seldon/default/fraud-detection/".to_vec() };
                    if path_tail.first() == Some(&b'f') {
                        path.extend_from_slice(b"api/v1.0/feedback");
                    }
                    path.extend(path_tail.iter().filter(|b| b.is_ascii_graphic()));
                    let path = String::from_utf8_lossy(&path).into_owned();
                    let mut request = host.request().method("POST").path(&path).on_worker(usize::from(worker))
                        .upstream_status(status % 600).upstream_body(answer.bytes(0));
                    for (k, v) in headers.iter().take(8) {
                        request = request.header(NAMES[usize::from(*k) % NAMES.len()], clean(v));
                    }
                    let exchange = request.body(body.bytes(0)).send().unwrap_or_else(|trap| panic!("{trap}"));
                    for value in exchange.upstream_header_values("x-predictor") {
                        assert!([&b"xgb"[..], b"rf", b"a", b"b", b"c"].contains(&value.as_slice()), "routed to {value:?}");
                    }
                }
                Op::Tick => host.tick().unwrap_or_else(|trap| panic!("{trap}")),
                Op::Advance { millis } => host.advance_clock(u64::from(millis) * 1_000_000),
                Op::Jump { seconds } => {
                    let seconds = i64::from(seconds) % (10 * 366 * 86_400);
                    let now = host.clock_nanos();
                    let to = now.saturating_add_signed(seconds.saturating_mul(SECOND as i64)).clamp(EARLIEST, LATEST);
                    host.set_clock(to);
                }
                Op::StandStill(still) => host.set_clock_step(if still { 0 } else { 1_000 }),
                Op::Answer { prometheus, script: s } => {
                    host.upstream(if prometheus { PROMETHEUS } else { SHADOW }, script(s));
                    host.deliver_callouts().unwrap_or_else(|trap| panic!("{trap}"));
                }
                Op::Deliver => {
                    host.deliver_callouts().unwrap_or_else(|trap| panic!("{trap}"));
                }
            }
        }
    });
});
