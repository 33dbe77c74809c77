//! What the filter adds to the response of a routed request.

use crate::router::config::Experiment;
use crate::router::cookies::set_cookie;
use crate::router::decision::Decision;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeaders {
    /// `(header, predictor)`: reports the predictor to the client, replacing any upstream value.
    pub report: Option<(String, String)>,
    /// A `Set-Cookie` value to append (never replacing the upstream's own cookies).
    pub set_cookie: Option<String>,
}

pub fn response_headers(experiment: &Experiment, decision: &Decision) -> ResponseHeaders {
    let Some(predictor) = experiment.predictors.get(decision.predictor) else {
        return ResponseHeaders {
            report: None,
            set_cookie: None,
        };
    };
    let report = experiment
        .response_header
        .as_ref()
        .map(|h| (h.clone(), predictor.name.clone()));
    let set_cookie = match &experiment.sticky.cookie {
        Some(cookie) if decision.reason.sets_cookie() => Some(set_cookie(
            cookie,
            &predictor.name,
            experiment.sticky.max_age_seconds,
        )),
        _ => None,
    };
    ResponseHeaders { report, set_cookie }
}
