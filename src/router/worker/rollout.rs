//! A rollout on one worker: the core's [`Canary`] driven from the tick, its outcomes merged with the
//! other workers' ([`super::merge`]), a rollback written to shared data so that every worker of the
//! Envoy stops the canary, and the gauges and log lines of the contract.

use super::gauge::{record_shares, share_gauges, Gauge};
use super::merge::{claim, set_rolled_back, sync};
use super::pooled::{FleetCounters, PooledView};
use super::port::{HostPort, Level};
use crate::router::callout::Answer;
use crate::router::config::{Experiment, PrometheusSource, Rollout};
use crate::router::decision::NewAssignments;
use crate::router::fleet::exchange::{Consumer, Exchange};
use crate::router::fleet::instant::rollout_window;
use crate::router::metrics::{rollout_rolled_back_gauge_name, rollout_step_gauge_name};
use crate::router::outcomes::record;
use crate::router::rollout::canary::{Canary, CanaryReport};

pub struct RolloutExperiment {
    key: String,
    pub canary: Canary,
    shares: Vec<Gauge>,
    step: Gauge,
    rolled_back: Gauge,
    /// `pooled: true`: this worker's part in the rollout's fleet queries.
    fleet: Option<PooledView>,
}

impl RolloutExperiment {
    /// At configuration time: adopt what shared data holds for this very rollout (outcomes since
    /// `start`, and whether it was rolled back), in the phase of the clock.
    pub fn resume(port: &impl HostPort, experiment: &Experiment, rollout: &Rollout, now_nanos: u64) -> Self {
        let key = record::key_of(experiment);
        let (learned, flags) = claim(port, &key, experiment);
        let (mut canary, report) = Canary::resume(experiment, rollout, learned, flags.rolled_back, now_nanos);
        let mut fleet = None;
        if rollout.pooled {
            canary.look_only_when_asked();
            let mut view = PooledView::new(experiment, Consumer::Rollout);
            view.resume(port, experiment);
            fleet = Some(view);
        }
        let mut this = RolloutExperiment {
            key,
            canary,
            shares: share_gauges(experiment),
            step: Gauge::new(rollout_step_gauge_name(&experiment.name)),
            rolled_back: Gauge::new(rollout_rolled_back_gauge_name(&experiment.name)),
            fleet,
        };
        this.apply(port, &report);
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

    /// The tick: follow the schedule; merge first (and learn of a rollback another worker recorded),
    /// then judge when the guard looks. A pooled rollout's guard looks at each answer of its fleet
    /// queries instead. Returns the token of the fleet query this tick sent.
    ///
    /// While the canary takes part, every tick reads the record even with nothing to merge: a worker
    /// that was idle since its last merge would otherwise learn another worker's rollback only at its
    /// own next look (up to `update_seconds`), and could give a new user the canary in between. One
    /// shared-data read per tick (500 ms) closes that window to a tick.
    pub fn tick(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        rollout: &Rollout,
        source: Option<&PrometheusSource>,
        now_nanos: u64,
        counters: &mut FleetCounters,
    ) -> Option<u32> {
        let mut observed = false;
        if self.canary.ledger.has_pending() || self.canary.collects_outcomes() {
            if let Some(flags) = sync(port, &self.key, &mut self.canary.ledger, experiment) {
                observed = flags.rolled_back && self.canary.observe_rolled_back();
            }
        }
        let mut report = self.canary.step(experiment, rollout, now_nanos);
        report.changed |= observed;
        self.finish(port, experiment, report);
        let collecting = self.canary.collects_outcomes();
        let (Some(view), Some(source)) = (&mut self.fleet, source) else {
            return None;
        };
        let window_at = |t| rollout_window(rollout.start_unix, t).filter(|_| collecting);
        let ticked = view.tick(
            port,
            experiment,
            source,
            rollout.update_seconds,
            window_at,
            now_nanos,
            counters,
        );
        if let Some(exchange) = ticked.fresh {
            self.apply_exchange(port, experiment, rollout, &exchange);
        }
        ticked.sent
    }

    /// This worker's fleet query was answered: write it for every worker, and judge at once.
    pub fn answered(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        rollout: &Rollout,
        answer: &Answer,
        counters: &mut FleetCounters,
    ) {
        let exchange = match &mut self.fleet {
            Some(view) => view.answered(port, experiment, answer, counters),
            None => None,
        };
        if let Some(exchange) = exchange {
            self.apply_exchange(port, experiment, rollout, &exchange);
        }
    }

    /// The guard looks at an answer's totals: every replica's after a success, this Envoy's (merged
    /// first) after a failure.
    fn apply_exchange(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        rollout: &Rollout,
        exchange: &Exchange,
    ) {
        let report = match (exchange.failures_in_row, &exchange.pooled) {
            (0, Some((_, totals))) => self.canary.look(experiment, rollout, totals),
            _ => {
                sync(port, &self.key, &mut self.canary.ledger, experiment);
                let totals = self.canary.ledger.totals().clone();
                self.canary.look(experiment, rollout, &totals)
            }
        };
        self.finish(port, experiment, report);
    }

    /// A step's or a look's report: a rollback recorded for every worker of the Envoy, then gauges and
    /// log lines.
    fn finish(&mut self, port: &impl HostPort, experiment: &Experiment, mut report: CanaryReport) {
        if let Some(line) = report.rollback.take() {
            // Logged by the worker that recorded it; another that judged the same lost the race.
            if set_rolled_back(port, &self.key, experiment) {
                port.log(Level::Warn, format_args!("{line}"));
            }
        }
        self.apply(port, &report);
    }

    /// Merges what is pending (the configuration leaves service).
    pub fn sync(&mut self, port: &impl HostPort, experiment: &Experiment) {
        if self.canary.ledger.has_pending() {
            sync(port, &self.key, &mut self.canary.ledger, experiment);
        }
    }

    fn apply(&mut self, port: &impl HostPort, report: &CanaryReport) {
        if report.changed {
            record_shares(port, &mut self.shares, &self.canary.table().shares_bp);
            self.step.record(port, u64::from(self.canary.phase().step));
            self.rolled_back
                .record(port, u64::from(self.canary.rolled_back()));
        }
        if let Some(line) = &report.step_log {
            port.log(Level::Info, format_args!("{line}"));
        }
    }
}
