//! From the configuration as written (`schema`) to the validated model, or the first error with its JSON path.
//!
//! Errors are reported in document order, so the user fixes them top to bottom. Paths are formatted
//! only when an error needs one: validating 1,000 experiments must not build thousands of strings.

use std::collections::{BTreeMap, BTreeSet};

use super::error::ConfigError;
use super::match_rule::match_rule;
use super::model::Signing;
use super::model::{Experiment, Predictor, DEFAULT_ROUTING_HEADER};
use super::overrides::override_rule;
use super::predictors::predictors;
use super::rules::{dns_label, header_name};
use super::schema::{RawConfig, RawExperiment};
use super::sticky::sticky;
use crate::router::bucketing::BucketTable;
use crate::router::cookies::{set_cookie, CookieAttributes};

pub const MAX_EXPERIMENTS: usize = 1000;
pub const MAX_PREDICTORS: usize = 64;
pub const MAX_WEIGHT: u32 = 1_000_000;
pub const MAX_AGE_LIMIT_SECONDS: u32 = 34_560_000;
/// `signing.keys_env`: an environment variable name of at most this many characters.
pub(super) const MAX_ENV_NAME_LEN: usize = 128;

/// Headers a routing header may not be: the filter removes routing headers from every request,
/// and removing one of these would break the request itself.
pub(super) const RESERVED_HEADERS: &[&str] = &[
    "host",
    "cookie",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "authorization",
];

type Result<T> = std::result::Result<T, ConfigError>;
/// What an experiment's blocks (adaptive, rollout, shadow) are validated within.
pub(super) struct Within<'a> {
    pub predictors: &'a [Predictor],
    /// The experiment's `match.path_prefix`.
    pub path_prefix: &'a str,
    /// Whether the configuration has a `fleet` block.
    pub fleet: bool,
}

/// Attaches `<path>.<field>` to a reason, formatting the path only then.
pub(super) fn at<'a>(path: &'a str, field: &'a str) -> impl FnOnce(String) -> ConfigError + 'a {
    move |reason| ConfigError::new(format!("{path}.{field}"), reason)
}

/// `fleet`: whether the configuration has a `fleet` block (which `pooled` needs).
pub fn experiments(raw: RawConfig, signing: Option<&Signing>, fleet: bool) -> Result<Vec<Experiment>> {
    if raw.experiments.is_empty() || raw.experiments.len() > MAX_EXPERIMENTS {
        return Err(ConfigError::new(
            "experiments",
            format!(
                "must list 1 to {MAX_EXPERIMENTS} experiments, found {}",
                raw.experiments.len()
            ),
        ));
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(raw.experiments.len());
    for (i, super::schema::Object(exp)) in raw.experiments.into_iter().enumerate() {
        let path = format!("experiments[{i}]");
        let experiment = experiment(&path, exp, signing, fleet)?;
        if let Some(first) = seen.insert(experiment.name.clone(), i) {
            return Err(ConfigError::new(
                format!("{path}.name"),
                format!(
                    "\"{}\" is already the name of experiments[{first}]",
                    experiment.name
                ),
            ));
        }
        out.push(experiment);
    }
    check_headers_are_not_routing_headers(&out)?;
    Ok(out)
}

fn experiment(path: &str, raw: RawExperiment, signing: Option<&Signing>, fleet: bool) -> Result<Experiment> {
    dns_label(&raw.name).map_err(at(path, "name"))?;
    let (hosts, path_prefix) = match_rule(path, raw.match_.map(|m| m.0))?;
    let predictors = predictors(path, raw.predictors.into_iter().map(|p| p.0).collect())?;
    let buckets = BucketTable::new(predictors.iter().map(|p| p.weight));

    let routing_header = match raw.routing_header {
        None => DEFAULT_ROUTING_HEADER.to_string(),
        Some(h) => {
            header_name(&h).map_err(at(path, "routing_header"))?;
            if RESERVED_HEADERS.contains(&h.as_str()) {
                return Err(at(path, "routing_header")(format!(
                    "\"{h}\" cannot be a routing header: the filter removes routing headers from every request"
                )));
            }
            h
        }
    };
    let response_header = match raw.response_header {
        None => Some(routing_header.clone()),
        Some(h) if h.is_empty() => None,
        Some(h) => {
            header_name(&h).map_err(at(path, "response_header"))?;
            Some(h)
        }
    };
    let sticky = sticky(path, &raw.name, raw.sticky.map(|s| s.0))?;
    let override_ = override_rule(path, raw.override_.map(|o| o.0), signing)?;
    let within = Within {
        predictors: &predictors,
        path_prefix: &path_prefix,
        fleet,
    };
    let adaptive = match raw.adaptive.map(|a| a.0) {
        None => None,
        Some(a) => Some(super::adaptive::validate(
            &format!("{path}.adaptive"),
            a,
            &within,
        )?),
    };
    let rollout =
        match raw.rollout.map(|r| r.0) {
            None => None,
            Some(_) if adaptive.is_some() => return Err(at(path, "rollout")(
                "an experiment has `adaptive` or `rollout`, not both: a rollout's shares follow its steps"
                    .into(),
            )),
            Some(r) => Some(super::rollout::validate(&format!("{path}.rollout"), r, &within)?),
        };
    let shadow = match raw.shadow.map(|s| s.0) {
        None => None,
        Some(s) => Some(super::shadow::validate(&format!("{path}.shadow"), s, &within)?),
    };
    let set_cookies = match &sticky.cookie {
        Some(cookie) => predictors
            .iter()
            .map(|p| {
                set_cookie(
                    cookie,
                    &p.name,
                    CookieAttributes {
                        max_age_seconds: sticky.max_age_seconds,
                        secure: sticky.secure,
                        domain: sticky.domain.as_deref(),
                    },
                )
            })
            .collect(),
        None => Vec::new(),
    };

    Ok(Experiment {
        name: raw.name,
        hosts,
        path_prefix,
        predictors,
        buckets,
        routing_header,
        response_header,
        sticky,
        override_,
        set_cookies,
        adaptive,
        rollout,
        shadow,
    })
}

/// The override and user-id headers are read after every routing header has been removed,
/// so a configuration where they coincide could never work: refuse it.
fn check_headers_are_not_routing_headers(experiments: &[Experiment]) -> Result<()> {
    // Each routing header with the first experiment that uses it: one pass, not one per experiment.
    let mut routing: BTreeMap<&str, usize> = BTreeMap::new();
    for (j, exp) in experiments.iter().enumerate() {
        routing.entry(exp.routing_header.as_str()).or_insert(j);
    }
    let distinct: BTreeSet<&str> = routing.keys().copied().collect();
    for (i, exp) in experiments.iter().enumerate() {
        let read_headers = [
            (
                exp.override_.as_ref().map(|o| o.header.as_str()),
                "override.header",
            ),
            (exp.sticky.user_header.as_deref(), "sticky.user_header"),
        ];
        for (header, field) in read_headers {
            let Some(header) = header.filter(|h| distinct.contains(h)) else {
                continue;
            };
            let j = routing.get(header).copied().unwrap_or_default();
            return Err(ConfigError::new(
                format!("experiments[{i}].{field}"),
                format!(
                    "\"{header}\" is the routing_header of experiments[{j}]; routing headers are removed from \
                     every request before it is read, so it must be another header"
                ),
            ));
        }
    }
    Ok(())
}
