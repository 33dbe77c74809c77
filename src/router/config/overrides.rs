//! An experiment's `override` block: the forcing header and query parameter, plain or signed.

use std::sync::Arc;

use super::error::ConfigError;
use super::model::Signing;
use super::model::{Override, DEFAULT_OVERRIDE_HEADER};
use super::rules::{header_name, token};
use super::schema::RawOverride;
use super::validate::at;

type Result<T> = std::result::Result<T, ConfigError>;

pub(super) fn override_rule(
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
