//! The shadow of the seed's experiment in a real Envoy: its plugin configuration, a gateway whose
//! shadow cluster is a loopback port, and the shadow counters read from Envoy's admin interface.

use serde_json::{json, Value};

use crate::envoy::Envoy;
use crate::gateway::{Gateway, GatewayOptions};
use crate::http::eventually;
use crate::scenario::seed_plugin_config;
use crate::upstream::PredictorServer;

/// The shadow's cluster, named as Istio names the outbound cluster of its Service.
pub const CLUSTER: &str = "outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local";
pub const NAME: &str = "rf-v2";
/// The contract's outcomes of a copy: each copied request ends in exactly one.
pub const OUTCOMES: [&str; 5] = ["agree", "disagree", "failed", "timeout", "skipped"];

/// The shipped configuration with a `shadow` block on its experiment: `shadow` is merged over
/// `{name, cluster, authority, percent: 100, timeout_ms: 2000, max_in_flight: 10000}`.
pub fn plugin_config(shadow: Value) -> Value {
    let mut block = json!({
        "name": NAME, "cluster": CLUSTER,
        "authority": "fraud-detection-rf-v2.default.svc.cluster.local:8000",
        "percent": 100, "timeout_ms": 2000, "max_in_flight": 10000
    });
    if let (Some(block), Some(overrides)) = (block.as_object_mut(), shadow.as_object()) {
        block.extend(overrides.clone());
    }
    let mut config = seed_plugin_config();
    config["experiments"][0]["shadow"] = block;
    config
}

/// An Envoy (`concurrency` workers) in front of `upstreams` whose shadow cluster points at
/// `shadow_port`.
pub fn gateway(config: &Value, upstreams: &[PredictorServer], shadow_port: u16, concurrency: u32) -> Envoy {
    let options = GatewayOptions {
        concurrency,
        extra_clusters: vec![(CLUSTER.to_string(), shadow_port)],
        component_log_level: std::env::var("SHADOW_LOG").ok(),
        ..GatewayOptions::default()
    };
    Gateway::start_envoy(config.clone(), upstreams, options)
        .unwrap_or_else(|f| panic!("Envoy did not start: {}", f.log))
}

/// The seed's two predictors, `xgb` and `rf`, on loopback.
pub fn seed_upstreams() -> Vec<PredictorServer> {
    ["xgb", "rf"].iter().map(|n| PredictorServer::start(n)).collect()
}

/// The shadow counters summed over the served predictors: `copied` and each outcome, the non-zero ones
/// (waits for Envoy's stats flush).
pub fn totals(envoy: &Envoy) -> Vec<(String, u64)> {
    let counters = envoy.counters();
    let sum = |measure: &str| {
        counters
            .iter()
            .filter(|(k, _)| k.ends_with(&format!(".shadow.{NAME}.{measure}")))
            .map(|(_, v)| *v)
            .sum::<u64>()
    };
    ["copied"]
        .iter()
        .chain(OUTCOMES.iter())
        .map(|m| (m.to_string(), sum(m)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// The value of one measure in [`totals`] (0 when absent).
pub fn measure(totals: &[(String, u64)], name: &str) -> u64 {
    totals.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v)
}

/// The sum of the outcomes in [`totals`].
pub fn outcome_sum(totals: &[(String, u64)]) -> u64 {
    totals
        .iter()
        .filter(|(k, _)| OUTCOMES.contains(&k.as_str()))
        .map(|(_, v)| v)
        .sum()
}

/// Waits until at least `copied` copies have their outcome (or 10 s), and returns the totals.
pub fn settled(envoy: &Envoy, copied: u64) -> Vec<(String, u64)> {
    let mut now = Vec::new();
    eventually(10, || {
        now = totals(envoy);
        outcome_sum(&now) >= copied
    });
    now
}

/// A fault of the shadow: its name, how the loopback shadow behaves (`None`: nothing listens on its
/// port), and the outcome each copy must end in.
pub struct Fault {
    pub name: &'static str,
    pub behaviour: Option<crate::upstream::Behaviour>,
    pub outcome: &'static str,
}

/// The shadow's faults the e2e tests put it through, with a `timeout_ms` below 600 ms: answering
/// beyond it, answering 500s, answering what is not a prediction, and not listening at all.
pub fn faults() -> Vec<Fault> {
    use crate::upstream::Behaviour;
    vec![
        Fault {
            name: "beyond timeout_ms",
            behaviour: Some(Behaviour {
                delay: std::time::Duration::from_millis(600),
                ..Behaviour::default()
            }),
            outcome: "timeout",
        },
        Fault {
            name: "500s",
            behaviour: Some(Behaviour {
                status: 500,
                ..Behaviour::default()
            }),
            outcome: "failed",
        },
        Fault {
            name: "garbage",
            behaviour: Some(Behaviour {
                body: Some("<html>not a prediction</html>".into()),
                ..Behaviour::default()
            }),
            outcome: "failed",
        },
        Fault {
            name: "not listening",
            behaviour: None,
            outcome: "failed",
        },
    ]
}

/// The port a copy goes to under `fault`: the shadow server's, behaving as the fault says, or a port
/// nothing listens on.
pub fn port_for(fault: &Fault, shadow: &crate::upstream::PredictorServer) -> u16 {
    match &fault.behaviour {
        Some(behaviour) => {
            shadow.set_behaviour(behaviour.clone());
            shadow.port
        }
        None => crate::envoy::free_port(),
    }
}
