//! The configuration blocks of this round (`rollout`, `fleet`, `shadow`), mutated field by field: the
//! input picks fields of a valid configuration that has all three and gives each an arbitrary JSON
//! value (or removes it), then the result is parsed. Raw-byte fuzzing of the whole document
//! (`config_parse`) rarely gets past the JSON syntax into these blocks; this target starts inside
//! them. Never a panic; a refusal names a path and a reason; an accepted configuration's schedule,
//! shares, query and copy path are computable at any instant.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use predictor_router::router::bucketing::BUCKETS;
use predictor_router::router::config::parse;
use predictor_router::router::fleet::instant::{aligned_instant, rollout_window};
use predictor_router::router::fleet::promql::query_plan;
use predictor_router::router::rollout::instant;
use predictor_router::router::rollout::schedule::{next_change, phase_at, step_starts};
use predictor_router::router::rollout::shares::phase_tables;
use predictor_router::router::shadow::path::shadow_path;
use serde_json::{json, Value};

/// An arbitrary JSON value, a few levels deep.
#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    /// A string that looks like an instant, with fuzzed digits.
    Instant(u16, u8, u8, u8, u8, u8),
    Array(Vec<Json>),
    Object(Vec<(Field, Json)>),
    /// Leave the field out.
    Remove,
}

/// The field names of the new blocks, so that mutations land on names the parser knows.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Field {
    Canary, Start, Steps, Percent, Minutes, Reward, MaxLatencyMs, FeedbackPath, Guard, MaxDropPercent,
    ConfidencePercent, MinOutcomes, UpdateSeconds, Pooled, Name, Cluster, Authority, PathPrefix,
    TimeoutMs, MaxInFlight, Compare, Prometheus, Path, Selector, DelaySeconds, WindowSeconds, Other,
}

impl Field {
    fn name(self) -> &'static str {
        use Field::*;
        match self {
            Canary => "canary", Start => "start", Steps => "steps", Percent => "percent",
            Minutes => "minutes", Reward => "reward", MaxLatencyMs => "max_latency_ms",
            FeedbackPath => "feedback_path", Guard => "guard", MaxDropPercent => "max_drop_percent",
            ConfidencePercent => "confidence_percent", MinOutcomes => "min_outcomes",
            UpdateSeconds => "update_seconds", Pooled => "pooled", Name => "name", Cluster => "cluster",
            Authority => "authority", PathPrefix => "path_prefix", TimeoutMs => "timeout_ms",
            MaxInFlight => "max_in_flight", Compare => "compare", Prometheus => "prometheus", Path => "path",
            Selector => "selector", DelaySeconds => "delay_seconds", WindowSeconds => "window_seconds",
            Other => "x",
        }
    }
}

impl Json {
    fn value(&self, depth: u8) -> Option<Value> {
        Some(match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(i) => json!(i),
            Json::Uint(u) => json!(u),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Str(s) => json!(s),
            Json::Instant(y, mo, d, h, mi, s) => json!(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")),
            Json::Array(items) if depth < 3 => {
                Value::Array(items.iter().take(24).filter_map(|j| j.value(depth + 1)).collect())
            }
            Json::Object(fields) if depth < 3 => Value::Object(
                fields
                    .iter()
                    .take(12)
                    .filter_map(|(f, j)| Some((f.name().to_string(), j.value(depth + 1)?)))
                    .collect(),
            ),
            Json::Array(_) | Json::Object(_) => Value::Null,
            Json::Remove => return None,
        })
    }
}

/// Where a mutation lands: a block of the base configuration (a step by its index), then a field.
#[derive(Arbitrary, Debug)]
enum Place {
    Rollout,
    Step(u8),
    Guard,
    Shadow,
    Prometheus,
    Adaptive,
}

#[derive(Arbitrary, Debug)]
struct Input {
    mutations: Vec<(Place, Field, Json)>,
    /// Instants at which the accepted configuration's schedule is evaluated.
    clocks: Vec<u64>,
}

fn base() -> Value {
    json!({
        "experiments": [
            {"name": "fraud-detection", "match": {"path_prefix": "/seldon/default/fraud-detection/"},
             "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}],
             "rollout": {"canary": "rf", "start": "2026-12-07T09:00:00Z",
                         "steps": [{"percent": 5, "minutes": 30}, {"percent": 20, "minutes": 30},
                                   {"percent": 50, "minutes": 60}, {"percent": 100}],
                         "reward": "response", "max_latency_ms": 300, "pooled": true,
                         "guard": {"max_drop_percent": 1, "confidence_percent": 99, "min_outcomes": 200}},
             "shadow": {"name": "rf-v2", "cluster": "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local",
                        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000", "path_prefix": "/",
                        "percent": 10, "timeout_ms": 1000, "max_in_flight": 64, "compare": "seldon"}},
            {"name": "churn", "match": {"path_prefix": "/seldon/default/churn/"},
             "predictors": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
             "adaptive": {"policy": "thompson", "pooled": true}}
        ],
        "fleet": {"prometheus": {"cluster": "outbound|9090||prometheus.monitoring.svc.cluster.local",
                                 "authority": "prometheus.monitoring.svc.cluster.local:9090",
                                 "selector": "namespace=\"istio-system\""}}
    })
}

fn mutate(config: &mut Value, place: &Place, field: Field, value: Option<Value>) {
    let target = match place {
        Place::Rollout => config.pointer_mut("/experiments/0/rollout"),
        Place::Step(i) => config.pointer_mut(&format!("/experiments/0/rollout/steps/{}", i % 5)),
        Place::Guard => config.pointer_mut("/experiments/0/rollout/guard"),
        Place::Shadow => config.pointer_mut("/experiments/0/shadow"),
        Place::Prometheus => config.pointer_mut("/fleet/prometheus"),
        Place::Adaptive => config.pointer_mut("/experiments/1/adaptive"),
    };
    let Some(Value::Object(object)) = target else { return };
    match value {
        Some(value) => {
            object.insert(field.name().to_string(), value);
        }
        None => {
            object.remove(field.name());
        }
    }
}

fuzz_target!(|input: Input| {
    let mut config = base();
    for (place, field, json) in input.mutations.iter().take(6) {
        mutate(&mut config, place, *field, json.value(0));
    }
    let bytes = config.to_string();
    let parsed = match parse(bytes.as_bytes()) {
        Err(error) => {
            assert!(!error.path.is_empty() && !error.reason.is_empty(), "{error:?}");
            return;
        }
        Ok(parsed) => parsed,
    };
    let clocks = input.clocks.iter().take(8).copied().chain([0, u64::MAX]);
    for experiment in parsed.experiments() {
        if let Some(rollout) = &experiment.rollout {
            assert_eq!(instant::parse(&instant::format(rollout.start_unix)), Some(rollout.start_unix));
            let starts = step_starts(rollout);
            assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
            for table in phase_tables(experiment, rollout) {
                let taken: u32 = table.shares_bp.iter().sum();
                assert!(taken == BUCKETS || taken == 0, "shares {:?}", table.shares_bp);
            }
            for now in clocks.clone() {
                let phase = phase_at(rollout, now);
                assert!(phase.step as usize <= rollout.steps.len());
                assert!(phase.percent <= 100);
                if let Some(change) = next_change(rollout, now) {
                    assert!(change > now, "the next change {change} is not after {now}");
                }
                let t = aligned_instant(now, rollout.update_seconds, 30);
                let _ = rollout_window(rollout.start_unix, t);
            }
        }
        if let Some(shadow) = &experiment.shadow {
            assert!((1..=10_000).contains(&shadow.percent_hundredths));
            let _ = shadow_path("/seldon/default/fraud-detection/api/v1.0/predictions", &experiment.path_prefix, &shadow.path_prefix);
        }
    }
    if let Some(fleet) = parsed.fleet() {
        for now in clocks {
            let plan = query_plan(&fleet.prometheus, "fraud-detection", 600, now);
            assert!(plan.path.starts_with('/'), "{}", plan.path);
        }
    }
});
