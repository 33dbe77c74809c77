//! An experiment's `sticky` block: the cookie (and its `Set-Cookie` value, built once) or the user header.

use super::error::ConfigError;
use super::model::{Sticky, DEFAULT_MAX_AGE_SECONDS};
use super::rules::{cookie_domain, header_name, integer_in, token};
use super::schema::RawSticky;
use super::validate::{at, MAX_AGE_LIMIT_SECONDS};

type Result<T> = std::result::Result<T, ConfigError>;

pub(super) fn sticky(path: &str, experiment: &str, raw: Option<RawSticky>) -> Result<Sticky> {
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
