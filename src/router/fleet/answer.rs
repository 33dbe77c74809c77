//! The query API's answer to [`super::promql::outcome_query`], read into totals per predictor, or the
//! reason the query failed. Every answer is data from the network: nothing here panics, and anything
//! that is not exactly what the query asks for fails the query rather than teaching the allocation a
//! wrong number.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::promql::{OUTCOME_LABEL, REWARD_MILLI, TRIALS};
use crate::router::callout::{Answer, Failure};
use crate::router::config::Experiment;
use crate::router::outcomes::Totals;

/// Answers longer than this are not read (contract: up to 1 MiB).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a query failed, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFailure {
    /// No response: connection refused or reset, or `timeout_ms` passed.
    NoResponse,
    /// Not a response Envoy could hand over (no valid `:status`).
    BadStatusLine,
    /// The body is larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
    /// Prometheus answered with a status other than 200.
    Status(u16),
    /// The body is not the query API's JSON.
    NotJson(String),
    /// `"status"` is not `"success"` (Prometheus's `error` is kept).
    NotSuccess(String),
    /// The result is not a vector.
    NotVector(String),
    /// A sample whose value is not a finite number ≥ 0.
    BadSample { predictor: String, value: String },
    /// A sample the query cannot have produced (no or unknown `outcome` label, a repeated series).
    UnexpectedSeries(String),
    /// The query could not be sent (`proxy_http_call` refused it: an unknown cluster, for one).
    NotSent(String),
}

impl fmt::Display for QueryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryFailure::NoResponse => f.write_str("no response (connection failed, reset or timed out)"),
            QueryFailure::BadStatusLine => f.write_str("a response without a valid :status"),
            QueryFailure::TooLarge => write!(f, "an answer larger than {MAX_ANSWER_BYTES} bytes"),
            QueryFailure::Status(status) => write!(f, "HTTP status {status}"),
            QueryFailure::NotJson(e) => write!(f, "an answer that is not the query API's JSON ({e})"),
            QueryFailure::NotSuccess(e) => write!(f, "status not \"success\" ({e})"),
            QueryFailure::NotVector(t) => write!(f, "a result of type \"{t}\", not a vector"),
            QueryFailure::BadSample { predictor, value } => {
                write!(
                    f,
                    "predictor \"{predictor}\" has the sample value \"{value}\", not a finite number >= 0"
                )
            }
            QueryFailure::UnexpectedSeries(s) => write!(f, "an unexpected series {s}"),
            QueryFailure::NotSent(e) => write!(f, "the query could not be sent ({e})"),
        }
    }
}

#[derive(Deserialize)]
struct Body {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// `[<unix time>, "<value>"]`: Prometheus sends sample values as strings ("NaN" and "+Inf" too).
    value: (IgnoredAny, String),
}

/// The totals of a callout's answer: a 200 whose body [`parse`] reads.
pub fn totals_of(answer: &Answer, experiment: &Experiment) -> Result<Totals, QueryFailure> {
    match answer {
        Answer::Failed(Failure::NoResponse) => Err(QueryFailure::NoResponse),
        Answer::Failed(Failure::BadStatus) => Err(QueryFailure::BadStatusLine),
        Answer::Failed(Failure::TooLarge) => Err(QueryFailure::TooLarge),
        Answer::Response { status: 200, body } => parse(body, experiment),
        Answer::Response { status, .. } => Err(QueryFailure::Status(*status)),
    }
}

/// Reads the query API's JSON into totals per predictor of `experiment` (listed order). A predictor
/// without a sample has 0; a sample of a predictor the experiment does not list is ignored (it was
/// removed from the configuration); each value is rounded to the nearest whole number (`increase`
/// extrapolates), and a predictor's reward is at most 1000 per trial (the two sums are extrapolated
/// separately).
pub fn parse(body: &[u8], experiment: &Experiment) -> Result<Totals, QueryFailure> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(QueryFailure::TooLarge);
    }
    let body: Body = serde_json::from_slice(body).map_err(|e| QueryFailure::NotJson(e.to_string()))?;
    if body.status != "success" {
        return Err(QueryFailure::NotSuccess(
            body.error
                .unwrap_or_else(|| format!("status \"{}\"", body.status)),
        ));
    }
    let data = body.data.ok_or_else(|| QueryFailure::NotVector("none".into()))?;
    if data.result_type != "vector" {
        return Err(QueryFailure::NotVector(data.result_type));
    }
    let mut totals = Totals::zero(experiment.predictors.len());
    let mut seen = vec![(false, false); experiment.predictors.len()];
    for sample in data.result {
        let predictor = sample.metric.get("predictor").map_or("", String::as_str);
        let outcome = sample.metric.get(OUTCOME_LABEL).map_or("", String::as_str);
        let is_trials = match outcome {
            TRIALS => true,
            REWARD_MILLI => false,
            _ => return Err(QueryFailure::UnexpectedSeries(series(&sample.metric))),
        };
        let value = sample_value(&sample.value.1).ok_or_else(|| QueryFailure::BadSample {
            predictor: predictor.to_string(),
            value: sample.value.1.clone(),
        })?;
        let Some(id) = experiment.predictor_named(predictor.as_bytes()) else {
            continue;
        };
        let (Some(arm), Some(seen)) = (totals.arms.get_mut(id.index()), seen.get_mut(id.index())) else {
            continue;
        };
        let slot = if is_trials { &mut seen.0 } else { &mut seen.1 };
        if std::mem::replace(slot, true) {
            return Err(QueryFailure::UnexpectedSeries(series(&sample.metric)));
        }
        if is_trials {
            arm.trials = value;
        } else {
            arm.reward_milli = value;
        }
    }
    for arm in &mut totals.arms {
        arm.reward_milli = arm.reward_milli.min(arm.trials.saturating_mul(1000));
    }
    Ok(totals)
}

/// A sample value: a finite number ≥ 0, rounded to the nearest whole number.
fn sample_value(text: &str) -> Option<u64> {
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    // Saturates at u64::MAX for values beyond it (an `as` cast from a finite f64 does).
    Some(value.round() as u64)
}

fn series(metric: &BTreeMap<String, String>) -> String {
    let labels: Vec<String> = metric.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", labels.join(","))
}
