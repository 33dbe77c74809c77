//! The Kubernetes Gateway API manifests (`envoyfilter/overlays/gateway-api/`), and their HTTPRoute
//! translated into Envoy routes the way a Gateway API implementation programs Envoy: path prefix and
//! exact header matches, `ReplacePrefixMatch` as a prefix rewrite, a backend Service per predictor.

use serde_json::{json, Value};

use crate::bootstrap::cluster_name;

/// Envoy routes equivalent to an HTTPRoute's rules, in order. A backend `fraud-detection-<predictor>`
/// becomes that predictor's cluster.
pub fn envoy_routes(httproute: &Value, deployment: &str) -> Vec<Value> {
    let rules = httproute["spec"]["rules"].as_array().cloned().unwrap_or_default();
    rules
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| {
            let backend = rule["backendRefs"][0]["name"].as_str().unwrap_or_default();
            let predictor = backend
                .strip_prefix(&format!("{deployment}-"))
                .unwrap_or(backend)
                .to_string();
            let rewrite = rule["filters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["type"] == "URLRewrite")
                .and_then(|f| {
                    f["urlRewrite"]["path"]["replacePrefixMatch"]
                        .as_str()
                        .map(str::to_string)
                });
            let matches = rule["matches"].as_array().cloned().unwrap_or_default();
            matches
                .into_iter()
                .map(move |m| {
                    let headers: Vec<Value> = m["headers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|h| json!({"name": h["name"], "string_match": {"exact": h["value"]}}))
                        .collect();
                    let mut route = json!({"cluster": cluster_name(&predictor)});
                    if let Some(prefix) = &rewrite {
                        route["prefix_rewrite"] = json!(prefix);
                    }
                    json!({
                        "name": format!("httproute-rule-{i}"),
                        "match": {"prefix": m["path"]["value"].as_str().unwrap_or("/"), "headers": headers},
                        "route": route
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
