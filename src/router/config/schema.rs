//! The plugin configuration exactly as written by the user (the WasmPlugin `pluginConfig`).
//!
//! Only shapes and types are checked here; every rule about values lives in `validate.rs`.
//! `deny_unknown_fields` everywhere: a misspelt field must be an error, never a silent default.

use serde::Deserialize;
use serde_json::Number;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a JSON object with an `experiments` list")]
pub struct RawConfig {
    pub experiments: Vec<RawExperiment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an experiment object")]
pub struct RawExperiment {
    pub name: String,
    #[serde(default, rename = "match")]
    pub match_: Option<RawMatch>,
    pub predictors: Vec<RawPredictor>,
    #[serde(default)]
    pub routing_header: Option<String>,
    #[serde(default)]
    pub response_header: Option<String>,
    #[serde(default)]
    pub sticky: Option<RawSticky>,
    #[serde(default, rename = "override")]
    pub override_: Option<RawOverride>,
    #[serde(default)]
    pub adaptive: Option<RawAdaptive>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a match object")]
pub struct RawMatch {
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    #[serde(default)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a predictor object with `name` and `weight`"
)]
pub struct RawPredictor {
    pub name: String,
    /// A JSON number: Istio hands `pluginConfig` over as a protobuf Struct, so `50` may arrive as `50.0`.
    pub weight: Number,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a sticky object")]
pub struct RawSticky {
    #[serde(default)]
    pub cookie: Option<String>,
    #[serde(default)]
    pub max_age_seconds: Option<Number>,
    #[serde(default)]
    pub user_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an override object")]
pub struct RawOverride {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub query_param: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `adaptive`: every field optional here, so that a missing required one (`policy`) is reported at its
/// own path and fields of another policy or reward are refused by name in `validate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an adaptive object")]
pub struct RawAdaptive {
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub epsilon_percent: Option<Number>,
    #[serde(default)]
    pub reward: Option<String>,
    #[serde(default)]
    pub max_latency_ms: Option<Number>,
    #[serde(default)]
    pub feedback_path: Option<String>,
    #[serde(default)]
    pub update_seconds: Option<Number>,
    #[serde(default)]
    pub min_outcomes: Option<Number>,
    #[serde(default)]
    pub min_share_percent: Option<Number>,
}
