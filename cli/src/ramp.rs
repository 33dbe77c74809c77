//! `predictor-router ramp --from --to`: which hashed users a weight change moves, over the 10,000
//! buckets, and whether any user of a predictor whose share grows would move.

use std::collections::BTreeMap;

use predictor_router::router::bucketing::BUCKETS;
use predictor_router::router::config::Experiment;

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

pub fn compare(from: &Experiment, to: &Experiment) -> Ramp {
    let name_of = |e: &Experiment, bucket: u32| {
        e.predictor(e.buckets.predictor_of(bucket))
            .map_or_else(String::new, |p| p.name.clone())
    };
    let mut matrix: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut moved = 0;
    for bucket in 0..BUCKETS {
        let (a, b) = (name_of(from, bucket), name_of(to, bucket));
        if a != b {
            moved += 1;
        }
        *matrix.entry((a, b)).or_default() += 1;
    }
    let share = |e: &Experiment, name: &str| -> u32 {
        e.predictors
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| e.buckets.range_of(i))
            .map_or(0, |(start, end)| end - start)
    };
    let mut unstable: Vec<String> = matrix
        .iter()
        .filter(|((a, b), n)| a != b && **n > 0 && share(to, a) > share(from, a))
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
