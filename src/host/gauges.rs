//! Gauges the filter records on its tick (`share_bp`, a rollout's step and state), each defined with
//! Envoy the first time it is recorded.

use super::abi;

/// One gauge: its name, and its metric id once defined.
pub struct Gauge {
    name: String,
    id: Option<u32>,
}

impl Gauge {
    pub fn new(name: String) -> Self {
        Gauge { name, id: None }
    }

    /// Records `value`; a gauge Envoy refused to define is skipped (it must never fail anything else).
    pub fn record(&mut self, value: u64) {
        let id = match self.id {
            Some(id) => id,
            None => match abi::define_gauge(&self.name) {
                Ok(id) => *self.id.insert(id),
                Err(_) => return,
            },
        };
        let _ = abi::record_gauge(id, value);
    }
}

/// The `share_bp` gauges of an experiment's predictors, in listed order.
pub fn share_gauges(experiment: &crate::router::config::Experiment) -> Vec<Gauge> {
    experiment
        .predictors
        .iter()
        .map(|p| {
            Gauge::new(crate::router::metrics::share_gauge_name(
                &experiment.name,
                &p.name,
            ))
        })
        .collect()
}

/// Records each predictor's share.
pub fn record_shares(gauges: &mut [Gauge], shares_bp: &[u32]) {
    for (gauge, bp) in gauges.iter_mut().zip(shares_bp) {
        gauge.record(u64::from(*bp));
    }
}
