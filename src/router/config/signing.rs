//! `signing`: the key set read from the environment variable it names.

use std::sync::Arc;

use super::error::ConfigError;
use super::model::Signing;
use super::schema::RawSigning;
use super::validate::MAX_ENV_NAME_LEN;
use crate::router::signing::{Environment, KeySet};

type Result<T> = std::result::Result<T, ConfigError>;

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
