//! One worker's view of one rollout: its outcomes ([`Ledger`]), the phase in force, whether it was
//! rolled back, and when the guard looks next. The host drives it from its tick:
//! 1. while it [`Canary::collects_outcomes`] (and whenever outcomes are pending), merge the ledger
//!    into shared data (the protocol of [`crate::router::outcomes::ledger`]) and hand over whether
//!    the record says "rolled back": every tick, so that a rollback on one worker reaches the others
//!    within a tick, not at their next look;
//! 2. call [`Canary::step`] with the clock, and apply what it reports (gauges, log lines, and on a
//!    rollback the flag in shared data, so that every worker of the Envoy stops the canary).

use crate::router::clock::due;
use crate::router::config::{Experiment, Rollout};
use crate::router::outcomes::{ArmTotals, Ledger, Totals};
use crate::router::rollout::guard::{self, judge, Evidence, Verdict};
use crate::router::rollout::schedule::{next_change, phase_at, Phase};
use crate::router::rollout::shares::{phase_table, phase_tables, PhaseTable};

const NANOS: u64 = 1_000_000_000;

pub struct Canary {
    pub ledger: Ledger,
    /// The canary at 0 % (before `start`, and after a rollback).
    stopped: PhaseTable,
    /// Step 1 to n.
    steps: Vec<PhaseTable>,
    phase: Phase,
    rolled_back: bool,
    next_look_nanos: u64,
    /// `update_seconds` in nanoseconds: how far ahead `next_look_nanos` can be (see [`due`]).
    look_period_nanos: u64,
    /// The step of the last step log line (none before the first).
    logged_step: Option<u32>,
    /// Pooled rollouts look when the host hands totals over ([`Canary::look`]), not on their own.
    looks_on_its_own: bool,
}

/// What a step changed, for the host to apply.
#[derive(Debug, Default, PartialEq)]
pub struct CanaryReport {
    /// The table in force changed (a step, or the rollback): update the `share_bp` and step gauges.
    pub changed: bool,
    /// An info line: a step change.
    pub step_log: Option<String>,
    /// The guard decided a rollback just now: write it to shared data, then log this warn line.
    pub rollback: Option<String>,
}

impl Canary {
    /// Starts from what shared data held when the configuration was applied (`learned`, `rolled_back`),
    /// in the phase of `now_nanos`, so the first request is served from it.
    pub fn resume(
        experiment: &Experiment,
        rollout: &Rollout,
        learned: Totals,
        rolled_back: bool,
        now_nanos: u64,
    ) -> (Self, CanaryReport) {
        let mut tables = phase_tables(experiment, rollout).into_iter();
        let stopped = tables
            .next()
            .unwrap_or_else(|| phase_table(experiment, rollout, 0));
        let mut canary = Canary {
            ledger: Ledger::resume(learned),
            stopped,
            steps: tables.collect(),
            phase: Phase { step: 0, percent: 0 },
            rolled_back,
            next_look_nanos: now_nanos,
            look_period_nanos: u64::from(rollout.update_seconds).saturating_mul(NANOS),
            logged_step: None,
            looks_on_its_own: true,
        };
        let mut report = canary.advance_phase(experiment, rollout, now_nanos);
        report.changed = true;
        (canary, report)
    }

    /// The new assignments in force.
    pub fn table(&self) -> &PhaseTable {
        let step = self.phase.step as usize;
        match step.checked_sub(1).filter(|_| !self.rolled_back) {
            Some(i) => self.steps.get(i).unwrap_or(&self.stopped),
            None => &self.stopped,
        }
    }

    /// Whether a request decided now counts as an outcome: after `start`, until a rollback.
    pub fn collects_outcomes(&self) -> bool {
        self.phase.step >= 1 && !self.rolled_back
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn rolled_back(&self) -> bool {
        self.rolled_back
    }

    /// Whether the guard looks at this step (the host merged and read the totals first: it does on
    /// every tick while the canary takes part).
    fn needs_totals(&self, now_nanos: u64) -> bool {
        self.looks_on_its_own
            && self.collects_outcomes()
            && due(now_nanos, self.next_look_nanos, self.look_period_nanos)
    }

    /// A pooled rollout: the guard looks only at the totals the host hands to [`Canary::look`].
    pub fn look_only_when_asked(&mut self) {
        self.looks_on_its_own = false;
    }

    /// The guard looks at `totals` now (every replica's, or this Envoy's when the query failed).
    pub fn look(&mut self, experiment: &Experiment, rollout: &Rollout, totals: &Totals) -> CanaryReport {
        let mut report = CanaryReport::default();
        if self.collects_outcomes() {
            self.judge(experiment, rollout, totals, &mut report);
        }
        report
    }

    fn judge(
        &mut self,
        experiment: &Experiment,
        rollout: &Rollout,
        totals: &Totals,
        report: &mut CanaryReport,
    ) {
        let (canary, baseline) = sides(experiment, rollout, totals);
        if let Verdict::RollBack(evidence) = judge(&rollout.guard, &canary, &baseline) {
            self.rolled_back = true;
            report.changed = true;
            report.rollback = Some(rollback_line(experiment, rollout, &evidence));
        }
    }

    /// Another worker rolled the canary back (the record in shared data says so).
    pub fn observe_rolled_back(&mut self) -> bool {
        let changed = !self.rolled_back;
        self.rolled_back = true;
        changed
    }

    /// When the phase changes next, in nanoseconds of the host clock (for the host's tick).
    pub fn next_change_nanos(&self, rollout: &Rollout, now_nanos: u64) -> Option<u64> {
        if self.rolled_back {
            return None;
        }
        next_change(rollout, now_nanos / NANOS).map(|s| s.saturating_mul(NANOS))
    }

    /// Follows the schedule to `now_nanos`, and when a look is due, judges the totals last merged.
    pub fn step(&mut self, experiment: &Experiment, rollout: &Rollout, now_nanos: u64) -> CanaryReport {
        let mut report = self.advance_phase(experiment, rollout, now_nanos);
        if self.needs_totals(now_nanos) {
            self.next_look_nanos = now_nanos.saturating_add(self.look_period_nanos);
            let totals = self.ledger.totals().clone();
            self.judge(experiment, rollout, &totals, &mut report);
        }
        report
    }

    fn advance_phase(&mut self, experiment: &Experiment, rollout: &Rollout, now_nanos: u64) -> CanaryReport {
        let phase = phase_at(rollout, now_nanos / NANOS);
        let mut report = CanaryReport::default();
        if phase != self.phase {
            self.phase = phase;
            report.changed = true;
        }
        if phase.step >= 1 && !self.rolled_back && self.logged_step != Some(phase.step) {
            self.logged_step = Some(phase.step);
            let canary = experiment
                .predictor(rollout.canary)
                .map_or("", |p| p.name.as_str());
            report.step_log = Some(format!(
                "predictor_router: {} rollout step {}/{}: {canary} {}%",
                experiment.name,
                phase.step,
                rollout.steps.len(),
                phase.percent
            ));
        }
        report
    }
}

/// The canary's outcomes and the baseline's (every other predictor with weight > 0, pooled).
pub fn sides(experiment: &Experiment, rollout: &Rollout, totals: &Totals) -> (ArmTotals, ArmTotals) {
    let mut baseline = ArmTotals::default();
    let mut canary = ArmTotals::default();
    for (id, _) in experiment.taking_part() {
        let arm = totals.arms.get(id.index()).copied().unwrap_or_default();
        if id == rollout.canary {
            canary = arm;
        } else {
            baseline.merge(&arm);
        }
    }
    (canary, baseline)
}

/// `predictor_router: <experiment> rollout rolled back <canary>: success <rate>% vs baseline <rate>%
/// (<outcomes> vs <outcomes> outcomes, mSPRT at <confidence>%)`.
pub fn rollback_line(experiment: &Experiment, rollout: &Rollout, evidence: &Evidence) -> String {
    let canary = experiment
        .predictor(rollout.canary)
        .map_or("", |p| p.name.as_str());
    let confidence = rollout.guard.confidence_tenths;
    let confidence = if confidence.is_multiple_of(10) {
        format!("{}", confidence / 10)
    } else {
        format!("{}.{}", confidence / 10, confidence % 10)
    };
    format!(
        "predictor_router: {} rollout rolled back {canary}: success {:.1}% vs baseline {:.1}% \
         ({} vs {} outcomes, {} at {confidence}%)",
        experiment.name,
        evidence.canary_rate * 100.0,
        evidence.baseline_rate * 100.0,
        evidence.canary_outcomes,
        evidence.baseline_outcomes,
        guard::TEST_NAME,
    )
}
