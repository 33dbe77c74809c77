//! `predictor-router srm`: sample-ratio mismatch of new assignments (random and hashed decisions)
//! against the configured weights, from Envoy's `/stats/prometheus` or `/stats` text.

use std::collections::BTreeMap;

use predictor_router::router::config::Experiment;

/// Decisions by (experiment, predictor, reason), summed over lines (e.g. several pods' dumps).
pub fn decisions(stats: &str) -> BTreeMap<(String, String, String), u64> {
    let mut out = BTreeMap::new();
    for line in stats.lines().map(str::trim) {
        if let Some((key, value)) = prometheus_decision(line).or_else(|| plain_decision(line)) {
            *out.entry(key).or_default() += value;
        }
    }
    out
}

/// `predictor_router_decision{experiment="e",predictor="p",reason="random"} 12` (labels in any order).
fn prometheus_decision(line: &str) -> Option<((String, String, String), u64)> {
    let rest = line.strip_prefix("predictor_router_decision{")?;
    let (labels, value) = rest.split_once('}')?;
    let get = |name: &str| -> Option<String> {
        labels.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let key = (get("experiment")?, get("predictor")?, get("reason")?);
    Some((key, parse_count(value)?))
}

/// `wasmcustom.predictor_router.e.p.decision.random: 12`
fn plain_decision(line: &str) -> Option<((String, String, String), u64)> {
    let (name, value) = line.split_once(':')?;
    let name = name.strip_prefix("wasmcustom.").unwrap_or(name);
    let parts: Vec<&str> = name.strip_prefix("predictor_router.")?.split('.').collect();
    let [experiment, predictor, "decision", reason] = parts.as_slice() else {
        return None;
    };
    Some((
        (experiment.to_string(), predictor.to_string(), reason.to_string()),
        parse_count(value)?,
    ))
}

fn parse_count(value: &str) -> Option<u64> {
    let v: f64 = value.split_whitespace().next()?.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

pub enum Outcome {
    Tested {
        counts: Vec<(String, u64, f64)>,
        chi_square: f64,
        df: usize,
        p: f64,
    },
    Skipped(String),
}

pub fn test(experiment: &Experiment, decisions: &BTreeMap<(String, String, String), u64>) -> Outcome {
    if experiment.rollout.is_some() {
        return Outcome::Skipped(
            "rollout: new assignments follow the rollout's steps, not the weights".into(),
        );
    }
    if experiment.adaptive.is_some() {
        return Outcome::Skipped(
            "adaptive: new assignments follow the learned allocation, not the weights".into(),
        );
    }
    let taking_part: Vec<_> = experiment.predictors.iter().filter(|p| p.weight > 0).collect();
    if taking_part.len() < 2 {
        return Outcome::Skipped("a single predictor with weight > 0: nothing to compare".into());
    }
    let count = |p: &str| -> u64 {
        ["random", "hashed"]
            .iter()
            .map(|r| {
                decisions
                    .get(&(experiment.name.clone(), p.to_string(), r.to_string()))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    };
    let total: u64 = taking_part.iter().map(|p| count(&p.name)).sum();
    if total == 0 {
        return Outcome::Skipped("no random or hashed decisions in the stats".into());
    }
    let weight_total: f64 = taking_part.iter().map(|p| f64::from(p.weight)).sum();
    let mut chi_square = 0.0;
    let counts = taking_part
        .iter()
        .map(|p| {
            let observed = count(&p.name);
            let expected = total as f64 * f64::from(p.weight) / weight_total;
            chi_square += (observed as f64 - expected).powi(2) / expected;
            (p.name.clone(), observed, expected)
        })
        .collect();
    let df = taking_part.len() - 1;
    Outcome::Tested {
        counts,
        chi_square,
        df,
        p: chi_square_p_value(chi_square, df),
    }
}

/// P(X ≥ x) for X ~ chi-square(df): the regularized upper incomplete gamma Q(df/2, x/2).
pub fn chi_square_p_value(x: f64, df: usize) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    upper_gamma_q(df as f64 / 2.0, x / 2.0)
}

fn upper_gamma_q(a: f64, x: f64) -> f64 {
    if x < a + 1.0 {
        // Series for P, then Q = 1 - P.
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        1.0 - sum * (-x + a * x.ln() - ln_gamma(a)).exp()
    } else {
        // Continued fraction for Q (Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (-x + a * x.ln() - ln_gamma(a)).exp() * h
    }
}

/// ln Γ(x), Lanczos approximation (g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_match_the_chi_square_tables() {
        // Critical values at p = 0.001 and 0.05.
        for (x, df, p) in [
            (10.828, 1, 0.001),
            (13.816, 2, 0.001),
            (3.841, 1, 0.05),
            (11.070, 5, 0.05),
            (0.0, 1, 1.0),
        ] {
            let got = chi_square_p_value(x, df);
            assert!((got - p).abs() < p * 0.01 + 1e-9, "x {x} df {df}: {got} vs {p}");
        }
    }

    #[test]
    fn both_stats_formats_are_read() {
        let text = "predictor_router_decision{experiment=\"e\",predictor=\"a\",reason=\"random\"} 10\n\
                    # TYPE x counter\n\
                    wasmcustom.predictor_router.e.a.decision.random: 5\n\
                    predictor_router_decision{reason=\"hashed\",predictor=\"b\",experiment=\"e\"} 7\n\
                    wasmcustom.predictor_router.e.b.response.2xx: 99\n";
        let d = decisions(text);
        assert_eq!(d[&("e".into(), "a".into(), "random".into())], 15);
        assert_eq!(d[&("e".into(), "b".into(), "hashed".into())], 7);
        assert_eq!(d.len(), 2);
    }
}
