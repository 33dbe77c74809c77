//! The reward fields that adaptive allocation and a progressive rollout share: what one outcome is
//! (`reward`), with `max_latency_ms` for reward `response` and `feedback_path` for reward `feedback`;
//! a field of the other reward is an error, as an unknown field is.

use super::error::ConfigError;
use super::model::Reward;
use super::rules::{bounded, only_for};
use super::schema::RawReward;
use super::validate::Within;

pub const MAX_LATENCY_MS: u32 = 600_000;

/// `path` is the block's own path (`experiments[0].adaptive`); a feedback path must start with the
/// experiment's `match.path_prefix` (`within`).
pub fn reward(path: &str, raw: RawReward, within: &Within<'_>) -> Result<Reward, ConfigError> {
    let RawReward {
        reward,
        max_latency_ms,
        feedback_path,
    } = raw;
    let path_prefix = within.path_prefix;
    let at = |field: &str, reason: String| ConfigError::new(format!("{path}.{field}"), reason);
    let only_for = |field: &str, present: bool, owner: &str| {
        only_for(present, owner).map_err(|reason| at(field, reason))
    };
    match reward.as_deref() {
        None | Some("response") => {
            only_for("feedback_path", feedback_path.is_some(), "reward \"feedback\"")?;
            Ok(Reward::Response {
                max_latency_ms: match max_latency_ms {
                    None => None,
                    Some(n) => Some(
                        bounded(Some(&n), 1, MAX_LATENCY_MS, 0)
                            .map_err(|reason| at("max_latency_ms", reason))?,
                    ),
                },
            })
        }
        Some("feedback") => {
            only_for("max_latency_ms", max_latency_ms.is_some(), "reward \"response\"")?;
            let path = match feedback_path {
                None => return Err(at("feedback_path", "is required with reward \"feedback\"".into())),
                Some(p) if !p.starts_with('/') => {
                    return Err(at("feedback_path", "must start with \"/\"".into()))
                }
                Some(p) if !p.starts_with(path_prefix) => {
                    return Err(at(
                        "feedback_path",
                        format!(
                            "\"{p}\" must start with the experiment's match.path_prefix \"{path_prefix}\": \
                             feedback requests are requests of the experiment"
                        ),
                    ))
                }
                Some(p) => p,
            };
            Ok(Reward::Feedback { path })
        }
        Some(other) => Err(at(
            "reward",
            format!("\"{other}\" is not a reward: \"response\" or \"feedback\""),
        )),
    }
}
