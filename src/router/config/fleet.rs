//! Validation of the top-level `fleet` block: the Prometheus every replica reads pooled outcomes from.
//! The selector is checked as PromQL label matchers here, so that a typo is a configuration error at
//! deployment and not a query that fails on every update.

use serde_json::Number;

use super::error::ConfigError;
use super::model::{Fleet, PrometheusSource};
use super::rules::{authority as authority_rule, bounded, printable, MAX_TEXT_LEN};
use super::schema::RawFleet;

pub const DEFAULT_QUERY_PATH: &str = "/api/v1/query";
pub const DEFAULT_TIMEOUT_MS: u32 = 2000;
pub const DEFAULT_DELAY_SECONDS: u32 = 30;
pub const DEFAULT_WINDOW_SECONDS: u32 = 3600;

pub fn validate(raw: Option<RawFleet>) -> Result<Option<Fleet>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let path = "fleet.prometheus";
    let at = |field: &str, reason: String| ConfigError::new(format!("{path}.{field}"), reason);
    let raw = raw.prometheus.map(|p| p.0).ok_or_else(|| {
        ConfigError::new(
            path,
            "is required: the Prometheus that scrapes every gateway replica, with `cluster` and `authority`",
        )
    })?;
    let required = |field: &str, value: Option<String>, what: &str| {
        let value = value.ok_or_else(|| at(field, format!("is required: {what}")))?;
        printable(&value).map_err(|reason| at(field, reason))?;
        Ok::<String, ConfigError>(value)
    };
    let cluster = required(
        "cluster",
        raw.cluster,
        "the Envoy cluster of the Prometheus service, e.g. \"outbound|9090||prometheus.monitoring.svc.cluster.local\"",
    )?;
    let authority = required(
        "authority",
        raw.authority,
        "the `:authority` of the queries, e.g. \"prometheus.monitoring.svc.cluster.local:9090\"",
    )?;
    authority_rule(&authority).map_err(|reason| at("authority", reason))?;
    let query_path = match raw.path {
        None => DEFAULT_QUERY_PATH.to_string(),
        Some(p) => {
            printable(&p).map_err(|reason| at("path", reason))?;
            if !p.starts_with('/') || p.contains(['?', '#']) {
                return Err(at(
                    "path",
                    format!("\"{p}\" must start with \"/\" and have no query string (the filter adds `query` and `time`)"),
                ));
            }
            p
        }
    };
    let selector = match raw.selector {
        None => String::new(),
        Some(s) => {
            if s.len() > MAX_TEXT_LEN {
                return Err(at("selector", format!("must be at most {MAX_TEXT_LEN} bytes")));
            }
            label_matchers(&s).map_err(|reason| at("selector", reason))?;
            s.trim().trim_end_matches(',').trim_end().to_string()
        }
    };
    let number = |field: &str, value: Option<Number>, min: u32, max: u32, default: u32| {
        bounded(value.as_ref(), min, max, default).map_err(|reason| at(field, reason))
    };
    Ok(Some(Fleet {
        prometheus: PrometheusSource {
            cluster,
            authority,
            path: query_path,
            selector,
            timeout_ms: number("timeout_ms", raw.timeout_ms, 100, 60_000, DEFAULT_TIMEOUT_MS)?,
            delay_seconds: number("delay_seconds", raw.delay_seconds, 0, 600, DEFAULT_DELAY_SECONDS)?,
            window_seconds: number(
                "window_seconds",
                raw.window_seconds,
                60,
                2_592_000,
                DEFAULT_WINDOW_SECONDS,
            )?,
        },
    }))
}

/// PromQL label matchers without braces: `name op "value"` separated by commas (`=`, `!=`, `=~`, `!~`;
/// values in double or single quotes with backslash escapes), or nothing at all. The label
/// `experiment` is the filter's own.
pub fn label_matchers(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while bytes.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    let bad = |at: usize, what: &str| {
        Err(format!(
            "\"{}\" is not PromQL label matchers such as namespace=\"istio-ingress\",app=~\"gw-.*\": {what} at byte {at}",
            text.escape_debug()
        ))
    };
    loop {
        skip_space(&mut i);
        if i >= bytes.len() {
            return Ok(());
        }
        let name_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            i += 1;
        }
        let name = text.get(name_start..i).unwrap_or("");
        if name.is_empty() || name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return bad(name_start, "a label name ([a-zA-Z_][a-zA-Z0-9_]*) expected");
        }
        if name == "experiment" {
            return Err(
                "must not match `experiment`: every query already selects the experiment by name".into(),
            );
        }
        skip_space(&mut i);
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'!'), Some(b'=' | b'~')) | (Some(b'='), Some(b'~')) => i += 2,
            (Some(b'='), _) => i += 1,
            _ => return bad(i, "=, !=, =~ or !~ expected"),
        }
        skip_space(&mut i);
        let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) else {
            return bad(i, "a quoted value expected");
        };
        i += 1;
        loop {
            match bytes.get(i) {
                None => return bad(i, "unterminated value"),
                Some(b'\\') => i += 2,
                Some(b'\n') => return bad(i, "a line break inside a value"),
                Some(&b) if b == quote => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
        skip_space(&mut i);
        match bytes.get(i) {
            None => return Ok(()),
            Some(b',') => i += 1,
            Some(_) => return bad(i, "a comma between matchers expected"),
        }
    }
}
