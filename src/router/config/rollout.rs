//! Validation of an experiment's `rollout` block: the canary (the last listed predictor with a
//! positive weight, so that a growing canary never moves its own hashed users), `start`, the steps, the
//! guard, and the reward fields (`reward.rs`).

use serde_json::Number;

use super::error::ConfigError;
use super::model::{Guard, Predictor, Rollout, Step};
use super::reward::reward;
use super::rules::{self, bounded};
use super::schema::{Object, RawGuard, RawRollout, RawStep};
use super::validate::Within;
use crate::router::ids::PredictorId;
use crate::router::instant;

pub const MAX_STEPS: usize = 20;
pub const MAX_STEP_MINUTES: u32 = 10_080;
pub const DEFAULT_MAX_DROP_MILLIONTHS: u32 = 10_000;
pub const DEFAULT_CONFIDENCE_TENTHS: u32 = 990;
pub const DEFAULT_MIN_OUTCOMES: u32 = 200;

/// `path` is the block's own path (`experiments[0].rollout`).
pub(super) fn validate(path: &str, mut raw: RawRollout, within: &Within<'_>) -> Result<Rollout, ConfigError> {
    let predictors = within.predictors;
    let raw_reward = raw.take_reward();
    let at = |field: &str, reason: String| ConfigError::new(format!("{path}.{field}"), reason);
    let canary = canary(raw.canary.as_deref(), predictors).map_err(|reason| at("canary", reason))?;
    let start = raw.start.ok_or_else(|| {
        at(
            "start",
            "is required: an RFC 3339 UTC instant such as \"2026-12-07T09:00:00Z\"".into(),
        )
    })?;
    let start_unix = instant::parse(&start).ok_or_else(|| {
        at(
            "start",
            format!(
                "\"{start}\" is not an RFC 3339 UTC instant at second precision such as \"2026-12-07T09:00:00Z\" \
                 (capital T and Z, no offset or fraction, from 1970 on)"
            ),
        )
    })?;
    let steps = steps(path, raw.steps)?;
    let reward = reward(path, raw_reward, within)?;
    let guard = guard(&format!("{path}.guard"), raw.guard.map(|g| g.0))?;
    let update_seconds =
        rules::update_seconds(raw.update_seconds.as_ref()).map_err(|reason| at("update_seconds", reason))?;
    let pooled = rules::pooled(raw.pooled, within.fleet).map_err(|reason| at("pooled", reason))?;
    Ok(Rollout {
        canary,
        start_unix,
        start,
        steps,
        reward,
        guard,
        update_seconds,
        pooled,
    })
}

fn canary(name: Option<&str>, predictors: &[Predictor]) -> Result<PredictorId, String> {
    let name = name.ok_or("is required: the name of the predictor being rolled out")?;
    let index = predictors
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| format!("\"{name}\" is not a predictor of the experiment"))?;
    let last_taking_part = predictors.iter().rposition(|p| p.weight > 0);
    if last_taking_part != Some(index) {
        let reason = if predictors.get(index).is_some_and(|p| p.weight == 0) {
            format!("\"{name}\" has weight 0; the canary must have weight > 0")
        } else {
            format!(
                "\"{name}\" must be the last listed predictor with weight > 0, so that a growing canary \
                 never moves its own hashed users"
            )
        };
        return Err(reason);
    }
    if !predictors
        .iter()
        .enumerate()
        .any(|(i, p)| i != index && p.weight > 0)
    {
        return Err(format!(
            "\"{name}\" needs a baseline: at least one other predictor with weight > 0"
        ));
    }
    Ok(PredictorId::from_index(index))
}

fn steps(path: &str, raw: Option<Vec<Object<RawStep>>>) -> Result<Vec<Step>, ConfigError> {
    let raw = raw.ok_or_else(|| {
        ConfigError::new(
            format!("{path}.steps"),
            "is required: the canary's percent per step, e.g. [{\"percent\": 5, \"minutes\": 30}, {\"percent\": 100}]",
        )
    })?;
    if raw.is_empty() || raw.len() > MAX_STEPS {
        return Err(ConfigError::new(
            format!("{path}.steps"),
            format!("must list 1 to {MAX_STEPS} steps, found {}", raw.len()),
        ));
    }
    let last = raw.len() - 1;
    let mut out: Vec<Step> = Vec::with_capacity(raw.len());
    for (k, Object(step)) in raw.into_iter().enumerate() {
        let at = |field: &str, reason: String| ConfigError::new(format!("{path}.steps[{k}].{field}"), reason);
        let percent = match step.percent {
            None => return Err(at("percent", "is required: the canary's share, 1 to 100".into())),
            Some(n) => rules::integer_in(&n, 1, 100)
                .ok_or_else(|| at("percent", "must be an integer from 1 to 100".into()))?,
        };
        if let Some(previous) = out.last() {
            if percent <= previous.percent {
                return Err(at(
                    "percent",
                    format!(
                        "{percent} must be greater than the previous step's {}: steps only ramp up",
                        previous.percent
                    ),
                ));
            }
        }
        let minutes = match (step.minutes, k == last) {
            (None, true) => None,
            (Some(_), true) => {
                return Err(at(
                    "minutes",
                    "the last step holds until the configuration changes: leave `minutes` out".into(),
                ))
            }
            (None, false) => {
                return Err(at(
                    "minutes",
                    format!(
                        "is required on every step but the last: an integer from 1 to {MAX_STEP_MINUTES}"
                    ),
                ))
            }
            (Some(n), false) => Some(rules::integer_in(&n, 1, MAX_STEP_MINUTES).ok_or_else(|| {
                at(
                    "minutes",
                    format!("must be an integer from 1 to {MAX_STEP_MINUTES}"),
                )
            })?),
        };
        out.push(Step { percent, minutes });
    }
    Ok(out)
}

fn guard(path: &str, raw: Option<RawGuard>) -> Result<Guard, ConfigError> {
    let at = |field: &str, reason: String| ConfigError::new(format!("{path}.{field}"), reason);
    let Some(raw) = raw else {
        return Ok(Guard {
            max_drop_millionths: DEFAULT_MAX_DROP_MILLIONTHS,
            confidence_tenths: DEFAULT_CONFIDENCE_TENTHS,
            min_outcomes: DEFAULT_MIN_OUTCOMES,
        });
    };
    let max_drop_millionths = match raw.max_drop_percent {
        None => DEFAULT_MAX_DROP_MILLIONTHS,
        Some(n) => scaled(&n, 10_000.0, 0, 1_000_000, false).ok_or_else(|| {
            at(
                "max_drop_percent",
                "must be a number from 0 to 100 (percentage points)".into(),
            )
        })?,
    };
    let confidence_tenths = match raw.confidence_percent {
        None => DEFAULT_CONFIDENCE_TENTHS,
        Some(n) => scaled(&n, 10.0, 800, 999, true).ok_or_else(|| {
            at(
                "confidence_percent",
                "must be a number from 80 to 99.9 with at most one decimal".into(),
            )
        })?,
    };
    let min_outcomes = bounded(
        raw.min_outcomes.as_ref(),
        0,
        rules::MAX_MIN_OUTCOMES,
        DEFAULT_MIN_OUTCOMES,
    )
    .map_err(|reason| at("min_outcomes", reason))?;
    Ok(Guard {
        max_drop_millionths,
        confidence_tenths,
        min_outcomes,
    })
}

/// `n × scale` as an integer in `[min, max]`; with `exact`, `n × scale` must be integral (one decimal
/// of a confidence), else it is rounded (a drop of 0.1234567 points is 1,235 millionths).
fn scaled(n: &Number, scale: f64, min: u32, max: u32, exact: bool) -> Option<u32> {
    let value = n.as_f64()? * scale;
    if !value.is_finite() {
        return None;
    }
    let rounded = value.round();
    if exact && (value - rounded).abs() > 1e-6 {
        return None;
    }
    if rounded < f64::from(min) || rounded > f64::from(max) {
        return None;
    }
    Some(rounded as u32)
}
