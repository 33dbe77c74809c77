//! The plugin configuration exactly as written by the user (the WasmPlugin `pluginConfig`).
//!
//! Only shapes and types are checked here; every rule about values lives in `validate.rs`.
//! `deny_unknown_fields` everywhere: a misspelt field must be an error, never a silent default.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Number;

/// A JSON object, read as `T`. serde's derived structs also accept a JSON array, read positionally
/// (`["fraud-detection", ...]` as an experiment): every object of the contract is read through this
/// wrapper, which asks for a map only, so an array is an error with its path.
#[derive(Debug)]
pub struct Object<T>(pub T);

/// What an object is called in errors (`invalid type: sequence, expected an experiment object`).
pub trait Described {
    const WHAT: &'static str;
}

impl<'de, T: Deserialize<'de> + Described> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Described> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::WHAT)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

macro_rules! described {
    ($($t:ty => $what:literal),* $(,)?) => {
        $(impl Described for $t { const WHAT: &'static str = $what; })*
    };
}

described! {
    RawExperiment => "an experiment object",
    RawMatch => "a match object",
    RawPredictor => "a predictor object with `name` and `weight`",
    RawSticky => "a sticky object",
    RawOverride => "an override object",
    RawSigning => "a signing object with `keys_env`",
    RawAdaptive => "an adaptive object",
    RawRollout => "a rollout object",
    RawStep => "a step object with `percent` (and `minutes` on every step but the last)",
    RawGuard => "a guard object",
    RawFleet => "a fleet object with `prometheus`",
    RawPrometheus => "a prometheus object with `cluster` and `authority`",
    RawShadow => "a shadow object with `name`, `cluster`, `authority` and `percent`",
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a JSON object with an `experiments` list")]
pub struct RawConfig {
    pub experiments: Vec<Object<RawExperiment>>,
    pub signing: Option<Object<RawSigning>>,
    pub fleet: Option<Object<RawFleet>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a fleet object with `prometheus`")]
pub struct RawFleet {
    pub prometheus: Option<Object<RawPrometheus>>,
}

/// `fleet.prometheus`: every field optional here, so that a missing required one is reported at its own
/// path.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a prometheus object with `cluster` and `authority`"
)]
pub struct RawPrometheus {
    pub cluster: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub selector: Option<String>,
    pub timeout_ms: Option<Number>,
    pub delay_seconds: Option<Number>,
    pub window_seconds: Option<Number>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a signing object with `keys_env`")]
pub struct RawSigning {
    pub keys_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an experiment object")]
pub struct RawExperiment {
    pub name: String,
    #[serde(rename = "match")]
    pub match_: Option<Object<RawMatch>>,
    pub predictors: Vec<Object<RawPredictor>>,
    pub routing_header: Option<String>,
    pub response_header: Option<String>,
    pub sticky: Option<Object<RawSticky>>,
    #[serde(rename = "override")]
    pub override_: Option<Object<RawOverride>>,
    pub adaptive: Option<Object<RawAdaptive>>,
    pub rollout: Option<Object<RawRollout>>,
    pub shadow: Option<Object<RawShadow>>,
}

/// `shadow`: every field optional here, so that a missing required one is reported at its own path.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a shadow object with `name`, `cluster`, `authority` and `percent`"
)]
pub struct RawShadow {
    pub name: Option<String>,
    pub cluster: Option<String>,
    pub authority: Option<String>,
    pub path_prefix: Option<String>,
    pub percent: Option<Number>,
    pub timeout_ms: Option<Number>,
    pub max_in_flight: Option<Number>,
    pub compare: Option<String>,
    pub output: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a match object")]
pub struct RawMatch {
    pub hosts: Option<Vec<String>>,
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
    pub cookie: Option<String>,
    pub max_age_seconds: Option<Number>,
    pub user_header: Option<String>,
    pub secure: Option<bool>,
    pub domain: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an override object")]
pub struct RawOverride {
    pub header: Option<String>,
    pub query_param: Option<String>,
    pub enabled: Option<bool>,
    pub signed: Option<bool>,
}

/// `adaptive`: every field optional here, so that a missing required one (`policy`) is reported at its
/// own path and fields of another policy or reward are refused by name in `validate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an adaptive object")]
pub struct RawAdaptive {
    pub policy: Option<String>,
    pub epsilon_percent: Option<Number>,
    pub reward: Option<String>,
    pub max_latency_ms: Option<Number>,
    pub feedback_path: Option<String>,
    pub update_seconds: Option<Number>,
    pub min_outcomes: Option<Number>,
    pub min_share_percent: Option<Number>,
    pub pooled: Option<bool>,
}

/// `rollout`: every field optional here, so that a missing required one is reported at its own path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a rollout object")]
pub struct RawRollout {
    pub canary: Option<String>,
    pub start: Option<String>,
    pub steps: Option<Vec<Object<RawStep>>>,
    pub reward: Option<String>,
    pub max_latency_ms: Option<Number>,
    pub feedback_path: Option<String>,
    pub guard: Option<Object<RawGuard>>,
    pub update_seconds: Option<Number>,
    pub pooled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a step object with `percent` (and `minutes` on every step but the last)"
)]
pub struct RawStep {
    pub percent: Option<Number>,
    pub minutes: Option<Number>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a guard object")]
pub struct RawGuard {
    pub max_drop_percent: Option<Number>,
    pub confidence_percent: Option<Number>,
    pub min_outcomes: Option<Number>,
}

/// The reward fields, as written, of a block that has them (adaptive, rollout): taken out of it.
pub struct RawReward {
    pub reward: Option<String>,
    pub max_latency_ms: Option<Number>,
    pub feedback_path: Option<String>,
}

macro_rules! take_reward {
    ($($block:ty),*) => {$(
        impl $block {
            pub fn take_reward(&mut self) -> RawReward {
                RawReward {
                    reward: self.reward.take(),
                    max_latency_ms: self.max_latency_ms.take(),
                    feedback_path: self.feedback_path.take(),
                }
            }
        }
    )*};
}

take_reward!(RawAdaptive, RawRollout);
