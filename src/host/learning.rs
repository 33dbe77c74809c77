//! Adaptive experiments on one worker: a learner per experiment, its outcomes merged with the other
//! workers' through shared data on every tick (`super::outcomes`), and the allocations that new
//! assignments are taken from.

use super::abi;
use super::outcomes::{claim, sync};
use crate::router::adaptive::{Learner, StepReport};
use crate::router::bucketing::BucketTable;
use crate::router::config::Experiment;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::share_gauge_name;
use crate::router::outcomes::{record, Outcome};
use crate::router::plan::Allocations;
use crate::router::table::RoutingTable;

struct Adaptive {
    key: String,
    learner: Learner,
    /// `share_bp` gauge ids per predictor, defined when first recorded.
    gauges: Vec<Option<u32>>,
}

/// Learners by experiment id (`None` for fixed-weight experiments).
pub struct Learning {
    experiments: Vec<Option<Adaptive>>,
}

impl Learning {
    pub fn new(table: &RoutingTable) -> Self {
        Learning {
            experiments: table
                .experiments()
                .iter()
                .map(|e| {
                    e.adaptive.as_ref().map(|_| Adaptive {
                        key: record::shared_key(&e.name),
                        learner: Learner::new(e),
                        gauges: vec![None; e.predictors.len()],
                    })
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.experiments.iter().all(Option::is_none)
    }

    /// At configuration time: adopt what shared data learned for these very experiments (or claim the
    /// key for them, starting from zero) and serve its allocation from the first request.
    pub fn resume(&mut self, table: &RoutingTable, now_nanos: u64) {
        for (id, experiment) in table.iter() {
            let Some(adaptive) = self.experiments.get_mut(id.index()).and_then(Option::as_mut) else {
                continue;
            };
            let learned = claim(&adaptive.key, experiment);
            let (learner, report) = Learner::resume(experiment, learned, now_nanos);
            adaptive.learner = learner;
            apply(adaptive, experiment, &report, true);
        }
    }

    pub fn record(&mut self, experiment: ExperimentId, predictor: PredictorId, outcome: Outcome) {
        if let Some(Some(adaptive)) = self.experiments.get_mut(experiment.index()) {
            adaptive.learner.ledger.record(predictor, outcome);
        }
    }

    /// The tick: merge, then advance each allocation by a bounded amount of work. Returns whether an
    /// estimate is still in progress.
    pub fn tick(&mut self, table: &RoutingTable, now_nanos: u64, arm_draws: u32) -> bool {
        let mut estimating = false;
        for (id, experiment) in table.iter() {
            let Some(adaptive) = self.experiments.get_mut(id.index()).and_then(Option::as_mut) else {
                continue;
            };
            if adaptive.learner.ledger.has_pending() || adaptive.learner.needs_totals(now_nanos) {
                sync(&adaptive.key, &mut adaptive.learner.ledger, experiment);
            }
            let report = adaptive.learner.step(experiment, now_nanos, arm_draws);
            apply(adaptive, experiment, &report, false);
            estimating |= adaptive.learner.estimating();
        }
        estimating
    }

    /// Merges every pending outcome (the configuration leaves service).
    pub fn sync_all(&mut self, table: &RoutingTable) {
        for (id, experiment) in table.iter() {
            if let Some(Some(adaptive)) = self.experiments.get_mut(id.index()) {
                if adaptive.learner.ledger.has_pending() {
                    sync(&adaptive.key, &mut adaptive.learner.ledger, experiment);
                }
            }
        }
    }
}

impl Allocations for Learning {
    fn buckets<'a>(&'a self, experiment: ExperimentId, configured: &'a Experiment) -> &'a BucketTable {
        match self.experiments.get(experiment.index()) {
            Some(Some(adaptive)) => &adaptive.learner.allocation().buckets,
            _ => &configured.buckets,
        }
    }
}

/// Gauges and the log line of a step.
fn apply(adaptive: &mut Adaptive, experiment: &Experiment, report: &StepReport, always: bool) {
    if report.allocation_changed || always {
        let shares = &adaptive.learner.allocation().shares_bp;
        for ((predictor, gauge), bp) in experiment.predictors.iter().zip(&mut adaptive.gauges).zip(shares) {
            let id = match gauge {
                Some(id) => *id,
                None => match abi::define_gauge(&share_gauge_name(&experiment.name, &predictor.name)) {
                    Ok(id) => *gauge.insert(id),
                    Err(_) => continue,
                },
            };
            let _ = abi::record_gauge(id, u64::from(*bp));
        }
    }
    if let Some(line) = &report.log {
        log::info!("{line}");
    }
}
