//! The one query a pooled experiment sends per update, and the callout that carries it.
//!
//! The contract's two sums (trials and reward × 1000 per predictor) travel in one query, each tagged with an
//! `outcome` label by `label_replace`, so that an update costs one request to Prometheus and both sums
//! are evaluated at the same `time`:
//!
//! ```text
//! label_replace(sum by (predictor) (increase(predictor_router_outcome_trials{experiment="fraud-detection"}[3600s])), "outcome", "trials", "", "")
//! or label_replace(sum by (predictor) (increase(predictor_router_outcome_reward_milli{experiment="fraud-detection"}[3600s])), "outcome", "reward_milli", "", "")
//! ```

use crate::router::callout::CalloutPlan;
use crate::router::config::PrometheusSource;

/// The Prometheus names the shipped stats configuration gives the outcome counters.
pub const TRIALS_METRIC: &str = "predictor_router_outcome_trials";
pub const REWARD_METRIC: &str = "predictor_router_outcome_reward_milli";
/// The label that tells the two sums apart in the answer.
pub const OUTCOME_LABEL: &str = "outcome";
pub const TRIALS: &str = "trials";
pub const REWARD_MILLI: &str = "reward_milli";

/// A PromQL string literal's content: backslash, double quote and line breaks escaped.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// `sum by (predictor) (increase(<metric>{experiment="<name>",<selector>}[<window>s]))`.
pub fn sum_query(metric: &str, experiment: &str, selector: &str, window_seconds: u64) -> String {
    let mut matchers = format!("experiment=\"{}\"", escape_label_value(experiment));
    if !selector.is_empty() {
        matchers.push(',');
        matchers.push_str(selector);
    }
    format!("sum by (predictor) (increase({metric}{{{matchers}}}[{window_seconds}s]))")
}

/// Both sums in one query, tagged by [`OUTCOME_LABEL`].
pub fn outcome_query(experiment: &str, selector: &str, window_seconds: u64) -> String {
    let tagged = |metric: &str, tag: &str| {
        format!(
            "label_replace({}, \"{OUTCOME_LABEL}\", \"{tag}\", \"\", \"\")",
            sum_query(metric, experiment, selector, window_seconds)
        )
    };
    format!(
        "{} or {}",
        tagged(TRIALS_METRIC, TRIALS),
        tagged(REWARD_METRIC, REWARD_MILLI)
    )
}

/// Percent-encoding of a query-string value: every byte but RFC 3986's unreserved ones.
pub fn percent_encode(value: &str) -> String {
    let hex = |n: u8| char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase());
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0xf));
        }
    }
    out
}

/// The instant query of `experiment`'s outcomes over the last `window_seconds` before `t`, evaluated at
/// `t` (Unix seconds), as a `GET` to the configured Prometheus.
pub fn query_plan(source: &PrometheusSource, experiment: &str, window_seconds: u64, t: u64) -> CalloutPlan {
    let query = outcome_query(experiment, &source.selector, window_seconds);
    let path = format!("{}?query={}&time={t}", source.path, percent_encode(&query));
    let mut plan = CalloutPlan::get(&source.cluster, &source.authority, path, source.timeout_ms);
    plan.headers
        .push(("accept".to_string(), b"application/json".to_vec()));
    plan
}
