//! The plugin configuration as shipped: read from the WasmPlugin manifest, the single source that the
//! demo, the end-to-end tests and `kubectl apply` all use. The basics (the seed configuration and its
//! paths) live in `predictor-router-core-tests`, which the native suites share without this crate.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub use predictor_router_core_tests::shipped::{
    feedback_path, plugin_config_of, predict_path, repo_root, seed_plugin_config, wasmplugin_manifest,
};

/// The predictor names of the first experiment, in order; the first is the baseline (default route).
pub fn predictor_names(plugin_config: &Value) -> Vec<String> {
    plugin_config["experiments"][0]["predictors"]
        .as_array()
        .expect("experiments[0].predictors")
        .iter()
        .map(|p| p["name"].as_str().expect("predictor name").to_string())
        .collect()
}

/// Every YAML document of every `.yaml` file under `envoyfilter/`, with its file name.
pub fn manifest_documents() -> Vec<(PathBuf, serde_yaml_ng::Value)> {
    let mut files = Vec::new();
    collect_yaml(&repo_root().join("envoyfilter"), &mut files);
    files.sort();
    files
        .into_iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            serde_yaml_ng::Deserializer::from_str(&text)
                .map(|doc| {
                    serde_yaml_ng::Value::deserialize(doc)
                        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
                })
                .filter(|v| !v.is_null())
                .map(|v| (file.clone(), v))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The kustomize overlays of the shipped scenario (`envoyfilter/overlays/<name>`, each applied instead
/// of `envoyfilter/base`, never beside it): validated like every manifest, but not part of the one
/// deployment that [`manifest_of_kind`] describes. Their `wasmplugin.yaml` patches carry the complete
/// `spec.pluginConfig` that replaces the base's.
pub fn overlays_dir() -> PathBuf {
    repo_root().join("envoyfilter/overlays")
}

/// `spec.pluginConfig` of the adaptive overlay's WasmPlugin.
pub fn adaptive_plugin_config() -> Value {
    plugin_config_of(&overlays_dir().join("adaptive/wasmplugin.yaml"))
}

/// `spec.pluginConfig` of the rollout overlay as shipped: its `start` is a placeholder the filter
/// refuses until the user sets it.
pub fn shipped_rollout_plugin_config() -> Value {
    plugin_config_of(&overlays_dir().join("rollout/wasmplugin.yaml"))
}

/// `spec.pluginConfig` of the rollout overlay (rf rolled out as a canary) with `start` set to now, as
/// a user sets it when applying the overlay.
pub fn rollout_plugin_config() -> Value {
    let mut config = shipped_rollout_plugin_config();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    config["experiments"][0]["rollout"]["start"] = predictor_router::router::instant::format(now).into();
    config
}

/// `spec.pluginConfig` of the fleet overlay (the adaptive overlay, pooled through Prometheus).
pub fn fleet_plugin_config() -> Value {
    plugin_config_of(&overlays_dir().join("fleet/wasmplugin.yaml"))
}

/// `spec.pluginConfig` of the signed-overrides overlay (its keys come from `PREDICTOR_ROUTER_KEYS`).
pub fn signed_plugin_config() -> Value {
    plugin_config_of(&overlays_dir().join("signed-overrides/wasmplugin.yaml"))
}

/// The manifest of the given kind (exactly one must exist under `envoyfilter/`, overlays aside).
pub fn manifest_of_kind(kind: &str) -> Value {
    let overlays = overlays_dir();
    let docs: Vec<_> = manifest_documents()
        .into_iter()
        .filter(|(file, d)| d["kind"].as_str() == Some(kind) && !file.starts_with(&overlays))
        .collect();
    assert_eq!(
        docs.len(),
        1,
        "expected one {kind} under envoyfilter/, found {}",
        docs.len()
    );
    serde_json::to_value(&docs[0].1).unwrap()
}

/// The Envoy failure policy matching the WasmPlugin's `failStrategy` (Istio's translation).
pub fn seed_failure_policy() -> String {
    let wasmplugin = manifest_of_kind("WasmPlugin");
    match wasmplugin["spec"]["failStrategy"]
        .as_str()
        .unwrap_or("FAIL_CLOSE")
    {
        "FAIL_OPEN" => "FAIL_OPEN",
        "FAIL_RELOAD" => "FAIL_RELOAD",
        _ => "FAIL_CLOSED",
    }
    .to_string()
}

/// The `stats_tags` shipped for Istio in `envoyfilter/stats-tags/istio-metrics.yaml` (a bootstrap override).
pub fn shipped_stats_tags() -> Value {
    let config_map = manifest_of_kind("ConfigMap");
    let bootstrap: Value =
        serde_json::from_str(config_map["data"]["custom_bootstrap.json"].as_str().unwrap())
            .expect("custom_bootstrap.json is JSON");
    bootstrap["stats_config"]["stats_tags"].clone()
}
