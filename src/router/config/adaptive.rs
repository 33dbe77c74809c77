//! Validation of an experiment's `adaptive` block: bounds, defaults and the fields that belong to one
//! policy only (given for another, they are errors, as unknown fields are). The reward fields are
//! `reward.rs`'s.

use serde_json::Number;

use super::error::ConfigError;
use super::model::{Adaptive, Policy};
use super::reward::reward;
use super::rules::{self, integer_in};
use super::schema::RawAdaptive;
use super::validate::Within;

pub const DEFAULT_EPSILON_PERCENT: u32 = 10;
pub const DEFAULT_MIN_OUTCOMES: u32 = 100;
pub const DEFAULT_MIN_SHARE_PERCENT: u32 = 1;

/// `path` is the block's own path (`experiments[0].adaptive`).
pub(super) fn validate(
    path: &str,
    mut raw: RawAdaptive,
    within: &Within<'_>,
) -> Result<Adaptive, ConfigError> {
    let taking_part = within.predictors.iter().filter(|p| p.weight > 0).count();
    let raw_reward = raw.take_reward();
    let at = |field: &str, reason: String| ConfigError::new(format!("{path}.{field}"), reason);
    let bounded = |field: &str, value: Option<Number>, min: u32, max: u32, default: u32| {
        rules::bounded(value.as_ref(), min, max, default).map_err(|reason| at(field, reason))
    };
    let only_for = |field: &str, present: bool, owner: &str| {
        rules::only_for(present, owner).map_err(|reason| at(field, reason))
    };

    let policy = match raw.policy.as_deref() {
        None => {
            return Err(at(
                "policy",
                "is required: \"thompson\" or \"epsilon_greedy\"".into(),
            ))
        }
        Some("thompson") => {
            only_for(
                "epsilon_percent",
                raw.epsilon_percent.is_some(),
                "policy \"epsilon_greedy\"",
            )?;
            Policy::Thompson
        }
        Some("epsilon_greedy") => Policy::EpsilonGreedy {
            epsilon_percent: bounded(
                "epsilon_percent",
                raw.epsilon_percent,
                1,
                100,
                DEFAULT_EPSILON_PERCENT,
            )?,
        },
        Some(other) => {
            return Err(at(
                "policy",
                format!("\"{other}\" is not a policy: \"thompson\" or \"epsilon_greedy\""),
            ))
        }
    };

    let reward = reward(path, raw_reward, within)?;

    let update_seconds =
        rules::update_seconds(raw.update_seconds.as_ref()).map_err(|reason| at("update_seconds", reason))?;
    let min_outcomes = bounded(
        "min_outcomes",
        raw.min_outcomes,
        0,
        rules::MAX_MIN_OUTCOMES,
        DEFAULT_MIN_OUTCOMES,
    )?;
    let share_limit = u32::try_from(100 / taking_part.max(1)).unwrap_or(0);
    let min_share_percent = match raw.min_share_percent {
        None => DEFAULT_MIN_SHARE_PERCENT.min(share_limit),
        Some(n) => integer_in(&n, 0, share_limit).ok_or_else(|| {
            at(
                "min_share_percent",
                format!(
                    "must be an integer from 0 to {share_limit} (100 / {taking_part} predictors with weight > 0)"
                ),
            )
        })?,
    };
    let pooled = rules::pooled(raw.pooled, within.fleet).map_err(|reason| at("pooled", reason))?;
    Ok(Adaptive {
        pooled,
        policy,
        reward,
        update_seconds,
        min_outcomes,
        min_share_percent,
    })
}
