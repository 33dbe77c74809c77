//! Plugin configuration: one pure function, [`parse`], from the bytes Envoy hands over to a validated
//! [`Config`] or a [`ConfigError`] that names the JSON path. What serves requests is built from it by
//! [`crate::router::table::RoutingTable`].

mod adaptive;
mod error;
mod fleet;
mod match_rule;
mod model;
mod overrides;
mod predictors;
mod reward;
mod rollout;
mod rules;
mod schema;
mod shadow;
mod signing;
mod sticky;
mod validate;

pub use error::ConfigError;
pub use fleet::label_matchers;

use crate::router::signing::Environment;
pub use model::{
    Adaptive, Compare, Experiment, Fleet, Guard, HostPattern, Override, Policy, Predictor, PrometheusSource,
    Reward, Rollout, Shadow, Signing, Step, Sticky, DEFAULT_MAX_AGE_SECONDS, DEFAULT_OVERRIDE_HEADER,
    DEFAULT_ROUTING_HEADER,
};
pub use rules::dns_label;
pub use validate::{MAX_AGE_LIMIT_SECONDS, MAX_EXPERIMENTS, MAX_PREDICTORS, MAX_WEIGHT};

/// A validated configuration: the experiments in configuration order, every default applied.
#[derive(Debug)]
pub struct Config {
    experiments: Vec<Experiment>,
    signing: Option<Signing>,
    fleet: Option<Fleet>,
}

impl Config {
    /// `signing`, when configured: the variable named and the keys read from it.
    pub fn signing(&self) -> Option<&Signing> {
        self.signing.as_ref()
    }

    /// `fleet`, when configured: where pooled experiments read every replica's outcomes.
    pub fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_ref()
    }

    pub fn experiments(&self) -> &[Experiment] {
        &self.experiments
    }

    pub fn into_experiments(self) -> Vec<Experiment> {
        self.experiments
    }
}

/// Parses and validates a plugin configuration that reads no environment variable: with `signing`,
/// this reports the variable as unset. See [`parse_with_environment`].
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    parse_with_environment(bytes, &())
}

/// Parses and validates the plugin configuration; `signing.keys_env` is read from `environment`
/// (and only when the configuration has `signing`).
///
/// Syntax is checked first (errors then carry line and column), then the typed schema is read with the
/// path of any type error, then every value is validated field by field.
pub fn parse_with_environment(
    bytes: &[u8],
    environment: &(impl Environment + ?Sized),
) -> Result<Config, ConfigError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ConfigError::new(
            "$",
            "the configuration is empty; expected a JSON object such as {\"experiments\": [...]}",
        ));
    }
    // Syntax first, without building anything.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ConfigError::new("$", format!("not valid JSON: {e}")))?;
    // serde would also read a struct from an array: the document must be an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ConfigError::new(
            "$",
            "must be a JSON object with an `experiments` list",
        ));
    }
    let mut raw: schema::RawConfig =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
            .map_err(ConfigError::from_serde)?;
    let signing = signing::signing(raw.signing.take().map(|s| s.0), environment)?;
    let fleet = fleet::validate(raw.fleet.take().map(|f| f.0))?;
    let experiments = validate::experiments(raw, signing.as_ref(), fleet.is_some())?;
    Ok(Config {
        experiments,
        signing,
        fleet,
    })
}
