//! One worker's view of one adaptive experiment: its outcomes ([`Ledger`]), the current allocation, the
//! Thompson estimate in progress, and the log line. The host drives it from its tick:
//! 1. merge the ledger's pending outcomes into shared data (the protocol of
//!    [`crate::router::outcomes::ledger`]);
//! 2. call [`Learner::step`] with the time, and apply what it returns (gauges, a log line).

use crate::router::adaptive::allocation::{from_shares, recompute, Allocation, Recompute};
use crate::router::adaptive::policy::ThompsonRun;
use crate::router::clock::due;
use crate::router::config::{Adaptive, Experiment};
use crate::router::fleet::Source;
use crate::router::outcomes::{Ledger, Totals};

/// Single posterior draws per tick for a Thompson estimate in progress: bounds the tick's wasm time
/// however many predictors the experiment has (a draw is two gamma draws, about 240 wasm instructions
/// each: 12,000 draws take about 6 M instructions, some 0.4 ms). Two predictors need 20,000 draws.
pub const ARM_DRAWS_PER_TICK: u32 = 12_000;

/// An allocation moves the log when some share changes by this much (one percentage point).
const LOG_STEP_BP: u32 = 100;

pub struct Learner {
    /// This worker's outcomes: pending, and the merged totals the allocation is computed from.
    pub ledger: Ledger,
    current: Allocation,
    run: Option<ThompsonRun>,
    next_update_nanos: u64,
    /// `update_seconds` in nanoseconds: how far ahead `next_update_nanos` can be (see [`due`]).
    period_nanos: u64,
    last_logged: Option<Vec<u32>>,
    /// Whose outcomes the allocation is computed from: with `Pooled` the host hands every replica's
    /// totals over ([`Learner::recompute_from`]) and the learner's own schedule is off.
    source: Source,
    /// The outcomes behind the allocation being computed or in force (for the log line).
    outcomes: u64,
}

/// What a step changed, for the host to apply.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// The allocation changed: update the `share_bp` gauges.
    pub allocation_changed: bool,
    /// An info line to log.
    pub log: Option<String>,
}

impl Learner {
    pub fn new(experiment: &Experiment) -> Self {
        Learner {
            ledger: Ledger::new(experiment.predictors.len()),
            current: Allocation::configured(experiment),
            run: None,
            next_update_nanos: 0,
            period_nanos: experiment
                .adaptive
                .as_ref()
                .map_or(0, |a| u64::from(a.update_seconds).saturating_mul(1_000_000_000)),
            last_logged: None,
            source: Source::Local,
            outcomes: 0,
        }
    }

    /// Starts from `learned` (what shared data held when the configuration was applied) and computes
    /// its allocation at once, so the first request is served with it.
    pub fn resume(experiment: &Experiment, learned: Totals, now_nanos: u64) -> (Self, StepReport) {
        let mut learner = Learner::new(experiment);
        learner.ledger = Ledger::resume(learned);
        learner.next_update_nanos = now_nanos;
        let report = learner.step(experiment, now_nanos, u32::MAX);
        (learner, report)
    }

    /// A pooled experiment at configuration time: this Envoy's totals kept for a fallback to local
    /// learning, the allocation from the last pooled totals this Envoy's workers shared (none: the
    /// configured weights until the first answer).
    pub fn resume_pooled(
        experiment: &Experiment,
        learned: Totals,
        pooled: Option<&Totals>,
    ) -> (Self, StepReport) {
        let mut learner = Learner::new(experiment);
        learner.ledger = Ledger::resume(learned);
        learner.source = Source::Pooled;
        let report = match pooled {
            Some(totals) => learner.recompute_from(experiment, totals, u32::MAX),
            None => StepReport::default(),
        };
        (learner, report)
    }

    /// Whether the next step starts a recompute from this Envoy's totals, for which the host reads the
    /// merged totals first.
    pub fn needs_totals(&self, now_nanos: u64) -> bool {
        self.source == Source::Local
            && self.run.is_none()
            && due(now_nanos, self.next_update_nanos, self.period_nanos)
    }

    pub fn source(&self) -> Source {
        self.source
    }

    /// Pooled: recomputes only from the totals the host hands over. Local: from this Envoy's merged
    /// totals every `update_seconds`, the next one at once.
    pub fn set_source(&mut self, source: Source, now_nanos: u64) {
        if source != self.source && source == Source::Local {
            self.next_update_nanos = now_nanos;
        }
        self.source = source;
    }

    /// Recomputes from `totals` (every replica's outcomes) now: a Thompson estimate in progress is
    /// replaced, and runs for at most `arm_draws` draws here, the rest on later steps.
    pub fn recompute_from(&mut self, experiment: &Experiment, totals: &Totals, arm_draws: u32) -> StepReport {
        let Some(adaptive) = &experiment.adaptive else {
            return StepReport::default();
        };
        self.run = None;
        let next = self.start(experiment, adaptive, totals);
        self.finish(experiment, next, arm_draws)
    }

    fn start(&mut self, experiment: &Experiment, adaptive: &Adaptive, totals: &Totals) -> Option<Allocation> {
        self.outcomes = totals.outcomes();
        match recompute(experiment, adaptive, totals) {
            Recompute::Done(allocation) => Some(allocation),
            Recompute::Estimate(run) => {
                self.run = Some(run);
                None
            }
        }
    }

    /// Whether a Thompson estimate is in progress (the host then ticks faster until it completes).
    pub fn estimating(&self) -> bool {
        self.run.is_some()
    }

    pub fn allocation(&self) -> &Allocation {
        &self.current
    }

    /// Advances the allocation: starts a recompute when one is due, continues a Thompson estimate in
    /// progress by at most `arm_draws` posterior draws, and reports what changed.
    pub fn step(&mut self, experiment: &Experiment, now_nanos: u64, arm_draws: u32) -> StepReport {
        let Some(adaptive) = &experiment.adaptive else {
            return StepReport::default();
        };
        let mut next = None;
        if self.needs_totals(now_nanos) {
            self.next_update_nanos = now_nanos.saturating_add(self.period_nanos);
            let totals = self.ledger.totals().clone();
            next = self.start(experiment, adaptive, &totals);
        }
        self.finish(experiment, next, arm_draws)
    }

    /// Continues a Thompson estimate in progress (unless `next` is already computed) and reports.
    fn finish(
        &mut self,
        experiment: &Experiment,
        mut next: Option<Allocation>,
        arm_draws: u32,
    ) -> StepReport {
        let Some(adaptive) = &experiment.adaptive else {
            return StepReport::default();
        };
        if let Some(run) = &mut self.run {
            if run.advance(arm_draws) {
                next = Some(from_shares(experiment, adaptive, &run.shares()));
                self.run = None;
            }
        }
        let Some(next) = next else {
            return StepReport::default();
        };
        let allocation_changed = next != self.current;
        self.current = next;
        let log = self.log_line(experiment);
        StepReport {
            allocation_changed,
            log,
        }
    }

    /// `predictor_router: <experiment> allocation <pred> <share>% ... (<policy>, <outcomes> outcomes)`,
    /// when the allocation first leaves burn-in or moves by a percentage point from the last one logged.
    fn log_line(&mut self, experiment: &Experiment) -> Option<String> {
        let adaptive = experiment.adaptive.as_ref()?;
        if !self.current.learned {
            return None;
        }
        if let Some(last) = &self.last_logged {
            if !self.current.moved_from(last, LOG_STEP_BP) {
                return None;
            }
        }
        self.last_logged = Some(self.current.shares_bp.clone());
        let mut line = format!("predictor_router: {} allocation", experiment.name);
        for (p, bp) in experiment.predictors.iter().zip(&self.current.shares_bp) {
            line.push_str(&format!(" {} {}.{:02}%", p.name, bp / 100, bp % 100));
        }
        line.push_str(&format!(
            " ({}, {} outcomes{})",
            adaptive.policy.as_str(),
            self.outcomes,
            if self.source == Source::Pooled {
                " of every replica"
            } else {
                ""
            }
        ));
        Some(line)
    }
}
