//! `predictor-router rollout --config FILE [--at RFC3339]`: every rollout's schedule as wall-clock
//! times, and the step and shares at an instant, from the same schedule code as the filter.

use std::fmt::Write;

use predictor_router::router::config::Experiment;
use predictor_router::router::rollout::instant;
use predictor_router::router::rollout::schedule::{phase_at, step_starts};
use predictor_router::router::rollout::shares::phase_table;

/// The report of one experiment, or `None` without a rollout.
pub fn report(experiment: &Experiment, at_unix: u64) -> Option<String> {
    let rollout = experiment.rollout.as_ref()?;
    let canary = experiment
        .predictor(rollout.canary)
        .map_or("", |p| p.name.as_str());
    let mut out = format!(
        "experiment {}: rollout of {canary} from {}\n",
        experiment.name, rollout.start
    );
    let starts = step_starts(rollout);
    let n = rollout.steps.len();
    for (k, (step, begins)) in rollout.steps.iter().zip(&starts).enumerate() {
        let until = match step.minutes {
            Some(m) => format!("until {} ({m} min)", instant::format(begins + u64::from(m) * 60)),
            None => "until the configuration changes".to_string(),
        };
        let _ = writeln!(
            out,
            "  step {}/{n}  {:>3} %  from {}  {until}",
            k + 1,
            step.percent,
            instant::format(*begins)
        );
    }
    let phase = phase_at(rollout, at_unix);
    let table = phase_table(experiment, rollout, phase.percent);
    let where_ = if phase.step == 0 {
        "before start: the canary gets no new assignments".to_string()
    } else {
        format!("step {}/{n}", phase.step)
    };
    let _ = write!(out, "  at {}: {where_}; shares", instant::format(at_unix));
    for (p, bp) in experiment.predictors.iter().zip(&table.shares_bp) {
        let _ = write!(out, " {} {}.{:02} %", p.name, bp / 100, bp % 100);
    }
    let guard = &rollout.guard;
    let _ = writeln!(
        out,
        "\n  guard: rolled back when {canary}'s success rate is more than {} percentage points below the \
         baseline's at {} % confidence (mSPRT, both sides with at least {} outcomes, a look every {} s); a \
         rollback is final for this start",
        f64::from(guard.max_drop_millionths) / 10_000.0,
        f64::from(guard.confidence_tenths) / 10.0,
        guard.min_outcomes,
        rollout.update_seconds
    );
    Some(out)
}
