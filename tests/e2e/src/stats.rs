//! Statistical bounds for observed splits.

/// Pearson's chi-square statistic of observed counts against expected shares (shares need not sum to 1;
/// categories with a zero share are skipped and must be checked separately).
pub fn chi_square(observed: &[u64], weights: &[f64]) -> f64 {
    let n: u64 = observed.iter().sum();
    let total: f64 = weights.iter().sum();
    observed
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(o, w)| {
            let expected = n as f64 * w / total;
            (*o as f64 - expected).powi(2) / expected
        })
        .sum()
}

/// The chi-square critical value at p = 0.001 for `df` degrees of freedom (1 to 10).
/// A correct filter fails a check at this level once in a thousand runs.
/// Degrees of freedom of a split test: the predictors that receive new assignments (weight > 0), less
/// one (at least one).
pub fn split_degrees_of_freedom(weights: &[f64]) -> usize {
    weights
        .iter()
        .filter(|w| **w > 0.0)
        .count()
        .saturating_sub(1)
        .max(1)
}

pub fn chi_square_critical_p001(df: usize) -> f64 {
    const TABLE: [f64; 10] = [
        10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
    ];
    TABLE[df.clamp(1, 10) - 1]
}

/// Wilson score interval for a proportion, at `z` standard deviations (z = 3.29: 99.9 %).
pub fn wilson_interval(successes: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) / n_f) + z * z / (4.0 * n_f * n_f)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}
