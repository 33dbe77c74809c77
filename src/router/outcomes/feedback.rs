//! The reward of a feedback request: Seldon Core's feedback API sends
//! `{"request": ..., "response": ..., "reward": r}`; a number `r` in [0, 1] is one outcome of
//! `r` successes and `1 - r` failures. Anything else is no outcome.

use serde::Deserialize;

use crate::router::outcomes::Outcome;

/// Feedback bodies longer than this are not read (and count as `feedback_invalid`).
pub const MAX_FEEDBACK_BYTES: usize = 1_048_576;

#[derive(Deserialize)]
struct FeedbackBody {
    // Every other field (`request`, `response`, `truth`...) is skipped without being built.
    #[serde(default)]
    reward: Option<f64>,
}

/// The outcome in a feedback body, or `None` when the body is not a JSON object with a numeric
/// `reward` in [0, 1] (or is longer than [`MAX_FEEDBACK_BYTES`]).
pub fn outcome_of(body: &[u8]) -> Option<Outcome> {
    if body.len() > MAX_FEEDBACK_BYTES {
        return None;
    }
    // serde would also read the struct from a JSON array: only an object is a feedback body.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let parsed: FeedbackBody = serde_json::from_slice(body).ok()?;
    let reward = parsed.reward.filter(|r| (0.0..=1.0).contains(r))?;
    Some(Outcome {
        reward_milli: (reward * 1000.0).round() as u32,
    })
}
