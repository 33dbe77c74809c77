//! The plugin configuration as shipped: read from the WasmPlugin manifest, the single source that the
//! demo, the end-to-end tests and `kubectl apply` all use.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

pub fn wasmplugin_manifest() -> PathBuf {
    repo_root().join("envoyfilter/wasmplugin.yaml")
}

/// `spec.pluginConfig` of the WasmPlugin in `envoyfilter/wasmplugin.yaml`, as JSON.
pub fn seed_plugin_config() -> Value {
    plugin_config_of(&wasmplugin_manifest())
}

pub fn plugin_config_of(manifest: &Path) -> Value {
    let text =
        std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("read {}: {e}", manifest.display()));
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("the WasmPlugin manifest is YAML");
    let config = doc
        .get("spec")
        .and_then(|s| s.get("pluginConfig"))
        .expect("spec.pluginConfig");
    serde_json::to_value(config).expect("pluginConfig converts to JSON")
}

/// The predictor names of the first experiment, in order; the first is the baseline (default route).
pub fn predictor_names(plugin_config: &Value) -> Vec<String> {
    plugin_config["experiments"][0]["predictors"]
        .as_array()
        .expect("experiments[0].predictors")
        .iter()
        .map(|p| p["name"].as_str().expect("predictor name").to_string())
        .collect()
}
