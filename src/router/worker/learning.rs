//! The experiments that learn from outcomes on one worker: an adaptive experiment's learner or a
//! rollout's canary, their outcomes merged with the other workers' through shared data on the tick
//! ([`super::merge`]), and the allocations that new assignments are taken from.

use super::callouts::{Callouts, Owner};
use super::gauge::{record_shares, share_gauges, Gauge};
use super::merge::{claim, sync};
use super::pooled::{FleetCounters, PooledView};
use super::port::{HostPort, Level};
use super::rollout::RolloutExperiment;
use crate::router::adaptive::learner::ARM_DRAWS_PER_TICK;
use crate::router::adaptive::{Learner, StepReport};
use crate::router::callout::Answer;
use crate::router::config::Experiment;
use crate::router::decision::NewAssignments;
use crate::router::fleet::exchange::{Consumer as FleetConsumer, Exchange, Source};
use crate::router::ids::{ExperimentId, PredictorId};
use crate::router::outcomes::{record, Outcome};
use crate::router::plan::Allocations;
use crate::router::table::RoutingTable;

struct Adaptive {
    key: String,
    learner: Learner,
    shares: Vec<Gauge>,
    /// `pooled: true`: this worker's part in the experiment's fleet queries.
    fleet: Option<PooledView>,
}

impl Adaptive {
    /// Applies an answer any worker of this Envoy wrote: a success recomputes from every replica's
    /// totals; enough failures in a row turn the learner local (it then learns on its own schedule,
    /// from the next merge); fewer keep the last pooled allocation.
    fn apply_exchange(
        &mut self,
        port: &impl HostPort,
        experiment: &Experiment,
        exchange: &Exchange,
        now_nanos: u64,
    ) {
        match exchange.source(FleetConsumer::Adaptive) {
            Source::Local => self.learner.set_source(Source::Local, now_nanos),
            Source::Pooled => {
                if let (0, Some((_, totals))) = (exchange.failures_in_row, &exchange.pooled) {
                    self.learner.set_source(Source::Pooled, now_nanos);
                    let report = self
                        .learner
                        .recompute_from(experiment, totals, ARM_DRAWS_PER_TICK);
                    self.report(port, &report, false);
                }
            }
        }
    }

    /// Gauges and the log line of a step.
    fn report(&mut self, port: &impl HostPort, report: &StepReport, always: bool) {
        if report.allocation_changed || always {
            record_shares(port, &mut self.shares, &self.learner.allocation().shares_bp);
        }
        if let Some(line) = &report.log {
            port.log(Level::Info, format_args!("{line}"));
        }
    }
}

/// What collects an experiment's outcomes.
enum Consumer {
    Adaptive(Adaptive),
    Rollout(RolloutExperiment),
}

/// What the tick asks of the host's timer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickNeeds {
    /// A Thompson estimate is in progress: tick fast until it completes.
    pub estimating: bool,
    /// The next instant (host clock, nanoseconds) a rollout changes step.
    pub next_change_nanos: Option<u64>,
}

/// Consumers by experiment id (`None` for fixed-weight experiments).
pub struct Learning {
    experiments: Vec<Option<Consumer>>,
    counters: FleetCounters,
}

impl Learning {
    /// Nothing is read from shared data yet: [`Learning::resume`] does that.
    pub fn new(table: &RoutingTable) -> Self {
        Learning {
            experiments: table
                .experiments()
                .iter()
                .map(|e| {
                    e.adaptive.as_ref().map(|_| {
                        Consumer::Adaptive(Adaptive {
                            key: record::key_of(e),
                            learner: Learner::new(e),
                            shares: share_gauges(e),
                            fleet: e.is_pooled().then(|| PooledView::new(e, FleetConsumer::Adaptive)),
                        })
                    })
                })
                .collect(),
            counters: FleetCounters::default(),
        }
    }

    /// Whether any experiment collects outcomes (fixed-weight configurations skip all of this).
    pub fn needed(table: &RoutingTable) -> bool {
        table
            .experiments()
            .iter()
            .any(|e| e.adaptive.is_some() || e.rollout.is_some())
    }

    /// At configuration time: adopt what shared data collected for these very experiments (or claim
    /// the key for them, starting from zero) and serve its allocation from the first request.
    pub fn resume(&mut self, port: &impl HostPort, table: &RoutingTable, now_nanos: u64) {
        for (id, experiment) in table.iter() {
            let Some(slot) = self.experiments.get_mut(id.index()) else {
                continue;
            };
            if let Some(rollout) = &experiment.rollout {
                *slot = Some(Consumer::Rollout(RolloutExperiment::resume(
                    port, experiment, rollout, now_nanos,
                )));
                continue;
            }
            let Some(Consumer::Adaptive(adaptive)) = slot else {
                continue;
            };
            let (learned, _) = claim(port, &adaptive.key, experiment);
            let (learner, report) = match &mut adaptive.fleet {
                None => Learner::resume(experiment, learned, now_nanos),
                Some(view) => {
                    let exchange = view.resume(port, experiment);
                    let pooled = exchange.pooled.as_ref().map(|(_, totals)| totals);
                    let (mut learner, report) = Learner::resume_pooled(experiment, learned, pooled);
                    if exchange.source(FleetConsumer::Adaptive) == Source::Local {
                        learner.set_source(Source::Local, now_nanos);
                    }
                    (learner, report)
                }
            };
            adaptive.learner = learner;
            adaptive.report(port, &report, true);
        }
    }

    pub fn record(&mut self, experiment: ExperimentId, predictor: PredictorId, outcome: Outcome) {
        match self.experiments.get_mut(experiment.index()) {
            Some(Some(Consumer::Adaptive(adaptive))) => adaptive.learner.ledger.record(predictor, outcome),
            Some(Some(Consumer::Rollout(rollout))) => rollout.canary.ledger.record(predictor, outcome),
            _ => {}
        }
    }

    /// The tick: merge, then advance each allocation or rollout by a bounded amount of work. Fleet
    /// queries sent are entered in `callouts`.
    pub fn tick<P: HostPort>(
        &mut self,
        port: &P,
        table: &RoutingTable,
        now_nanos: u64,
        arm_draws: u32,
        callouts: &mut Callouts<P>,
    ) -> TickNeeds {
        let mut needs = TickNeeds::default();
        let source = table.fleet().map(|f| &f.prometheus);
        for (id, experiment) in table.iter() {
            match self.experiments.get_mut(id.index()) {
                Some(Some(Consumer::Adaptive(adaptive))) => {
                    // The fleet answer first: a switch from pooled to local learning must find this
                    // worker's totals fresh (merged just below), or a worker without traffic would
                    // recompute from the totals it had when it turned pooled, and show that allocation
                    // in `share_bp` while the busy workers serve the learned one.
                    if let (Some(view), Some(source), Some(config)) =
                        (&mut adaptive.fleet, source, &experiment.adaptive)
                    {
                        let window = u64::from(source.window_seconds);
                        let ticked = view.tick(
                            port,
                            experiment,
                            source,
                            config.update_seconds,
                            |_| Some(window),
                            now_nanos,
                            &mut self.counters,
                        );
                        if let Some(token) = ticked.sent {
                            callouts.enter(token, Owner::Pooled(id));
                        }
                        if let Some(exchange) = ticked.fresh {
                            adaptive.apply_exchange(port, experiment, &exchange, now_nanos);
                        }
                    }
                    if adaptive.learner.ledger.has_pending() || adaptive.learner.needs_totals(now_nanos) {
                        sync(port, &adaptive.key, &mut adaptive.learner.ledger, experiment);
                    }
                    let report = adaptive.learner.step(experiment, now_nanos, arm_draws);
                    adaptive.report(port, &report, false);
                    needs.estimating |= adaptive.learner.estimating();
                }
                Some(Some(Consumer::Rollout(rollout_experiment))) => {
                    if let Some(rollout) = &experiment.rollout {
                        let sent = rollout_experiment.tick(
                            port,
                            experiment,
                            rollout,
                            source,
                            now_nanos,
                            &mut self.counters,
                        );
                        if let Some(token) = sent {
                            callouts.enter(token, Owner::Pooled(id));
                        }
                    }
                }
                _ => {}
            }
        }
        needs.next_change_nanos = self.next_change_nanos(table, now_nanos);
        needs
    }

    /// What the tick asks of the timer now (after an answer started a Thompson estimate, say).
    pub fn needs(&self, table: &RoutingTable, now_nanos: u64) -> TickNeeds {
        let estimating = self.experiments.iter().any(|c| match c {
            Some(Consumer::Adaptive(adaptive)) => adaptive.learner.estimating(),
            _ => false,
        });
        TickNeeds {
            estimating,
            next_change_nanos: self.next_change_nanos(table, now_nanos),
        }
    }

    /// The next instant (host clock, nanoseconds) any rollout changes step.
    pub fn next_change_nanos(&self, table: &RoutingTable, now_nanos: u64) -> Option<u64> {
        table
            .iter()
            .filter_map(
                |(id, experiment)| match (self.experiments.get(id.index()), &experiment.rollout) {
                    (Some(Some(Consumer::Rollout(r))), Some(rollout)) => {
                        r.canary.next_change_nanos(rollout, now_nanos)
                    }
                    _ => None,
                },
            )
            .min()
    }

    /// Experiment `id`'s fleet query was answered: it writes the answer for every worker, and applies
    /// it at once.
    pub fn answered(
        &mut self,
        port: &impl HostPort,
        table: &RoutingTable,
        id: ExperimentId,
        answer: &Answer,
        now_nanos: u64,
    ) {
        let Some(experiment) = table.experiment(id) else {
            return;
        };
        match self.experiments.get_mut(id.index()) {
            Some(Some(Consumer::Adaptive(adaptive))) => {
                let Some(view) = adaptive.fleet.as_mut() else {
                    return;
                };
                if let Some(exchange) = view.answered(port, experiment, answer, &mut self.counters) {
                    adaptive.apply_exchange(port, experiment, &exchange, now_nanos);
                }
            }
            Some(Some(Consumer::Rollout(rollout_experiment))) => {
                if let Some(rollout) = &experiment.rollout {
                    rollout_experiment.answered(port, experiment, rollout, answer, &mut self.counters);
                }
            }
            _ => {}
        }
    }

    /// Merges every pending outcome (the configuration leaves service).
    pub fn sync_all(&mut self, port: &impl HostPort, table: &RoutingTable) {
        for (id, experiment) in table.iter() {
            match self.experiments.get_mut(id.index()) {
                Some(Some(Consumer::Adaptive(adaptive))) if adaptive.learner.ledger.has_pending() => {
                    sync(port, &adaptive.key, &mut adaptive.learner.ledger, experiment);
                }
                Some(Some(Consumer::Rollout(rollout))) => rollout.sync(port, experiment),
                _ => {}
            }
        }
    }
}

impl Allocations for Learning {
    fn assignments<'a>(&'a self, experiment: ExperimentId, configured: &'a Experiment) -> NewAssignments<'a> {
        match self.experiments.get(experiment.index()) {
            Some(Some(Consumer::Adaptive(adaptive))) => NewAssignments {
                buckets: &adaptive.learner.allocation().buckets,
                ..NewAssignments::configured(configured)
            },
            Some(Some(Consumer::Rollout(rollout))) => rollout.assignments(),
            _ => NewAssignments::configured(configured),
        }
    }
}
