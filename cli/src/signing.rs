//! Signed overrides on the command line: the key set from this process's environment, the
//! `sign-override` command, and configurations with `signing` checked where the keys are absent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use predictor_router::router::config::{dns_label, ConfigError};
use predictor_router::router::signing::{mint, Environment, KeySet, MAX_TTL_SECONDS};
use predictor_router::router::table::RoutingTable;

/// The variable `sign-override` reads unless told otherwise (the contract's default).
pub const DEFAULT_KEY_ENV: &str = "PREDICTOR_ROUTER_KEYS";

/// This process's environment variables, as bytes.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<Vec<u8>> {
        std::env::var_os(name).map(|v| v.into_encoded_bytes())
    }
}

/// A configuration parsed for checking, not for serving.
pub struct Checked {
    pub table: RoutingTable,
    /// `signing.keys_env` names a variable this shell does not set: the key set was not checked
    /// (everything else was). The gateway will check it when it loads the configuration.
    pub keys_not_checked: Option<String>,
}

/// The filter's parser with this process's environment. When the variable of `signing.keys_env` is
/// not set here (keys live in the gateway's Secret, not in CI), the rest is still checked, with a
/// stand-in key, and the caller is told.
pub fn parse_for_checking(json: &[u8]) -> Result<Checked, ConfigError> {
    match RoutingTable::parse_with_environment(json, &ProcessEnvironment) {
        Ok(table) => Ok(Checked {
            table,
            keys_not_checked: None,
        }),
        Err(error) if error.path == "signing.keys_env" => {
            let variable = serde_json::from_slice::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.pointer("/signing/keys_env")?.as_str().map(str::to_string));
            match variable {
                Some(variable) if ProcessEnvironment.var(&variable).is_none() => {
                    let stand_in = [(variable.as_str(), STAND_IN_KEY)];
                    let table = RoutingTable::parse_with_environment(json, &stand_in[..])?;
                    Ok(Checked {
                        table,
                        keys_not_checked: Some(variable),
                    })
                }
                _ => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// 32 zero bytes: a valid key that verifies nothing anyone minted.
const STAND_IN_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A minted token and when it stops working.
pub struct Minted {
    pub token: String,
    pub expiry: SystemTime,
}

/// `sign-override`: a token for `predictor` of `experiment`, valid for `ttl`, minted with the first key
/// of `key_env`. Errors are usage errors (exit 2).
pub fn sign_override(
    environment: &(impl Environment + ?Sized),
    key_env: &str,
    experiment: &str,
    predictor: &str,
    ttl: Duration,
    now: SystemTime,
) -> Result<Minted, String> {
    dns_label(experiment).map_err(|reason| format!("--experiment: {reason}"))?;
    dns_label(predictor).map_err(|reason| format!("--predictor: {reason}"))?;
    let ttl_seconds = ttl.as_secs();
    if ttl_seconds == 0 || ttl.subsec_nanos() != 0 {
        return Err("--ttl: a whole number of seconds, at least 1s (e.g. 2h, 30m, 1d)".to_string());
    }
    if ttl_seconds > MAX_TTL_SECONDS {
        return Err(format!(
            "--ttl: {ttl_seconds} s is over the 31 days ({MAX_TTL_SECONDS} s) a token may live"
        ));
    }
    let keys = KeySet::from_environment(environment, key_env).map_err(|e| e.describe(key_env))?;
    let now_seconds = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?
        .as_secs();
    let expiry_seconds = now_seconds + ttl_seconds;
    let token = mint(&keys, experiment, predictor, expiry_seconds)
        .ok_or_else(|| format!("{key_env}: no key to mint with"))?;
    Ok(Minted {
        token,
        expiry: UNIX_EPOCH + Duration::from_secs(expiry_seconds),
    })
}
