//! Adaptive experiments on one worker: a learner per experiment, merged with the other workers' through
//! shared data on every tick, and the allocations that new assignments are taken from.
//!
//! Merging: read the experiment's key with its CAS version, add this worker's pending outcomes, write it
//! back under that version. A lost race (another worker wrote in between) is retried a few times; if it
//! still loses, the outcomes stay pending for the next tick. Nothing is counted twice (pending outcomes
//! are cleared only after a successful write) and nothing is dropped.

use super::abi;
use crate::router::adaptive::totals::{self, Stored, Totals};
use crate::router::adaptive::{Learner, Outcome, StepReport};
use crate::router::bucketing::BucketTable;
use crate::router::config::Experiment;
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::metrics::share_gauge_name;
use crate::router::plan::Allocations;
use crate::router::table::RoutingTable;

/// Attempts at one compare-and-swap merge before the outcomes wait for the next tick.
const CAS_ATTEMPTS: usize = 4;

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
                        key: totals::shared_key(&e.name),
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
            adaptive.learner.record(predictor, outcome);
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
            if adaptive.learner.has_pending() || adaptive.learner.needs_totals(now_nanos) {
                sync(adaptive, experiment);
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
                if adaptive.learner.has_pending() {
                    sync(adaptive, experiment);
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

/// Reads the experiment's totals; when they belong to another definition of it (or to nothing yet),
/// claims the key for this one with zero totals.
fn claim(key: &str, experiment: &Experiment) -> Totals {
    let zero = Totals::zero(experiment.predictors.len());
    for _ in 0..CAS_ATTEMPTS {
        let cas = match abi::shared_data(key) {
            Ok(Some((bytes, cas))) => match totals::decode(experiment, &bytes) {
                Stored::Ours(learned) => return learned,
                Stored::Foreign => cas,
            },
            Ok(None) => 0,
            Err(_) => return zero,
        };
        match abi::set_shared_data(key, &totals::encode(experiment, &zero), cas) {
            Ok(()) => return zero,
            Err(abi::HostError::CasMismatch) => continue,
            Err(_) => return zero,
        }
    }
    zero
}

/// One compare-and-swap merge of the pending outcomes (or a read of the totals when none is pending).
fn sync(adaptive: &mut Adaptive, experiment: &Experiment) {
    for _ in 0..CAS_ATTEMPTS {
        let (stored, cas) = match abi::shared_data(&adaptive.key) {
            Ok(Some((bytes, cas))) => match totals::decode(experiment, &bytes) {
                Stored::Ours(stored) => (stored, cas),
                // A newer configuration redefined the experiment: what this one learned no longer
                // applies to it, and must not overwrite its totals.
                Stored::Foreign => {
                    adaptive.learner.merged(Totals::zero(experiment.predictors.len()));
                    return;
                }
            },
            Ok(None) => (Totals::zero(experiment.predictors.len()), 0),
            Err(_) => return,
        };
        if !adaptive.learner.has_pending() {
            adaptive.learner.observed(stored);
            return;
        }
        let merged = adaptive.learner.merge_into(&stored);
        match abi::set_shared_data(&adaptive.key, &totals::encode(experiment, &merged), cas) {
            Ok(()) => {
                adaptive.learner.merged(merged);
                return;
            }
            Err(abi::HostError::CasMismatch) => continue,
            Err(_) => return,
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
