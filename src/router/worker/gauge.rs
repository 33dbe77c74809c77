//! Gauges the worker records on its tick (`share_bp`, a rollout's step and state, `pooled`), each
//! defined with the host the first time it is recorded.

use super::port::HostPort;
use crate::router::config::Experiment;
use crate::router::metrics::share_gauge_name;

/// One gauge: its name, and its metric id once defined.
pub struct Gauge {
    name: String,
    id: Option<u32>,
}

impl Gauge {
    pub fn new(name: String) -> Self {
        Gauge { name, id: None }
    }

    /// Records `value`; a gauge the host refused to define is skipped (it must never fail anything else).
    pub fn record(&mut self, port: &impl HostPort, value: u64) {
        let id = match self.id {
            Some(id) => id,
            None => match port.define_gauge(&self.name) {
                Some(id) => *self.id.insert(id),
                None => return,
            },
        };
        port.record_gauge(id, value);
    }
}

/// The `share_bp` gauges of an experiment's predictors, in listed order.
pub fn share_gauges(experiment: &Experiment) -> Vec<Gauge> {
    experiment
        .predictors
        .iter()
        .map(|p| Gauge::new(share_gauge_name(&experiment.name, &p.name)))
        .collect()
}

/// Records each predictor's share.
pub fn record_shares(port: &impl HostPort, gauges: &mut [Gauge], shares_bp: &[u32]) {
    for (gauge, bp) in gauges.iter_mut().zip(shares_bp) {
        gauge.record(port, u64::from(*bp));
    }
}
