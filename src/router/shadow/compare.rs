//! The one outcome of a copied request (contract "Shadow comparison"), as a pure function of the two
//! answers: every copied request ends in exactly one of agree, disagree, failed, timeout, skipped.

use super::answer::{Answer, Malformed, Scalar};
use super::seldon::Rows;
use super::{kserve_v1, oip, seldon};
use crate::router::config::Compare;

/// What the client got: its status, and its body when it was read whole (`None`: over the copy limit).
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    pub status: u16,
    pub body: Option<&'a [u8]>,
}

/// What the shadow did.
#[derive(Debug, Clone, Copy)]
pub enum ShadowReply<'a> {
    /// It answered (any status); `body` is `None` when over the copy limit.
    Answered { status: u16, body: Option<&'a [u8]> },
    /// No answer: the connection failed or was reset before the timeout.
    Failed,
    /// No answer within `timeout_ms`.
    TimedOut,
}

impl ShadowReply<'_> {
    /// A callout that came back without a response: a timeout when it took the whole timeout (Envoy
    /// reports both the same way, without headers), a failure when it ended sooner.
    pub fn without_response(elapsed_ms: u64, timeout_ms: u32) -> ShadowReply<'static> {
        if elapsed_ms >= u64::from(timeout_ms) {
            ShadowReply::TimedOut
        } else {
            ShadowReply::Failed
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every row's most probable class is the same; `abs_diff_milli` is the largest absolute difference
    /// of any probability, at most 1, × 1000, rounded.
    Agree {
        abs_diff_milli: u64,
    },
    Disagree {
        abs_diff_milli: u64,
    },
    /// The shadow's answer is no answer to compare: not 2xx, not JSON, no data, another shape.
    Failed,
    Timeout,
    /// Not compared: the request was not sent (in-flight cap, too large), or the client's own answer
    /// cannot be compared (not 2xx, not a Seldon answer, too large).
    Skipped,
}

impl Outcome {
    /// The name in `...shadow.<name>.<outcome>`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Agree { .. } => "agree",
            Outcome::Disagree { .. } => "disagree",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Skipped => "skipped",
        }
    }

    /// The abs_diff of a compared pair (agree or disagree).
    pub fn abs_diff_milli(self) -> Option<u64> {
        match self {
            Outcome::Agree { abs_diff_milli } | Outcome::Disagree { abs_diff_milli } => Some(abs_diff_milli),
            _ => None,
        }
    }
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

pub fn outcome(compare: &Compare, served: Served<'_>, shadow: ShadowReply<'_>) -> Outcome {
    let (shadow_status, shadow_body) = match shadow {
        ShadowReply::TimedOut => return Outcome::Timeout,
        ShadowReply::Failed => return Outcome::Failed,
        ShadowReply::Answered { status, body } => (status, body),
    };
    if *compare == Compare::Status {
        return if shadow_status / 100 == served.status / 100 {
            Outcome::Agree { abs_diff_milli: 0 }
        } else {
            Outcome::Disagree { abs_diff_milli: 0 }
        };
    }
    if !is_2xx(served.status) {
        return Outcome::Skipped;
    }
    let Some(Ok(served_answer)) = served.body.map(|b| read(compare, b)) else {
        return Outcome::Skipped;
    };
    if !is_2xx(shadow_status) {
        return Outcome::Failed;
    }
    let Some(Ok(shadow_answer)) = shadow_body.map(|b| read(compare, b)) else {
        return Outcome::Failed;
    };
    answers_outcome(&served_answer, &shadow_answer)
}

/// An answer read by the protocol of `compare` (not `Status`, which reads no body).
pub fn read(compare: &Compare, body: &[u8]) -> Result<Answer, Malformed> {
    match compare {
        Compare::Seldon | Compare::Status => seldon::read(body)
            .map(|rows| Answer::Probabilities(rows.0))
            .map_err(|_| Malformed::BadShape),
        Compare::Oip { output } => oip::read(body, output.as_deref()),
        Compare::KserveV1 => kserve_v1::read(body),
    }
}

/// Two answers: rows of probabilities as [`rows_outcome`]; values agree when every row's value is
/// equal (numbers as numbers, strings byte for byte) and `abs_diff` is the largest difference of
/// numeric values (0 for strings). Answers of different kinds or row counts, or a number beside a
/// string, are not comparable: `failed`.
pub fn answers_outcome(served: &Answer, shadow: &Answer) -> Outcome {
    match (served, shadow) {
        (Answer::Probabilities(a), Answer::Probabilities(b)) => probabilities_outcome(a, b),
        (Answer::Values(a), Answer::Values(b)) if a.len() == b.len() => {
            let mut agree = true;
            let mut abs_diff = 0.0_f64;
            for pair in a.iter().zip(b) {
                match pair {
                    (Scalar::Number(x), Scalar::Number(y)) => {
                        agree &= x == y;
                        abs_diff = abs_diff.max((x - y).abs());
                    }
                    (Scalar::Text(x), Scalar::Text(y)) => agree &= x.as_bytes() == y.as_bytes(),
                    _ => return Outcome::Failed,
                }
            }
            // Values are labels or scores, not probabilities: the difference is kept up to 1,000
            // (a million in the counter per pair), so that a runaway answer cannot saturate the sum.
            let abs_diff_milli = (abs_diff.min(MAX_VALUE_DIFF) * 1000.0).round() as u64;
            if agree {
                Outcome::Agree { abs_diff_milli }
            } else {
                Outcome::Disagree { abs_diff_milli }
            }
        }
        _ => Outcome::Failed,
    }
}

/// The largest difference of two values a pair adds to `abs_diff_milli` (× 1000).
pub const MAX_VALUE_DIFF: f64 = 1000.0;

/// Two answers of the same shape: agreement of each row's argmax, and the largest difference.
pub fn rows_outcome(served: &Rows, shadow: &Rows) -> Outcome {
    probabilities_outcome(&served.0, &shadow.0)
}

fn probabilities_outcome(served: &[Vec<f64>], shadow: &[Vec<f64>]) -> Outcome {
    let same_shape =
        served.len() == shadow.len() && served.iter().zip(shadow).all(|(a, b)| a.len() == b.len());
    if !same_shape {
        return Outcome::Failed;
    }
    let mut agree = true;
    let mut abs_diff = 0.0_f64;
    for (a, b) in served.iter().zip(shadow) {
        agree &= argmax(a) == argmax(b);
        for (x, y) in a.iter().zip(b) {
            abs_diff = abs_diff.max((x - y).abs());
        }
    }
    // Two probabilities differ by at most 1: an answer of other numbers (scores, or a shadow gone
    // wrong answering 1e300) adds at most 1000 per pair, so one bad answer cannot swamp the sum a
    // dashboard divides by the compared count (nor saturate the counter).
    let abs_diff_milli = (abs_diff.min(1.0) * 1000.0).round() as u64;
    if agree {
        Outcome::Agree { abs_diff_milli }
    } else {
        Outcome::Disagree { abs_diff_milli }
    }
}

/// The index of the largest value, the first on ties.
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if row.get(best).is_some_and(|b| v > b) {
            best = i;
        }
    }
    best
}
