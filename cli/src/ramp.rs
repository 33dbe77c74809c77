//! `predictor-router ramp --from --to`: which hashed users a weight change moves, over the 10,000
//! buckets, and whether any user of a predictor whose share grows would move. For an experiment with a
//! rollout the canary's share comes from its steps, not its weight: the tables compared are those in
//! force at an instant, and each step of the rollout in `--to` is compared with the one before it.

use std::collections::BTreeMap;

use predictor_router::router::bucketing::{BucketTable, BUCKETS};
use predictor_router::router::config::Experiment;
use predictor_router::router::rollout::schedule::phase_at;
use predictor_router::router::rollout::shares::{phase_table, phase_tables};

/// The bucket table of new assignments in force at `now_unix` (weights, or the rollout's step; an
/// adaptive experiment's learned allocation is not known offline: its weights are used).
pub fn table_at(experiment: &Experiment, now_unix: u64) -> BucketTable {
    match &experiment.rollout {
        Some(rollout) => phase_table(experiment, rollout, phase_at(rollout, now_unix).percent).buckets,
        None => experiment.buckets.clone(),
    }
}

/// The step-by-step ramps of the rollout of `experiment` (none without a rollout): from the canary at
/// 0 % to step 1, then each step to the next, each labelled.
pub fn schedule(experiment: &Experiment) -> Vec<(String, Ramp)> {
    let Some(rollout) = &experiment.rollout else {
        return Vec::new();
    };
    let tables = phase_tables(experiment, rollout);
    tables
        .windows(2)
        .enumerate()
        .filter_map(|(k, pair)| {
            let [a, b] = pair else { return None };
            let label = format!("step {} → {} ({} % → {} %)", k, k + 1, a.percent, b.percent);
            Some((
                label,
                compare_tables(experiment, &a.buckets, experiment, &b.buckets),
            ))
        })
        .collect()
}

pub struct Ramp {
    pub experiment: String,
    /// (from predictor, to predictor) → buckets.
    pub matrix: BTreeMap<(String, String), u32>,
    pub from_names: Vec<String>,
    pub to_names: Vec<String>,
    /// Buckets whose predictor changes.
    pub moved: u32,
    /// Predictors whose share grows but some of whose users move away.
    pub unstable: Vec<String>,
}

/// The ramp between two configurations of an experiment, each with its configured weights.
pub fn compare(from: &Experiment, to: &Experiment) -> Ramp {
    compare_tables(from, &from.buckets, to, &to.buckets)
}

/// The ramp between two bucket tables of (two configurations of) an experiment.
pub fn compare_tables(
    from: &Experiment,
    from_table: &BucketTable,
    to: &Experiment,
    to_table: &BucketTable,
) -> Ramp {
    let name_of = |e: &Experiment, table: &BucketTable, bucket: u32| {
        e.predictor(table.predictor_of(bucket))
            .map_or_else(String::new, |p| p.name.clone())
    };
    let mut matrix: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut moved = 0;
    for bucket in 0..BUCKETS {
        let (a, b) = (name_of(from, from_table, bucket), name_of(to, to_table, bucket));
        if a != b {
            moved += 1;
        }
        *matrix.entry((a, b)).or_default() += 1;
    }
    let share = |e: &Experiment, table: &BucketTable, name: &str| -> u32 {
        e.predictors
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| table.range_of(i))
            .map_or(0, |(start, end)| end - start)
    };
    let mut unstable: Vec<String> = matrix
        .iter()
        .filter(|((a, b), n)| a != b && **n > 0 && share(to, to_table, a) > share(from, from_table, a))
        .map(|((a, _), _)| a.clone())
        .collect();
    unstable.dedup();
    Ramp {
        experiment: from.name.clone(),
        matrix,
        from_names: from.predictors.iter().map(|p| p.name.clone()).collect(),
        to_names: to.predictors.iter().map(|p| p.name.clone()).collect(),
        moved,
        unstable,
    }
}

fn percent(buckets: u32) -> String {
    format!("{}.{:02} %", buckets / 100, buckets % 100)
}

impl Ramp {
    pub fn render(&self) -> String {
        let mut out = format!(
            "experiment {}: {} of hashed users change predictor\n  {:<12}",
            self.experiment,
            percent(self.moved),
            "from \\ to"
        );
        for to in &self.to_names {
            out.push_str(&format!(" {to:>10}"));
        }
        out.push('\n');
        for from in &self.from_names {
            out.push_str(&format!("  {from:<12}"));
            for to in &self.to_names {
                let n = self.matrix.get(&(from.clone(), to.clone())).copied().unwrap_or(0);
                out.push_str(&format!(" {:>10}", percent(n)));
            }
            out.push('\n');
        }
        for p in &self.unstable {
            out.push_str(&format!(
                "  warning: users of \"{p}\" move although its share grows: keep a growing predictor next to the one it takes traffic from, and do not reorder predictors\n"
            ));
        }
        out
    }
}
