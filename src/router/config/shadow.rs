//! Validation of an experiment's `shadow` block (contract "Shadow comparison"): where a sample of its
//! requests is copied, how large the sample is, and how the answers are compared.

use serde_json::Number;

use super::error::ConfigError;
use super::model::{Compare, Shadow};
use super::rules::{authority as authority_rule, bounded, dns_label, printable};
use super::schema::RawShadow;
use super::validate::Within;

pub const DEFAULT_TIMEOUT_MS: u32 = 1000;
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 64;
/// `percent` is kept in hundredths: 0.01 % is the finest sample.
pub const PERCENT_SCALE: u32 = 100;

pub(super) fn validate(path: &str, raw: RawShadow, within: &Within<'_>) -> Result<Shadow, ConfigError> {
    let predictors = within.predictors;
    let at = |field: &str, reason: String| ConfigError::new(format!("{path}.{field}"), reason);
    let required = |field: &str, value: Option<String>, what: &str| {
        value.ok_or_else(|| at(field, format!("is required: {what}")))
    };
    let name = required("name", raw.name, "a DNS label naming the shadow in metrics")?;
    dns_label(&name).map_err(|reason| at("name", reason))?;
    if predictors.iter().any(|p| p.name == name) {
        return Err(at(
            "name",
            format!("\"{name}\" is a predictor of this experiment: a shadow is a predictor no client is routed to"),
        ));
    }
    let cluster = required(
        "cluster",
        raw.cluster,
        "the Envoy cluster of the shadow's service, e.g. \"outbound|8000||fraud-detection-rf-v2.default.svc.cluster.local\"",
    )?;
    printable(&cluster).map_err(|reason| at("cluster", reason))?;
    let authority = required(
        "authority",
        raw.authority,
        "the `:authority` of the copies, e.g. \"fraud-detection-rf-v2.default.svc.cluster.local:8000\"",
    )?;
    printable(&authority)
        .and_then(|()| authority_rule(&authority))
        .map_err(|reason| at("authority", reason))?;
    let path_prefix = match raw.path_prefix {
        None => "/".to_string(),
        Some(p) => {
            printable(&p).map_err(|reason| at("path_prefix", reason))?;
            if !p.starts_with('/') {
                return Err(at("path_prefix", "must start with \"/\"".into()));
            }
            p
        }
    };
    let percent_hundredths = match raw.percent {
        None => {
            return Err(at(
                "percent",
                "is required: the share of requests copied, 0.01 to 100".into(),
            ))
        }
        Some(n) => hundredths(&n).ok_or_else(|| {
            at(
                "percent",
                "must be a number from 0.01 to 100 with at most two decimals".into(),
            )
        })?,
    };
    let number = |field: &str, value: Option<Number>, min: u32, max: u32, default: u32| {
        bounded(value.as_ref(), min, max, default).map_err(|reason| at(field, reason))
    };
    let compare = match raw.compare.as_deref() {
        None | Some("seldon") => Compare::Seldon,
        Some("oip") => Compare::Oip { output: None },
        Some("kserve_v1") => Compare::KserveV1,
        Some("status") => Compare::Status,
        Some(other) => {
            return Err(at(
                "compare",
                format!(
                    "\"{}\" is not \"seldon\", \"oip\", \"kserve_v1\" or \"status\"",
                    other.escape_debug()
                ),
            ))
        }
    };
    let compare = match (compare, raw.output) {
        (compare, None) => compare,
        (Compare::Oip { .. }, Some(output)) => {
            let printable_ascii = output.bytes().all(|b| (0x20..=0x7e).contains(&b));
            if output.is_empty() || output.len() > 128 || !printable_ascii {
                return Err(at(
                    "output",
                    "must be 1 to 128 printable ASCII characters: the name of an output tensor".into(),
                ));
            }
            Compare::Oip {
                output: Some(output.into()),
            }
        }
        (_, Some(_)) => {
            return Err(at(
                "output",
                "belongs to compare \"oip\": it names the output tensor compared".into(),
            ))
        }
    };
    Ok(Shadow {
        name,
        cluster,
        authority,
        path_prefix,
        percent_hundredths,
        timeout_ms: number("timeout_ms", raw.timeout_ms, 1, 60_000, DEFAULT_TIMEOUT_MS)?,
        max_in_flight: number(
            "max_in_flight",
            raw.max_in_flight,
            1,
            10_000,
            DEFAULT_MAX_IN_FLIGHT,
        )?,
        compare,
    })
}

/// A percentage from 0.01 to 100 with at most two decimals, in hundredths (1 to 10,000).
fn hundredths(n: &Number) -> Option<u32> {
    let f = n.as_f64()?;
    if !f.is_finite() {
        return None;
    }
    let scaled = f * f64::from(PERCENT_SCALE);
    let rounded = scaled.round();
    // 0.07 × 100 is 7.000000000000001 in binary floating point: allow for that, not for 0.015.
    if (scaled - rounded).abs() > 1e-6 || !(1.0..=10_000.0).contains(&rounded) {
        return None;
    }
    Some(rounded as u32)
}
