//! The plugin configurations a file holds: a plugin configuration as JSON, or YAML/JSON documents of
//! which every `WasmPlugin` (`spec.pluginConfig`) and `EnvoyFilter` (the Wasm filter's `configuration`
//! value) counts, and so does Envoy Gateway's `EnvoyExtensionPolicy` (the `config` of its
//! `predictor_router` Wasm extension); other kinds are ignored.

use serde_yaml_ng::Value;

/// One plugin configuration found in a file, with where it was found.
pub struct Found {
    /// `FILE` or `FILE: document N (Kind name)`.
    pub label: String,
    /// The configuration as the filter receives it.
    pub json: Vec<u8>,
}

/// A file that could not be read as configurations at all (exit 2).
pub struct Unreadable(pub String);

pub fn configurations(file: &str, bytes: &[u8]) -> Result<Vec<Found>, Unreadable> {
    let text = std::str::from_utf8(bytes).map_err(|_| Unreadable(format!("{file}: not UTF-8 text")))?;
    if text.trim().is_empty() {
        return Err(Unreadable(format!("{file}: empty file")));
    }
    // A plugin configuration as JSON: exactly what the filter receives.
    // (Invalid JSON too: the filter's parser then reports it, with line and column.) A JSON document
    // with a `kind` is a manifest, read below (YAML reads JSON).
    if text.trim_start().starts_with('{') {
        let manifest = serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.get("kind").is_some());
        if !manifest {
            return Ok(vec![Found {
                label: file.to_string(),
                json: bytes.to_vec(),
            }]);
        }
    }
    let mut found = Vec::new();
    for (n, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = <Value as serde::Deserialize>::deserialize(document)
            .map_err(|e| Unreadable(format!("{file}: document {}: not YAML: {e}", n + 1)))?;
        if value.is_null() {
            continue;
        }
        let Some(map) = value.as_mapping() else {
            return Err(Unreadable(format!(
                "{file}: document {}: not a mapping (a Kubernetes manifest or a plugin configuration)",
                n + 1
            )));
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("unnamed");
        let label = format!("{file}: document {} ({kind} {name})", n + 1);
        let json = match kind {
            "WasmPlugin" => match value.get("spec").and_then(|s| s.get("pluginConfig")) {
                Some(config) => serde_json::to_vec(config).unwrap_or_default(),
                None => {
                    return Err(Unreadable(format!("{label}: no spec.pluginConfig")));
                }
            },
            "EnvoyFilter" => match envoy_filter_configuration(&value) {
                Some(config) => config.into_bytes(),
                None => continue, // an EnvoyFilter of something else
            },
            "EnvoyExtensionPolicy" => match extension_policy_configuration(&value) {
                Some(config) => config,
                None => continue, // a policy without this module
            },
            "" if map.contains_key("experiments") => serde_json::to_vec(&value).unwrap_or_default(),
            _ => continue,
        };
        found.push(Found { label, json });
    }
    // A manifest of other kinds only (a Gateway, a VirtualService) holds no configuration: not an error.
    Ok(found)
}

/// The `config` of the policy's Wasm extension whose root id is `predictor_router`.
fn extension_policy_configuration(document: &Value) -> Option<Vec<u8>> {
    let extensions = document.get("spec")?.get("wasm")?.as_sequence()?;
    let ours = extensions
        .iter()
        .find(|w| w.get("rootID").and_then(Value::as_str) == Some("predictor_router"))?;
    serde_json::to_vec(ours.get("config")?).ok()
}

/// The `configuration` value of the first Wasm filter patched in by an EnvoyFilter.
fn envoy_filter_configuration(document: &Value) -> Option<String> {
    let patches = document.get("spec")?.get("configPatches")?.as_sequence()?;
    patches.iter().find_map(|patch| {
        let config = patch
            .get("patch")?
            .get("value")?
            .get("typed_config")?
            .get("config")?;
        let configuration = config.get("configuration")?;
        match configuration.get("value") {
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => serde_json::to_string(other).ok(),
            None => None,
        }
    })
}
