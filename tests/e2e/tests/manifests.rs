//! The Istio and Kubernetes manifests under envoyfilter/: consistent with the plugin configuration they
//! ship (routes, subsets, services, variants). Whether the API server accepts them is judged by a real
//! kube-apiserver with the projects' own CRDs: tests/istio/manifests.

use std::collections::BTreeSet;
use std::path::PathBuf;

use predictor_router::router::config::{parse, parse_with_environment};
use predictor_router::router::table::RoutingTable;
use predictor_router_e2e::invalid_configs::{fleet_with, shadow_with};
use predictor_router_e2e::scenario::{
    adaptive_plugin_config, fleet_plugin_config, manifest_documents, manifest_of_kind, predictor_names,
    repo_root, rollout_plugin_config, seed_plugin_config, shipped_rollout_plugin_config,
};
use proptest::prelude::*;
use serde_json::{json, Value};

#[test]
fn the_wasmplugin_configuration_passes_the_filters_own_parser() {
    let wasmplugin = manifest_of_kind("WasmPlugin");
    assert_eq!(
        wasmplugin["spec"]["pluginName"], "predictor_router",
        "the module's root id"
    );
    let config = RoutingTable::parse(wasmplugin["spec"]["pluginConfig"].to_string().as_bytes())
        .expect("pluginConfig is valid");
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn the_adaptive_variant_is_the_shipped_experiment_with_an_adaptive_block() {
    let mut adaptive = adaptive_plugin_config();
    let experiments = parse(adaptive.to_string().as_bytes()).expect("the adaptive variant is valid");
    assert!(experiments.experiments()[0].adaptive.is_some());
    assert!(
        plugin_schema().is_valid(&adaptive),
        "the JSON Schema knows `adaptive`"
    );
    let block = adaptive["experiments"][0]
        .as_object_mut()
        .unwrap()
        .remove("adaptive");
    assert!(block.is_some());
    assert_eq!(
        adaptive,
        seed_plugin_config(),
        "the variant must not drift from the shipped experiment"
    );
}

#[test]
fn the_shipped_rollout_overlay_is_refused_until_its_start_is_set() {
    let shipped = shipped_rollout_plugin_config();
    let error = parse(shipped.to_string().as_bytes()).expect_err("the placeholder start is refused");
    let message = error.to_string();
    assert!(
        message.starts_with("experiments[0].rollout.start: \"set-me"),
        "{message}"
    );
}

#[test]
fn the_rollout_variant_is_the_shipped_experiment_with_a_rollout_of_rf() {
    let mut rollout = rollout_plugin_config();
    let config = parse(rollout.to_string().as_bytes()).expect("the rollout variant is valid");
    let experiment = &config.experiments()[0];
    let block = experiment.rollout.as_ref().expect("a rollout");
    assert_eq!(experiment.predictor(block.canary).unwrap().name, "rf");
    assert_eq!(
        block.steps.iter().map(|s| s.percent).collect::<Vec<_>>(),
        [5, 20, 50, 100],
        "the seed's canary ramp"
    );
    assert!(
        plugin_schema().is_valid(&rollout),
        "the JSON Schema knows `rollout`"
    );
    let removed = rollout["experiments"][0]
        .as_object_mut()
        .unwrap()
        .remove("rollout");
    assert!(removed.is_some());
    assert_eq!(
        rollout,
        seed_plugin_config(),
        "the variant must not drift from the shipped experiment"
    );
}

#[test]
fn the_fleet_variant_is_the_adaptive_variant_pooled_through_the_prometheus_that_scrapes_the_gateways() {
    let mut fleet = fleet_plugin_config();
    let config = parse(fleet.to_string().as_bytes()).expect("the fleet variant is valid");
    assert!(config.experiments()[0].is_pooled(), "its experiment is pooled");
    let source = &config.fleet().expect("a fleet block").prometheus;
    assert!(
        plugin_schema().is_valid(&fleet),
        "the JSON Schema knows `fleet` and `pooled`"
    );
    // The cluster is the one istiod names for the authority's Service: outbound|<port>||<host>.
    let (host, port) = source.authority.rsplit_once(':').unwrap();
    assert_eq!(source.cluster, format!("outbound|{port}||{host}"));
    assert!(
        host.ends_with(".svc.cluster.local"),
        "a Service of the cluster: {host}"
    );
    // The selector pools exactly the gateways the shipped PodMonitor scrapes (prometheus-operator
    // gives its targets a `namespace` label).
    let scraped = &predictor_router_e2e::monitoring::pod_monitor()["spec"]["namespaceSelector"]["matchNames"];
    assert_eq!(scraped.as_array().map(Vec::len), Some(1));
    assert_eq!(source.selector, format!("namespace={}", scraped[0]));
    // The ServiceEntry, for a query endpoint outside the cluster, names the cluster it creates.
    let entries = variant_documents("fleet")
        .into_iter()
        .filter(|d| d["kind"] == "ServiceEntry")
        .collect::<Vec<_>>();
    assert_eq!(entries.len(), 1);
    let (entry_host, entry_port) = (
        &entries[0]["spec"]["hosts"][0],
        &entries[0]["spec"]["ports"][0]["number"],
    );
    let text = std::fs::read_to_string(
        predictor_router_e2e::scenario::overlays_dir().join("fleet/serviceentry.yaml"),
    )
    .unwrap();
    let named = format!("outbound|{entry_port}||{}", entry_host.as_str().unwrap());
    assert!(
        text.contains(&named),
        "serviceentry.yaml names its cluster {named}"
    );
    // Otherwise the adaptive variant, unchanged.
    fleet.as_object_mut().unwrap().remove("fleet");
    fleet["experiments"][0]["adaptive"]
        .as_object_mut()
        .unwrap()
        .remove("pooled");
    assert_eq!(
        fleet,
        adaptive_plugin_config(),
        "the variant must not drift from the adaptive one"
    );
}

#[test]
fn the_virtualservice_routes_exactly_the_predictors_of_the_plugin_configuration() {
    let config = parse(seed_plugin_config().to_string().as_bytes()).unwrap();
    let experiment = &config.experiments()[0];
    let vs = manifest_of_kind("VirtualService");
    let routes = vs["spec"]["http"].as_array().unwrap();
    let mut header_routes = BTreeSet::new();
    let mut default_route = None;
    for route in routes {
        let matches = route["match"].as_array().unwrap();
        assert_eq!(matches.len(), 1);
        assert_eq!(
            matches[0]["uri"]["prefix"],
            experiment.path_prefix.as_str(),
            "routes match the experiment's path"
        );
        let destination = &route["route"][0]["destination"];
        match matches[0]["headers"].as_object() {
            Some(headers) => {
                assert_eq!(headers.len(), 1);
                let value = &headers[&experiment.routing_header]["exact"];
                let predictor = value
                    .as_str()
                    .unwrap_or_else(|| panic!("header match on {}", experiment.routing_header));
                assert_eq!(
                    destination["subset"], predictor,
                    "route for {predictor} goes to its subset"
                );
                assert!(
                    header_routes.insert(predictor.to_string()),
                    "{predictor} routed twice"
                );
            }
            None => default_route = Some(destination["subset"].as_str().unwrap().to_string()),
        }
    }
    let predictors: BTreeSet<String> = experiment.predictors.iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        header_routes, predictors,
        "one header route per predictor, no more"
    );
    assert_eq!(
        default_route.as_deref(),
        Some(experiment.predictors[0].name.as_str()),
        "default route to the baseline"
    );
    assert!(
        routes.last().unwrap()["match"][0]["headers"].is_null(),
        "the default route comes last"
    );
}

#[test]
fn destination_rules_and_seldon_predictors_match_the_routes() {
    let config = parse(seed_plugin_config().to_string().as_bytes()).unwrap();
    let predictors: BTreeSet<String> = config.experiments()[0]
        .predictors
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let docs: Vec<Value> = manifest_documents()
        .into_iter()
        .map(|(_, d)| serde_json::to_value(d).unwrap())
        .collect();
    let subsets: BTreeSet<(String, String)> = docs
        .iter()
        .filter(|d| d["kind"] == "DestinationRule")
        .flat_map(|d| {
            let host = d["spec"]["host"].as_str().unwrap().to_string();
            d["spec"]["subsets"].as_array().unwrap().iter().map(move |s| {
                assert_eq!(
                    s["labels"]["version"], s["name"],
                    "subset {} selects version={}",
                    s["name"], s["name"]
                );
                (host.clone(), s["name"].as_str().unwrap().to_string())
            })
        })
        .collect();
    let vs = manifest_of_kind("VirtualService");
    for route in vs["spec"]["http"].as_array().unwrap() {
        let destination = &route["route"][0]["destination"];
        let short_host = destination["host"]
            .as_str()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        let subset = destination["subset"].as_str().unwrap().to_string();
        assert!(
            subsets.contains(&(short_host.clone(), subset.clone())),
            "no DestinationRule subset {short_host}/{subset}"
        );
    }
    let canary = docs
        .iter()
        .find(|d| d["kind"] == "SeldonDeployment" && d["spec"]["predictors"].as_array().unwrap().len() > 1)
        .expect("the canary SeldonDeployment");
    let seldon_predictors: BTreeSet<String> = canary["spec"]["predictors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seldon_predictors, predictors);
    for p in canary["spec"]["predictors"].as_array().unwrap() {
        assert_eq!(
            p["labels"]["version"], p["name"],
            "pods carry version=<predictor> for the subsets"
        );
    }
    let total: i64 = canary["spec"]["predictors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["traffic"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 100, "Seldon requires traffic to sum to 100");
    assert!(
        canary["metadata"]["annotations"]["seldon.io/istio-host"].is_string(),
        "Seldon's own VirtualService is moved off the public hosts"
    );
}

#[test]
fn the_legacy_envoyfilter_carries_the_same_configuration() {
    let envoy_filter = manifest_of_kind("EnvoyFilter");
    let config = &envoy_filter["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"];
    assert_eq!(config["root_id"], "predictor_router");
    assert_eq!(config["vm_config"]["runtime"], "envoy.wasm.runtime.v8");
    let embedded: Value = serde_json::from_str(config["configuration"]["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        embedded,
        seed_plugin_config(),
        "EnvoyFilter and WasmPlugin configurations drifted apart"
    );
}

fn plugin_schema() -> jsonschema::Validator {
    let path: PathBuf = repo_root().join("envoyfilter/reference/plugin-config.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn experiment(patch: Value) -> Value {
    let mut exp = json!({"name": "fraud-detection", "predictors": [{"name": "xgb", "weight": 50}, {"name": "rf", "weight": 50}]});
    for (k, v) in patch.as_object().unwrap() {
        exp[k] = v.clone();
    }
    json!({ "experiments": [exp] })
}

/// The parser with `PREDICTOR_ROUTER_KEYS` set to a valid key, as on a gateway with signing keys.
fn parse_keyed(
    config: &Value,
) -> Result<predictor_router::router::config::Config, predictor_router::router::config::ConfigError> {
    let env = [(
        "PREDICTOR_ROUTER_KEYS",
        "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw",
    )];
    parse_with_environment(config.to_string().as_bytes(), &env[..])
}

/// The one-experiment configuration with `signing` and an `override` object.
fn signed(signing: Value, override_: Value) -> Value {
    let mut config = experiment(json!({ "override": override_ }));
    config["signing"] = signing;
    config
}

#[test]
fn the_json_schema_agrees_with_the_parser() {
    let schema = plugin_schema();
    let valid = [
        seed_plugin_config(),
        experiment(json!({})),
        experiment(json!({"predictors": [{"name": "a", "weight": 50.0}, {"name": "b", "weight": 0}]})),
        experiment(json!({"match": {"hosts": ["*", "a.com", "*.b.org", "X_Y.z"], "path_prefix": "/"}})),
        experiment(json!({"response_header": "", "sticky": {"cookie": "", "max_age_seconds": 34560000}})),
        experiment(json!({"override": {"enabled": false, "header": "x-force", "query_param": "p.q-r_s"}})),
        signed(
            json!({"keys_env": "PREDICTOR_ROUTER_KEYS"}),
            json!({"signed": true}),
        ),
        signed(
            json!({"keys_env": "PREDICTOR_ROUTER_KEYS"}),
            json!({"signed": false}),
        ),
        shadow_with(json!({})),
        shadow_with(
            json!({"path_prefix": "/v2/", "percent": 0.01, "timeout_ms": 1, "max_in_flight": 10000, "compare": "status"}),
        ),
        shadow_with(json!({"percent": 100})),
        fleet_with(json!({})),
        fleet_with(
            json!({"selector": "namespace=\"istio-ingress\", pod=~'gw-.*'", "path": "/prometheus/api/v1/query",
                          "timeout_ms": 100, "delay_seconds": 0, "window_seconds": 60}),
        ),
    ];
    for config in &valid {
        assert!(parse_keyed(config).is_ok(), "parser rejects {config}");
        let errors: Vec<String> = schema.iter_errors(config).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "schema rejects a valid config {config}: {errors:?}"
        );
    }
    let invalid = [
        json!({}),
        json!({"experiments": []}),
        json!({"experiments": [], "extra": 1}),
        experiment(json!({"name": "Fraud"})),
        experiment(json!({"predictors": [{"name": "a", "weight": 1.5}]})),
        experiment(json!({"predictors": [{"name": "a", "weight": -1}]})),
        experiment(json!({"predictors": [{"name": "a", "weight": 1000001}]})),
        experiment(json!({"predictors": [{"name": "a", "weight": 0}]})),
        experiment(json!({"predictors": []})),
        experiment(json!({"predictors": [{"name": "a", "weight": 1, "traffic": 5}]})),
        experiment(json!({"match": {"hosts": []}})),
        experiment(json!({"match": {"hosts": ["a.com:80"]}})),
        experiment(json!({"match": {"hosts": ["a.*.com"]}})),
        experiment(json!({"match": {"path_prefix": "api"}})),
        experiment(json!({"routing_header": "X-Predictor"})),
        experiment(json!({"routing_header": "cookie"})),
        experiment(json!({"response_header": "x_y"})),
        experiment(json!({"sticky": {"cookie": "a;b"}})),
        experiment(json!({"sticky": {"max_age_seconds": 0}})),
        experiment(json!({"sticky": {"user_header": ""}})),
        experiment(json!({"override": {"query_param": "a b"}})),
        experiment(json!({"override": {"enabled": "no"}})),
        signed(json!({"keys_env": "1_KEYS"}), json!({"signed": true})),
        signed(json!({"keys_env": ""}), json!({})),
        signed(json!({}), json!({})),
        signed(
            json!({"keys_env": "PREDICTOR_ROUTER_KEYS", "key": "x"}),
            json!({}),
        ),
        signed(
            json!({"keys_env": "PREDICTOR_ROUTER_KEYS"}),
            json!({"signed": "yes"}),
        ),
        shadow_with(json!({"name": null})),
        shadow_with(json!({"percent": 0})),
        shadow_with(json!({"percent": 100.5})),
        shadow_with(json!({"timeout_ms": 0})),
        shadow_with(json!({"max_in_flight": 10001})),
        shadow_with(json!({"compare": "argmax"})),
        shadow_with(json!({"path_prefix": "api/"})),
        shadow_with(json!({"authority": "http://rf-v2:8000"})),
        shadow_with(json!({"mirror": true})),
        fleet_with(json!({"cluster": null})),
        fleet_with(json!({"authority": "http://prometheus:9090"})),
        fleet_with(json!({"path": "api/v1/query"})),
        fleet_with(json!({"timeout_ms": 99})),
        fleet_with(json!({"window_seconds": 59})),
        fleet_with(json!({"url": "http://prometheus:9090"})),
        {
            let mut c = fleet_with(json!({}));
            c["fleet"] = json!({});
            c
        },
    ];
    for config in &invalid {
        assert!(parse_keyed(config).is_err(), "parser accepts {config}");
        assert!(
            !schema.is_valid(config),
            "schema accepts an invalid config {config}"
        );
    }
    // What JSON Schema cannot express is left to the filter, and documented in the schema.
    let parser_only = [
        json!({"experiments": [
            {"name": "a", "predictors": [{"name": "p", "weight": 1}]},
            {"name": "a", "predictors": [{"name": "p", "weight": 1}]}]}),
        experiment(json!({"predictors": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}]})),
        experiment(json!({"override": {"header": "x-predictor"}})),
        // `signed` needs a top-level `signing`; the key set itself lives outside the configuration.
        experiment(json!({"override": {"signed": true}})),
        signed(json!({"keys_env": "UNSET_IN_THIS_TEST"}), json!({})),
        // `pooled` needs a top-level `fleet`; the selector is PromQL, parsed by the filter.
        experiment(json!({"adaptive": {"policy": "thompson", "pooled": true}})),
        fleet_with(json!({"selector": "namespace=istio-ingress"})),
        fleet_with(json!({"selector": "experiment=\"other\""})),
    ];
    for config in &parser_only {
        assert!(parse_keyed(config).is_err());
        assert!(
            schema.is_valid(config),
            "now expressible in the schema? update this test: {config}"
        );
    }
}

fn generated_config() -> impl Strategy<Value = Value> {
    let name = "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?";
    let predictor = (name, 0u32..=1_000_000, any::<bool>())
        .prop_map(|(n, w, as_float)| json!({"name": n, "weight": if as_float { json!(f64::from(w)) } else { json!(w) }}));
    let host = prop_oneof![
        Just("*".to_string()),
        "[a-z]{1,5}(\\.[a-z]{1,5}){0,2}",
        "\\*\\.[a-z]{1,5}\\.[a-z]{2,3}"
    ];
    (
        name,
        prop::collection::vec(predictor, 1..5),
        prop::option::of(prop::collection::vec(host, 1..3)),
        prop::option::of("/[a-z/]{0,10}"),
        prop::option::of("[a-z0-9-]{1,10}"),
        prop::option::of(1u32..=34_560_000),
    )
        .prop_map(|(name, predictors, hosts, prefix, header, max_age)| {
            let mut exp = json!({"name": name, "predictors": predictors});
            if hosts.is_some() || prefix.is_some() {
                exp["match"] = json!({});
                if let Some(h) = hosts {
                    exp["match"]["hosts"] = json!(h);
                }
                if let Some(p) = prefix {
                    exp["match"]["path_prefix"] = json!(p);
                }
            }
            if let Some(h) = header {
                exp["routing_header"] = json!(h);
            }
            if let Some(m) = max_age {
                exp["sticky"] = json!({"max_age_seconds": m});
            }
            json!({ "experiments": [exp] })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the parser accepts, the schema accepts; a field-level rejection by the schema is one
    /// the parser makes too.
    #[test]
    fn schema_and_parser_agree_on_generated_configs(config in generated_config()) {
        let schema = plugin_schema();
        let parsed = parse(config.to_string().as_bytes());
        let by_schema = schema.is_valid(&config);
        let names: Vec<&str> = config["experiments"][0]["predictors"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        let unique_names = names.iter().collect::<BTreeSet<_>>().len() == names.len();
        let reserved = ["host", "cookie", "content-length", "content-type", "transfer-encoding", "connection", "upgrade", "te", "authorization"];
        let header = config["experiments"][0]["routing_header"].as_str();
        if parsed.is_ok() {
            prop_assert!(by_schema, "schema rejects a config the parser accepts: {}", config);
        } else if unique_names && !header.is_some_and(|h| reserved.contains(&h) || h == "x-predictor-override") {
            prop_assert!(!by_schema, "parser rejects ({}) but schema accepts: {}", parsed.unwrap_err(), config);
        }
    }
}

/// The documents of one overlay's folder, `envoyfilter/overlays/<dir>/` (its kustomization aside).
fn variant_documents(dir: &str) -> Vec<Value> {
    let root = predictor_router_e2e::scenario::overlays_dir().join(dir);
    manifest_documents()
        .into_iter()
        .filter(|(file, _)| file.starts_with(&root))
        .map(|(_, doc)| serde_json::to_value(doc).unwrap())
        .filter(|doc| doc["kind"] != "Kustomization")
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The HTTPRoute of an alternative deployment routes exactly the predictors of the shipped plugin
/// configuration, each on the routing header, with Seldon's prefix rewrite, then defaults to the
/// first predictor with weight > 0; and it hangs off the Gateway beside it.
fn check_httproute(docs: &[Value]) {
    let config = seed_plugin_config();
    let experiment = &config["experiments"][0];
    let prefix = experiment["match"]["path_prefix"].as_str().unwrap();
    let routing_header = experiment["routing_header"].as_str().unwrap_or("x-predictor");
    let predictors = predictor_names(&config);
    let baseline = experiment["predictors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["weight"].as_f64().unwrap() > 0.0)
        .unwrap()["name"]
        .as_str()
        .unwrap();
    let gateways = of_kind(docs, "Gateway");
    assert_eq!(gateways.len(), 1);
    let routes = of_kind(docs, "HTTPRoute");
    assert_eq!(routes.len(), 1);
    let route = routes[0];
    assert_eq!(
        route["spec"]["parentRefs"][0]["name"],
        gateways[0]["metadata"]["name"]
    );
    let rules = route["spec"]["rules"].as_array().unwrap();
    let mut header_rules = Vec::new();
    for rule in rules {
        let m = &rule["matches"][0];
        assert_eq!(m["path"], json!({"type": "PathPrefix", "value": prefix}));
        assert_eq!(
            rule["filters"][0],
            json!({"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}})
        );
        let backend = rule["backendRefs"][0]["name"].as_str().unwrap();
        match m["headers"].as_array() {
            Some(headers) => {
                assert_eq!(headers.len(), 1);
                assert_eq!(headers[0]["name"], routing_header);
                assert_eq!(headers[0]["type"], "Exact");
                let predictor = headers[0]["value"].as_str().unwrap();
                assert_eq!(backend, format!("fraud-detection-{predictor}"));
                header_rules.push(predictor.to_string());
            }
            None => assert_eq!(backend, format!("fraud-detection-{baseline}"), "the default rule"),
        }
    }
    assert_eq!(
        header_rules, predictors,
        "one header rule per predictor, in order"
    );
    assert!(
        rules.last().unwrap()["matches"][0]["headers"].is_null(),
        "the default rule comes last"
    );
}

#[test]
fn the_gateway_api_manifests_route_the_predictors_and_carry_the_shipped_configuration() {
    let docs = variant_documents("gateway-api");
    check_httproute(&docs);
    let gateway = of_kind(&docs, "Gateway")[0];
    assert_eq!(gateway["spec"]["gatewayClassName"], "istio");
    let plugins = of_kind(&docs, "WasmPlugin");
    assert_eq!(plugins.len(), 1);
    let plugin = &plugins[0]["spec"];
    assert_eq!(
        plugin["targetRefs"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway["metadata"]["name"]}])
    );
    assert!(plugin["selector"].is_null(), "targetRefs instead of a selector");
    assert_eq!(plugin["pluginName"], "predictor_router");
    assert_eq!(
        plugin["pluginConfig"],
        seed_plugin_config(),
        "the same configuration as wasmplugin.yaml"
    );
    parse(plugin["pluginConfig"].to_string().as_bytes()).expect("valid");
}

#[test]
fn the_envoy_gateway_manifests_load_the_same_module_and_configuration() {
    let docs = variant_documents("envoy-gateway");
    check_httproute(&docs);
    let gateway = of_kind(&docs, "Gateway")[0];
    let policies = of_kind(&docs, "EnvoyExtensionPolicy");
    assert_eq!(policies.len(), 2, "an image source and an HTTP source");
    let mut sources = Vec::new();
    for policy in policies {
        let spec = &policy["spec"];
        assert_eq!(spec["targetRefs"][0]["name"], gateway["metadata"]["name"]);
        assert_eq!(spec["targetRefs"][0]["kind"], "Gateway");
        let wasm = &spec["wasm"][0];
        assert_eq!(wasm["rootID"], "predictor_router");
        assert_eq!(
            wasm["config"],
            seed_plugin_config(),
            "the same configuration as wasmplugin.yaml"
        );
        parse(wasm["config"].to_string().as_bytes()).expect("valid");
        sources.push(wasm["code"]["type"].as_str().unwrap().to_string());
    }
    sources.sort();
    assert_eq!(sources, ["HTTP", "Image"]);
}

#[test]
fn the_signed_overrides_variant_wires_the_secret_through_the_gateway_into_the_vm() {
    let docs = variant_documents("signed-overrides");
    let [plugin] = of_kind(&docs, "WasmPlugin")[..] else {
        panic!("one WasmPlugin")
    };
    let [secret] = of_kind(&docs, "Secret")[..] else {
        panic!("one Secret")
    };
    let [patch] = of_kind(&docs, "Deployment")[..] else {
        panic!("one Deployment patch")
    };

    // The plugin configuration names the variable, and the VM gets it from the host (the proxy).
    let config = &plugin["spec"]["pluginConfig"];
    let variable = config["signing"]["keys_env"].as_str().unwrap();
    assert_eq!(variable, "PREDICTOR_ROUTER_KEYS", "the CLI's default");
    assert_eq!(
        plugin["spec"]["vmConfig"]["env"],
        json!([{"name": variable, "valueFrom": "HOST"}]),
        "the key value never sits in the WasmPlugin"
    );
    assert_eq!(config["experiments"][0]["override"]["signed"], true);
    assert!(
        config["experiments"][0]["override"].get("query_param").is_none(),
        "tokens in URLs end up in access logs: the shipped variant uses the header only"
    );
    // The same experiment as the shipped WasmPlugin, but for `signing` and `override`.
    let mut shipped = seed_plugin_config();
    let mut signed = config.clone();
    signed.as_object_mut().unwrap().remove("signing");
    shipped["experiments"][0]
        .as_object_mut()
        .unwrap()
        .remove("override");
    signed["experiments"][0]
        .as_object_mut()
        .unwrap()
        .remove("override");
    assert_eq!(signed, shipped);

    // The gateway's istio-proxy container fills the variable from the Secret's key.
    let ns = plugin["metadata"]["namespace"].as_str().unwrap();
    assert_eq!(secret["metadata"]["namespace"], ns);
    assert_eq!(patch["metadata"]["namespace"], ns);
    let containers = patch["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let proxy = containers
        .iter()
        .find(|c| c["name"] == "istio-proxy")
        .expect("istio-proxy");
    let env = proxy["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == variable)
        .expect("the variable");
    let key_ref = &env["valueFrom"]["secretKeyRef"];
    assert_eq!(key_ref["name"], secret["metadata"]["name"]);
    let key = key_ref["key"].as_str().unwrap();
    let placeholder = secret["stringData"][key]
        .as_str()
        .expect("the Secret holds the referenced key");

    // With a real key the filter accepts the configuration; with the placeholder it refuses it.
    let bytes = config.to_string();
    let real = [(variable, "hG7Jx3TqkWm0Yc9fV2rNs5aLd8ZpE1uB4oQiR6tXyKw")];
    assert!(parse_with_environment(bytes.as_bytes(), &real[..]).is_ok());
    let refused = parse_with_environment(bytes.as_bytes(), &[(variable, placeholder)][..]).unwrap_err();
    assert_eq!(
        refused.path, "signing.keys_env",
        "an unedited Secret must fail loudly"
    );
}

/// The shadow variant's copies go to the cluster Istio makes for its Service: `outbound|<port>||<name>.<namespace>.svc.cluster.local`,
/// with the authority of the same host and port; the Service selects the SeldonDeployment's third predictor.
#[test]
fn the_shadow_variant_sends_its_copies_to_its_service_and_the_service_selects_the_third_predictor() {
    let docs = variant_documents("shadow");
    let of_kind = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} in variants/shadow"))
    };
    let plugin = of_kind("WasmPlugin");
    let service = of_kind("Service");
    let seldon = of_kind("SeldonDeployment");
    let shadow = &plugin["spec"]["pluginConfig"]["experiments"][0]["shadow"];
    let host = format!(
        "{}.{}.svc.cluster.local",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap()
    );
    let port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    assert_eq!(shadow["cluster"], format!("outbound|{port}||{host}"));
    assert_eq!(shadow["authority"], format!("{host}:{port}"));
    let predictors = seldon["spec"]["predictors"].as_array().unwrap();
    let third = predictors
        .iter()
        .find(|p| p["name"] == shadow["name"])
        .expect("the shadow is a predictor of the SeldonDeployment");
    assert_eq!(third["traffic"], 0, "no Seldon traffic to the shadow");
    assert_eq!(service["spec"]["selector"]["version"], third["labels"]["version"]);
    assert_eq!(
        service["spec"]["selector"]["seldon-deployment-id"],
        seldon["metadata"]["name"]
    );
    // The plugin configuration is the shipped one plus the shadow block.
    let mut without = plugin["spec"]["pluginConfig"].clone();
    without["experiments"][0]
        .as_object_mut()
        .unwrap()
        .remove("shadow");
    assert_eq!(without, predictor_router_e2e::scenario::seed_plugin_config());
}

/// The KServe overlays (Open Inference Protocol, and KServe v1 as a patch of it): the VirtualService
/// routes exactly the experiment's predictors, each to an InferenceService's predictor Service with the
/// rewrite to that model's path, and the shadow's cluster, authority and path name the third
/// InferenceService the same way.
#[test]
fn the_kserve_overlays_route_each_predictor_and_the_shadow_to_its_inference_service() {
    let services: BTreeSet<String> = of_kind(&variant_documents("kserve"), "InferenceService")
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(services.len(), 3, "{services:?}");
    for (overlay, model_path, compare) in [
        ("kserve", "/v2/models/{}/", "oip"),
        ("kserve-v1", "/v1/models/{}", "kserve_v1"),
    ] {
        let docs = variant_documents(overlay);
        let path_of = |service: &str| model_path.replace("{}", service);
        let [plugin] = of_kind(&docs, "WasmPlugin")[..] else {
            panic!("{overlay}: one WasmPlugin")
        };
        let config = &plugin["spec"]["pluginConfig"];
        let parsed = parse(config.to_string().as_bytes()).expect("the overlay's configuration is valid");
        let experiment = &parsed.experiments()[0];
        let [vs] = of_kind(&docs, "VirtualService")[..] else {
            panic!("{overlay}: one VirtualService")
        };
        let mut routed = BTreeSet::new();
        for route in vs["spec"]["http"].as_array().unwrap() {
            let host = route["route"][0]["destination"]["host"].as_str().unwrap();
            let service = host
                .strip_suffix("-predictor.default.svc.cluster.local")
                .expect(host);
            assert!(
                services.contains(service),
                "{overlay}: {host} is no InferenceService's predictor"
            );
            assert_eq!(route["rewrite"]["uri"], path_of(service), "{overlay}: {host}");
            assert_eq!(
                route["match"][0]["uri"]["prefix"],
                experiment.path_prefix.as_str()
            );
            if let Some(p) = route["match"][0]["headers"]["x-predictor"]["exact"].as_str() {
                assert_eq!(service, format!("fraud-detection-{p}"));
                routed.insert(p.to_string());
            }
        }
        let predictors: BTreeSet<String> = experiment.predictors.iter().map(|p| p.name.clone()).collect();
        assert_eq!(routed, predictors, "{overlay}");
        let shadow = &config["experiments"][0]["shadow"];
        let service = format!("fraud-detection-{}", shadow["name"].as_str().unwrap());
        assert!(services.contains(&service));
        assert_eq!(
            shadow["cluster"],
            format!("outbound|80||{service}-predictor.default.svc.cluster.local")
        );
        assert_eq!(
            shadow["authority"],
            format!("{service}-predictor.default.svc.cluster.local")
        );
        assert_eq!(shadow["path_prefix"], path_of(&service), "{overlay}");
        assert_eq!(shadow["compare"], compare, "{overlay}");
    }
}

/// The Gateway API overlay's metrics: its Gateway carries the stats annotations for the pods Istio
/// deploys, naming the stats-tags ConfigMap, and its PodMonitor scrapes that Gateway's pods in its
/// namespace with exactly the relabelling of the monitoring overlay's.
#[test]
fn the_gateway_api_overlay_keeps_labels_and_scrapes_its_gateways_metrics_as_the_ingress_gateways() {
    let docs = variant_documents("gateway-api");
    let [gateway] = of_kind(&docs, "Gateway")[..] else {
        panic!("one Gateway")
    };
    let annotations = &gateway["spec"]["infrastructure"]["annotations"];
    let config_map = manifest_of_kind("ConfigMap");
    assert_eq!(
        annotations["sidecar.istio.io/bootstrapOverride"],
        config_map["metadata"]["name"]
    );
    assert!(annotations["proxy.istio.io/config"]
        .as_str()
        .is_some_and(|c| c.contains("wasmcustom.predictor_router")));
    let [pod_monitor] = of_kind(&docs, "PodMonitor")[..] else {
        panic!("one PodMonitor")
    };
    assert_eq!(
        pod_monitor["spec"]["selector"]["matchLabels"]["gateway.networking.k8s.io/gateway-name"],
        gateway["metadata"]["name"]
    );
    assert_eq!(
        pod_monitor["spec"]["namespaceSelector"]["matchNames"],
        json!([gateway["metadata"]["namespace"]])
    );
    let shipped = predictor_router_e2e::monitoring::pod_monitor();
    assert_eq!(
        pod_monitor["spec"]["podMetricsEndpoints"], shipped["spec"]["podMetricsEndpoints"],
        "the same scrape and relabelling as envoyfilter/overlays/monitoring/podmonitor.yaml"
    );
}
