//! The module shipped the way Istio pulls it: `make image` (buildah here: no container daemon) and
//! `make image-artifact` push to a real registry (`docker-registry` on 127.0.0.1), `skopeo` pulls by
//! tag and by digest, the module is taken out as Istio's agent does, and a real Envoy runs it.
//!
//! The tools come from Debian (`make oci-tools`, a dependency of `make test`): a missing tool fails
//! this test with the command that installs it, it is never skipped.

use std::path::Path;
use std::process::Command;

use predictor_router_e2e::envoy::{wasm_module, Envoy, EnvoyOptions};
use predictor_router_e2e::http::{HttpClient, Request};
use predictor_router_e2e::oci::{extract_module, manifest, pull, Registry, WASM_LAYER};
use predictor_router_e2e::scenario::{predict_path, predictor_names, repo_root, seed_plugin_config};
use predictor_router_e2e::upstream::PredictorServer;
use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `make -o build <target> IMAGE=... PUSH=1 TLS_VERIFY=false [more]`: the module is already built
/// (`make test` builds it first; `-o build` keeps make from running cargo inside cargo test).
/// Returns the digest of the `pushed <image>@<digest>` line.
fn make_push(target: &str, image: &str, more: &[String]) -> String {
    let output = Command::new("make")
        .current_dir(repo_root())
        .args(["-s", "-o", "build", target])
        .arg(format!("IMAGE={image}"))
        .args(["PUSH=1", "TLS_VERIFY=false"])
        .args(more)
        .output()
        .expect("make");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "make {target} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pushed = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("pushed {image}@")))
        .unwrap_or_else(|| panic!("no `pushed` line:\n{stdout}"));
    assert!(pushed.starts_with("sha256:") && pushed.len() == 71, "{pushed}");
    pushed.to_string()
}

fn buildah_root(dir: &Path, name: &str) -> String {
    format!("BUILDAH_ROOT={}", dir.join(name).display())
}

/// Runs the extracted module in Envoy with the shipped configuration: one request is routed.
fn serves_one_request(module: &Path) {
    let config = seed_plugin_config();
    let upstreams: Vec<PredictorServer> = predictor_names(&config)
        .iter()
        .map(|n| PredictorServer::start(n))
        .collect();
    let mut options = EnvoyOptions::new(
        config,
        upstreams.iter().map(|u| (u.name.clone(), u.port)).collect(),
    );
    options.module = Some(module.to_path_buf());
    let envoy = Envoy::start(options).unwrap_or_else(|f| panic!("Envoy did not start:\n{}", f.log));
    let response = HttpClient::new(envoy.listener_port)
        .send(&Request::predict(predict_path()).header("x-user-id", "alice"))
        .expect("a response");
    assert_eq!(response.status, 200);
    let routed = response
        .header("x-predictor")
        .expect("the filter's response header");
    assert_eq!(
        response.served_by(),
        Some(routed),
        "routed to the predictor it names"
    );
    envoy.assert_no_wasm_errors();
}

#[test]
fn the_image_and_the_artifact_round_trip_through_a_real_registry_and_run_in_envoy() {
    let shipped = std::fs::read(wasm_module()).unwrap();
    let shipped_sha = sha256_hex(&shipped);
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let repo = registry.repository("ml-platform/predictor-router");

    // 1. The image, built twice in separate buildah storages: the same digest (fixed timestamps).
    let image = format!("{repo}:0.1.0");
    let digest = make_push("image", &image, &[buildah_root(work.path(), "first")]);
    let again = make_push(
        "image",
        &format!("{repo}:rebuilt"),
        &[buildah_root(work.path(), "second")],
    );
    assert_eq!(
        digest, again,
        "a rebuild of the same module must give the same image digest"
    );

    // 2. The Wasm OCI artifact, laid out twice: the same digest too.
    let artifact = format!("{repo}:0.1.0-wasm");
    let artifact_digest = make_push("image-artifact", &artifact, &[]);
    assert_eq!(
        make_push("image-artifact", &format!("{repo}:again-wasm"), &[]),
        artifact_digest
    );
    assert_ne!(artifact_digest, digest);

    // 3. Pulled by tag and by digest, as the agent does with `url: oci://...` (and `sha256:` pinned).
    for (reference, expected_digest, kind) in [
        (image.clone(), &digest, "image"),
        (format!("{repo}@{digest}"), &digest, "image"),
        (artifact.clone(), &artifact_digest, "artifact"),
        (format!("{repo}@{artifact_digest}"), &artifact_digest, "artifact"),
    ] {
        let into = work
            .path()
            .join(format!("pull-{}", sha256_hex(reference.as_bytes())));
        let layout = pull(&reference, &into);
        let (pulled_digest, manifest) = manifest(&layout);
        assert_eq!(&pulled_digest, expected_digest, "{reference}");
        let layers = manifest["layers"].as_array().unwrap();
        match kind {
            "image" => assert_eq!(layers.len(), 1, "one layer holding plugin.wasm: {manifest}"),
            _ => {
                assert_eq!(
                    layers.len(),
                    2,
                    "Istio's oci variant needs two layers: {manifest}"
                );
                assert_eq!(layers[0]["mediaType"], WASM_LAYER);
            }
        }
        let module = extract_module(&layout).unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(
            sha256_hex(&module),
            shipped_sha,
            "{reference}: not dist/predictor_router.wasm"
        );
        let file = into.join("plugin.wasm");
        std::fs::write(&file, &module).unwrap();
        serves_one_request(&file);
        println!("{reference}: manifest {pulled_digest}, module sha256 {shipped_sha}, one request routed");
    }
}

#[test]
fn the_agents_extraction_refuses_what_istio_refuses() {
    // A layout with one artifact layer only: Istio's oci variant needs two.
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path();
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let wasm = b"\0asm\x01\0\0\0";
    let wasm_digest = sha256_hex(wasm);
    std::fs::write(layout.join("blobs/sha256").join(&wasm_digest), wasm).unwrap();
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.module.wasm.config.v1+json", "digest": format!("sha256:{wasm_digest}"), "size": 8},
        "layers": [{"mediaType": WASM_LAYER, "digest": format!("sha256:{wasm_digest}"), "size": 8}]});
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = sha256_hex(&bytes);
    std::fs::write(layout.join("blobs/sha256").join(&manifest_digest), &bytes).unwrap();
    std::fs::write(
        layout.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{"digest": format!("sha256:{manifest_digest}")}]}).to_string(),
    )
    .unwrap();
    assert_eq!(
        extract_module(layout).unwrap_err(),
        "number of layers must be 2 but got 1"
    );
}
