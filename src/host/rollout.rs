//! A rollout on one worker: the core's [`Canary`] driven from the tick, its outcomes merged with the
//! other workers' (`super::outcomes`), a rollback written to shared data so that every worker of the
//! Envoy stops the canary, and the gauges and log lines of the SPEC.

use super::gauges::{record_shares, share_gauges, Gauge};
use super::outcomes::{claim, set_rolled_back, sync};
use crate::router::config::{Experiment, Rollout};
use crate::router::decision::NewAssignments;
use crate::router::metrics::{rollout_rolled_back_gauge_name, rollout_step_gauge_name};
use crate::router::outcomes::record;
use crate::router::rollout::canary::{Canary, CanaryReport};

pub struct RolloutExperiment {
    key: String,
    pub canary: Canary,
    shares: Vec<Gauge>,
    step: Gauge,
    rolled_back: Gauge,
}

impl RolloutExperiment {
    /// At configuration time: adopt what shared data holds for this very rollout (outcomes since
    /// `start`, and whether it was rolled back), in the phase of the clock.
    pub fn resume(experiment: &Experiment, rollout: &Rollout, now_nanos: u64) -> Self {
        let key = record::key_of(experiment);
        let (learned, flags) = claim(&key, experiment);
        let (canary, report) = Canary::resume(experiment, rollout, learned, flags.rolled_back, now_nanos);
        let mut this = RolloutExperiment {
            key,
            canary,
            shares: share_gauges(experiment),
            step: Gauge::new(rollout_step_gauge_name(&experiment.name)),
            rolled_back: Gauge::new(rollout_rolled_back_gauge_name(&experiment.name)),
        };
        this.apply(&report);
        this
    }

    pub fn assignments(&self) -> NewAssignments<'_> {
        let table = self.canary.table();
        NewAssignments {
            buckets: &table.buckets,
            closed: table.closed,
            collects_outcomes: self.canary.collects_outcomes(),
        }
    }

    /// The tick: follow the schedule; when the guard looks, merge first (and learn of a rollback
    /// another worker recorded), then judge.
    pub fn tick(&mut self, experiment: &Experiment, rollout: &Rollout, now_nanos: u64) {
        let mut observed = false;
        if self.canary.ledger.has_pending() || self.canary.needs_totals(now_nanos) {
            if let Some(flags) = sync(&self.key, &mut self.canary.ledger, experiment) {
                observed = flags.rolled_back && self.canary.observe_rolled_back();
            }
        }
        let mut report = self.canary.step(experiment, rollout, now_nanos);
        report.changed |= observed;
        if let Some(line) = report.rollback.take() {
            // Logged by the worker that recorded it; another that judged the same lost the race.
            if set_rolled_back(&self.key, experiment) {
                log::warn!("{line}");
            }
        }
        self.apply(&report);
    }

    /// Merges what is pending (the configuration leaves service).
    pub fn sync(&mut self, experiment: &Experiment) {
        if self.canary.ledger.has_pending() {
            sync(&self.key, &mut self.canary.ledger, experiment);
        }
    }

    fn apply(&mut self, report: &CanaryReport) {
        if report.changed {
            record_shares(&mut self.shares, &self.canary.table().shares_bp);
            self.step.record(u64::from(self.canary.phase().step));
            self.rolled_back.record(u64::from(self.canary.rolled_back()));
        }
        if let Some(line) = &report.step_log {
            log::info!("{line}");
        }
    }
}
