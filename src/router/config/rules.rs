//! The value rules every block of the configuration shares: integers from JSON numbers, names, header,
//! cookie and query parameter names, cookie domains. A leaf: it imports nothing else of `config`, so
//! each block's validator (`validate.rs`, `adaptive.rs`, ...) uses it without importing the others.

use serde_json::Number;

/// Experiment and predictor names, and DNS labels in general: at most this many characters.
pub const MAX_NAME_LEN: usize = 63;
/// Header, cookie and query parameter names: at most this many characters.
pub const MAX_TOKEN_LEN: usize = 64;

/// Cluster names, authorities, paths and selectors: at most this many bytes.
pub const MAX_TEXT_LEN: usize = 1024;

/// A reason without its path yet.
pub type Check = Result<(), String>;

/// An integral JSON number within `[min, max]`; `50.0` counts as 50, `50.5` and `-1` do not.
pub fn integer_in(n: &Number, min: u32, max: u32) -> Option<u32> {
    let value = match n.as_u64() {
        Some(u) => u,
        None => {
            let f = n.as_f64()?;
            if !f.is_finite() || f.fract() != 0.0 || f < 0.0 || f > f64::from(max) {
                return None;
            }
            f as u64
        }
    };
    u32::try_from(value).ok().filter(|v| (min..=max).contains(v))
}

/// `update_seconds` of an adaptive experiment or a rollout: how often its allocation is recomputed, or
/// its guard looks.
pub const DEFAULT_UPDATE_SECONDS: u32 = 10;
pub const MAX_UPDATE_SECONDS: u32 = 3600;
/// `min_outcomes`' upper bound, for the bandit's burn-in and the guard's first look alike.
pub const MAX_MIN_OUTCOMES: u32 = 1_000_000;

/// `update_seconds`: 1 to [`MAX_UPDATE_SECONDS`], [`DEFAULT_UPDATE_SECONDS`] when absent.
pub fn update_seconds(value: Option<&Number>) -> Result<u32, String> {
    bounded(value, 1, MAX_UPDATE_SECONDS, DEFAULT_UPDATE_SECONDS)
}

/// An optional integer field: `default` when absent, else an integer in `[min, max]`.
pub fn bounded(value: Option<&Number>, min: u32, max: u32, default: u32) -> Result<u32, String> {
    match value {
        None => Ok(default),
        Some(n) => integer_in(n, min, max).ok_or_else(|| format!("must be an integer from {min} to {max}")),
    }
}

/// A field that belongs to another variant (`owner`, e.g. `policy "epsilon_greedy"`) is an error.
pub fn only_for(present: bool, owner: &str) -> Check {
    if present {
        Err(format!("only applies to {owner}"))
    } else {
        Ok(())
    }
}

/// Experiment and predictor names: `Err` holds the reason.
pub fn dns_label(name: &str) -> Check {
    let bytes = name.as_bytes();
    let ok_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let valid = !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(ok_char)
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a DNS label: 1 to {MAX_NAME_LEN} characters of [a-z0-9-], \
             starting and ending with a letter or digit"
        ))
    }
}

/// A cookie `Domain`: a lowercase DNS name (labels of `[a-z0-9-]`, not starting or ending with `-`,
/// 1 to 63 characters each) without a leading dot or a port, 1 to 253 characters.
pub fn cookie_domain(domain: &str) -> Check {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= MAX_NAME_LEN
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.len() > 253 || domain.is_empty() {
        return Err(format!("\"{domain}\" must be 1 to 253 characters"));
    }
    if domain.starts_with('.') {
        return Err(format!(
            "\"{domain}\" must not start with a dot: \"{}\" already covers its subdomains",
            domain.trim_start_matches('.')
        ));
    }
    if domain.contains(':') {
        return Err(format!("\"{domain}\" must not contain a port"));
    }
    if !domain.split('.').all(label_ok) {
        return Err(format!(
            "\"{domain}\" is not a lowercase DNS name: dot-separated labels of [a-z0-9-], 1 to 63 characters, \
             not starting or ending with \"-\""
        ));
    }
    Ok(())
}

pub fn header_name(name: &str) -> Check {
    token(
        name,
        "a lowercase header name",
        |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
        "[a-z0-9-]",
    )
}

pub fn token(value: &str, what: &str, allowed: impl Fn(u8) -> bool, charset: &str) -> Check {
    if !value.is_empty() && value.len() <= MAX_TOKEN_LEN && value.bytes().all(allowed) {
        Ok(())
    } else {
        Err(format!(
            "\"{value}\" is not {what}: 1 to {MAX_TOKEN_LEN} characters of {charset}"
        ))
    }
}

/// `pooled`: `true` needs the top-level `fleet` block.
pub fn pooled(value: Option<bool>, fleet: bool) -> Result<bool, String> {
    let pooled = value.unwrap_or(false);
    if pooled && !fleet {
        return Err(
            "needs a top-level `fleet` object naming the Prometheus that holds every replica's outcomes"
                .into(),
        );
    }
    Ok(pooled)
}

/// An `:authority` for a callout: a host with an optional port, nothing of a URL around it.
pub fn authority(value: &str) -> Check {
    if value.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "\"{value}\" must be a host with an optional port, without a scheme or path"
        ));
    }
    Ok(())
}

/// Non-empty, at most [`MAX_TEXT_LEN`] bytes, no whitespace or control characters.
pub fn printable(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_TEXT_LEN {
        return Err(format!("must be 1 to {MAX_TEXT_LEN} characters"));
    }
    if value
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!(
            "\"{}\" must not contain spaces or control characters",
            value.escape_debug()
        ));
    }
    Ok(())
}
