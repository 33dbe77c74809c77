//! The plugin configuration as shipped: read from the WasmPlugin manifest (`envoyfilter/base/wasmplugin.yaml`),
//! the single source that the demo, the tests and `kubectl apply` all use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// The repository root (this crate lives in `<root>/tests/core`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/core has a grandparent")
        .to_path_buf()
}

pub fn wasmplugin_manifest() -> PathBuf {
    repo_root().join("envoyfilter/base/wasmplugin.yaml")
}

/// `spec.pluginConfig` of the WasmPlugin in `envoyfilter/base/wasmplugin.yaml`, as JSON.
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

/// Seldon Core v1's prediction endpoint under the shipped experiment's path prefix
/// (`/seldon/default/fraud-detection/api/v1.0/predictions`).
pub fn predict_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| format!("{}api/v1.0/predictions", seed_path_prefix()))
}

/// Seldon Core v1's feedback endpoint under the shipped experiment's path prefix.
pub fn feedback_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| format!("{}api/v1.0/feedback", seed_path_prefix()))
}

fn seed_path_prefix() -> String {
    seed_plugin_config()["experiments"][0]["match"]["path_prefix"]
        .as_str()
        .unwrap_or("/")
        .to_string()
}
