//! What the filter adds to the response of a routed request. Everything is borrowed from the
//! configuration, built once when it was loaded: nothing is formatted per request.

use crate::router::config::Experiment;
use crate::router::decision::Decision;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeaders<'a> {
    /// `(header, predictor)`: reports the predictor to the client, replacing any upstream value.
    pub report: Option<(&'a str, &'a str)>,
    /// A `Set-Cookie` value to append (never replacing the upstream's own cookies).
    pub set_cookie: Option<&'a str>,
}

pub fn response_headers<'a>(experiment: &'a Experiment, decision: &Decision) -> ResponseHeaders<'a> {
    let Some(predictor) = experiment.predictor(decision.predictor) else {
        return ResponseHeaders {
            report: None,
            set_cookie: None,
        };
    };
    let report = experiment
        .response_header
        .as_deref()
        .map(|h| (h, predictor.name.as_str()));
    let set_cookie = if decision.reason.sets_cookie() {
        experiment
            .set_cookies
            .get(decision.predictor.index())
            .map(String::as_str)
    } else {
        None
    };
    ResponseHeaders { report, set_cookie }
}
