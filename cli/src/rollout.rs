//! `predictor-router rollout --config FILE [--at RFC3339]`: every rollout's schedule as wall-clock
//! times, and the step and shares at an instant, from the same schedule code as the filter.

use std::fmt::Write;

use predictor_router::router::config::Experiment;
use predictor_router::router::instant;
use predictor_router::router::rollout::schedule::{phase_at, step_starts};
use predictor_router::router::rollout::shares::phase_table;

/// The warning for a rollout whose `start` lies further back than its whole schedule: applied now, it
/// would begin at its last step (the canary at its final share, with no ramp). `None` otherwise.
pub fn stale_start(experiment: &Experiment, now_unix: u64) -> Option<String> {
    let rollout = experiment.rollout.as_ref()?;
    let n = rollout.steps.len();
    let last_begins = *step_starts(rollout).last()?;
    if n < 2 || now_unix < last_begins {
        return None;
    }
    let phase = phase_at(rollout, now_unix);
    let days = (now_unix - rollout.start_unix) / 86_400;
    let hours = (now_unix - rollout.start_unix) % 86_400 / 3_600;
    Some(format!(
        "\"{}\" lies {days} d {hours} h before now ({}), more than the whole schedule: the canary would \
         be at step {}/{n} ({} %) from its first request, with no ramp; set start to when the ramp should begin",
        rollout.start,
        instant::format(now_unix),
        phase.step,
        phase.percent
    ))
}

/// The report of one experiment, or `None` without a rollout. `warn_at`: the wall clock, when the
/// report is about now (no `--at`): a start further back than the schedule is then warned about.
pub fn report(experiment: &Experiment, at_unix: u64, warn_at: Option<u64>) -> Option<String> {
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
    if let Some(warning) = warn_at.and_then(|now| stale_start(experiment, now)) {
        let _ = writeln!(out, "  warning: {warning}");
    }
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

/// The wall clock in Unix seconds.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
