//! From the configuration as written (`schema`) to the validated model, or the first error with its JSON path.
//!
//! Errors are reported in document order, so the user fixes them top to bottom. Paths are formatted
//! only when an error needs one: validating 1,000 experiments must not build thousands of strings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::error::ConfigError;
use super::model::Signing;
use super::model::{
    Experiment, HostPattern, Override, Predictor, Sticky, DEFAULT_MAX_AGE_SECONDS, DEFAULT_OVERRIDE_HEADER,
    DEFAULT_ROUTING_HEADER,
};
use super::rules::{cookie_domain, dns_label, header_name, integer_in, token};
use super::schema::{RawConfig, RawExperiment, RawMatch, RawOverride, RawPredictor, RawSigning, RawSticky};
use crate::router::bucketing::BucketTable;
use crate::router::cookies::{set_cookie, CookieAttributes};
use crate::router::signing::{Environment, KeySet};

pub const MAX_EXPERIMENTS: usize = 1000;
pub const MAX_PREDICTORS: usize = 64;
pub const MAX_WEIGHT: u32 = 1_000_000;
pub const MAX_AGE_LIMIT_SECONDS: u32 = 34_560_000;
/// `signing.keys_env`: an environment variable name of at most this many characters.
const MAX_ENV_NAME_LEN: usize = 128;

/// Headers a routing header may not be: the filter removes routing headers from every request,
/// and removing one of these would break the request itself.
const RESERVED_HEADERS: &[&str] = &[
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
/// Attaches `<path>.<field>` to a reason, formatting the path only then.
fn at<'a>(path: &'a str, field: &'a str) -> impl FnOnce(String) -> ConfigError + 'a {
    move |reason| ConfigError::new(format!("{path}.{field}"), reason)
}

/// `signing`: the key set read from the environment variable it names. Checked even when no
/// experiment is signed, so a broken Secret is found at deployment, not at the first token.
pub fn signing(
    raw: Option<RawSigning>,
    environment: &(impl Environment + ?Sized),
) -> Result<Option<Signing>> {
    let Some(raw) = raw else { return Ok(None) };
    let variable = raw.keys_env;
    let valid_name = variable.len() <= MAX_ENV_NAME_LEN
        && variable
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && variable.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_name {
        return Err(ConfigError::new(
            "signing.keys_env",
            format!(
                "{:?} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*, at most {} characters)",
                variable, MAX_ENV_NAME_LEN
            ),
        ));
    }
    let keys = KeySet::from_environment(environment, &variable)
        .map_err(|e| ConfigError::new("signing.keys_env", e.describe(&variable)))?;
    Ok(Some(Signing {
        keys_env: variable,
        keys: Arc::new(keys),
    }))
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
    let adaptive = match raw.adaptive.map(|a| a.0) {
        None => None,
        Some(a) => {
            let taking_part = predictors.iter().filter(|p| p.weight > 0).count();
            Some(super::adaptive::validate(
                &format!("{path}.adaptive"),
                a,
                taking_part,
                &path_prefix,
                fleet,
            )?)
        }
    };
    let rollout =
        match raw.rollout.map(|r| r.0) {
            None => None,
            Some(_) if adaptive.is_some() => return Err(at(path, "rollout")(
                "an experiment has `adaptive` or `rollout`, not both: a rollout's shares follow its steps"
                    .into(),
            )),
            Some(r) => Some(super::rollout::validate(
                &format!("{path}.rollout"),
                r,
                &predictors,
                &path_prefix,
                fleet,
            )?),
        };
    let shadow = match raw.shadow.map(|s| s.0) {
        None => None,
        Some(s) => Some(super::shadow::validate(
            &format!("{path}.shadow"),
            s,
            &predictors,
        )?),
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

fn match_rule(path: &str, raw: Option<RawMatch>) -> Result<(Vec<HostPattern>, String)> {
    let Some(raw) = raw else {
        return Ok((vec![HostPattern::Any], "/".to_string()));
    };
    let hosts = match raw.hosts {
        None => vec![HostPattern::Any],
        Some(list) if list.is_empty() => {
            return Err(at(path, "match.hosts")(
                "must list at least one host; leave `hosts` out to match any host".into(),
            ))
        }
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, h)| {
                host_pattern(h).map_err(|reason| ConfigError::new(format!("{path}.match.hosts[{i}]"), reason))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let path_prefix = match raw.path_prefix {
        None => "/".to_string(),
        Some(p) if p.starts_with('/') => p,
        Some(_) => return Err(at(path, "match.path_prefix")("must start with \"/\"".into())),
    };
    Ok((hosts, path_prefix))
}

fn host_pattern(host: &str) -> std::result::Result<HostPattern, String> {
    if host.is_empty() {
        return Err("must not be empty".into());
    }
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    let (suffix, wildcard) = match host.strip_prefix("*.") {
        Some(rest) => (rest, true),
        None => (host, false),
    };
    if suffix.contains('*') || (!wildcard && host.starts_with('*')) {
        return Err(format!(
            "\"{host}\": the only wildcards are \"*\" and a leading \"*.\" (as in \"*.example.org\")"
        ));
    }
    if suffix.contains(':') {
        return Err(format!(
            "\"{host}\" must not contain a port: hosts are compared with :authority minus its port"
        ));
    }
    let valid = !suffix.is_empty()
        && !suffix.starts_with('.')
        && !suffix.ends_with('.')
        && !suffix.contains("..")
        && suffix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err(format!(
            "\"{host}\" is not a host name (letters, digits, \"-\", \"_\" and \".\"-separated labels)"
        ));
    }
    let lower = suffix.to_ascii_lowercase();
    Ok(if wildcard {
        HostPattern::Subdomain(lower)
    } else {
        HostPattern::Exact(lower)
    })
}

fn predictors(path: &str, raw: Vec<RawPredictor>) -> Result<Vec<Predictor>> {
    if raw.is_empty() || raw.len() > MAX_PREDICTORS {
        return Err(at(path, "predictors")(format!(
            "must list 1 to {MAX_PREDICTORS} predictors, found {}",
            raw.len()
        )));
    }
    let field = |i: usize, name: &str| format!("{path}.predictors[{i}].{name}");
    let mut out: Vec<Predictor> = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        dns_label(&p.name).map_err(|reason| ConfigError::new(field(i, "name"), reason))?;
        if let Some(first) = out.iter().position(|q| q.name == p.name) {
            return Err(ConfigError::new(
                field(i, "name"),
                format!("\"{}\" is already the name of {path}.predictors[{first}]", p.name),
            ));
        }
        let weight = integer_in(&p.weight, 0, MAX_WEIGHT).ok_or_else(|| {
            ConfigError::new(
                field(i, "weight"),
                format!("must be an integer from 0 to {MAX_WEIGHT}"),
            )
        })?;
        out.push(Predictor { name: p.name, weight });
    }
    if out.iter().all(|p| p.weight == 0) {
        return Err(at(path, "predictors")(
            "at least one weight must be greater than 0".into(),
        ));
    }
    Ok(out)
}

fn sticky(path: &str, experiment: &str, raw: Option<RawSticky>) -> Result<Sticky> {
    let raw = raw.unwrap_or(RawSticky {
        cookie: None,
        max_age_seconds: None,
        user_header: None,
        secure: None,
        domain: None,
    });
    let cookie = match raw.cookie {
        None => Some(format!("pr-{experiment}")),
        Some(c) if c.is_empty() => None,
        Some(c) => {
            token(
                &c,
                "a cookie name",
                |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
                "[A-Za-z0-9_-]",
            )
            .map_err(at(path, "sticky.cookie"))?;
            Some(c)
        }
    };
    let max_age_seconds = match raw.max_age_seconds {
        None => DEFAULT_MAX_AGE_SECONDS,
        Some(n) => integer_in(&n, 1, MAX_AGE_LIMIT_SECONDS).ok_or_else(|| {
            at(path, "sticky.max_age_seconds")(format!(
                "must be an integer from 1 to {MAX_AGE_LIMIT_SECONDS} (400 days)"
            ))
        })?,
    };
    let user_header = match raw.user_header {
        None => None,
        Some(h) => {
            header_name(&h).map_err(at(path, "sticky.user_header"))?;
            Some(h)
        }
    };
    let domain = match raw.domain {
        None => None,
        Some(d) => {
            cookie_domain(&d).map_err(at(path, "sticky.domain"))?;
            Some(d)
        }
    };
    Ok(Sticky {
        cookie,
        max_age_seconds,
        user_header,
        secure: raw.secure.unwrap_or(false),
        domain,
    })
}

fn override_rule(
    path: &str,
    raw: Option<RawOverride>,
    signing: Option<&Signing>,
) -> Result<Option<Override>> {
    let raw = raw.unwrap_or(RawOverride {
        header: None,
        query_param: None,
        enabled: None,
        signed: None,
    });
    let header = match raw.header {
        None => DEFAULT_OVERRIDE_HEADER.to_string(),
        Some(h) => {
            header_name(&h).map_err(at(path, "override.header"))?;
            h
        }
    };
    let query_param = match raw.query_param {
        None => None,
        Some(q) => {
            token(
                &q,
                "a query parameter name",
                |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-',
                "[A-Za-z0-9_.-]",
            )
            .map_err(at(path, "override.query_param"))?;
            Some(q)
        }
    };
    let signed = match (raw.signed.unwrap_or(false), signing) {
        (false, _) => None,
        (true, Some(signing)) => Some(Arc::clone(&signing.keys)),
        (true, None) => {
            return Err(at(path, "override.signed")(
                "needs a top-level `signing` object naming the environment variable that holds the keys \
                 ({\"signing\": {\"keys_env\": \"PREDICTOR_ROUTER_KEYS\"}})"
                    .to_string(),
            ))
        }
    };
    // Validate the fields even when disabled, so that enabling it later cannot surface a latent error.
    Ok(if raw.enabled == Some(false) {
        None
    } else {
        Some(Override {
            header,
            query_param,
            signed,
        })
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
