//! An experiment's `match`: hosts (exact, `*.suffix`, `*`) and the path prefix.

use super::error::ConfigError;
use super::model::HostPattern;
use super::schema::RawMatch;
use super::validate::at;

type Result<T> = std::result::Result<T, ConfigError>;

pub(super) fn match_rule(path: &str, raw: Option<RawMatch>) -> Result<(Vec<HostPattern>, String)> {
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

pub(super) fn host_pattern(host: &str) -> std::result::Result<HostPattern, String> {
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
