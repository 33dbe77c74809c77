//! A real OCI registry on 127.0.0.1 (Debian's `docker-registry`, the CNCF distribution registry), and
//! what Istio's agent does with an image it pulls (istio/istio `pkg/wasm/imagefetcher.go`): take the
//! module out of a Docker or OCI image (`plugin.wasm` in the last tar+gzip layer) or out of a Wasm OCI
//! artifact (the raw `application/vnd.module.wasm.content.layer.v1+wasm` layer of a two-layer
//! manifest).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::envoy::free_port;

pub const WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A registry serving plain HTTP on a loopback port, its storage in a temporary directory.
pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write the registry configuration");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry; `make oci-tools` installs it)");
        let registry = Registry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// `127.0.0.1:<port>/<repository>`.
    pub fn repository(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo copy` from the registry (plain HTTP) into an OCI layout directory; `reference` is
/// `host/repo:tag` or `host/repo@sha256:...`. Returns the directory.
pub fn pull(reference: &str, into: &Path) -> PathBuf {
    std::fs::create_dir_all(into).expect("a directory to pull into");
    let layout = into.join("layout");
    let output = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:pulled", layout.display()))
        .output()
        .expect("skopeo (Debian package skopeo; `make oci-tools` installs it)");
    assert!(
        output.status.success(),
        "skopeo copy {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    layout
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn json_of(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read a layout file")).expect("JSON")
}

/// The manifest of the one image in an OCI layout, with its digest.
pub fn manifest(layout: &Path) -> (String, Value) {
    let index = json_of(&layout.join("index.json"));
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .expect("a manifest in index.json")
        .to_string();
    let manifest = json_of(&blob(layout, &digest));
    (digest, manifest)
}

/// The module, taken out of the pulled image by the rules of Istio's image fetcher.
pub fn extract_module(layout: &Path) -> Result<Vec<u8>, String> {
    let (_, manifest) = manifest(layout);
    let layers = manifest["layers"].as_array().ok_or("no layers")?;
    let last = layers
        .last()
        .ok_or("number of layers must be greater than zero")?;
    let media_type = last["mediaType"].as_str().unwrap_or("");
    let docker = manifest["mediaType"] == DOCKER_MANIFEST;
    if (docker && media_type == DOCKER_LAYER) || (!docker && media_type == OCI_LAYER) {
        return plugin_wasm_in(&blob(layout, last["digest"].as_str().unwrap_or("")));
    }
    if layers.len() != 2 {
        return Err(format!("number of layers must be 2 but got {}", layers.len()));
    }
    let wasm = layers
        .iter()
        .find(|l| l["mediaType"] == WASM_LAYER)
        .ok_or(format!("could not find the layer of type {WASM_LAYER}"))?;
    std::fs::read(blob(layout, wasm["digest"].as_str().unwrap_or(""))).map_err(|e| e.to_string())
}

/// `plugin.wasm` (by base name, anywhere in the archive) out of a tar+gzip layer, with the system tar.
fn plugin_wasm_in(layer: &Path) -> Result<Vec<u8>, String> {
    let list = Command::new("tar")
        .arg("-tzf")
        .arg(layer)
        .output()
        .map_err(|e| e.to_string())?;
    let names = String::from_utf8_lossy(&list.stdout).to_string();
    let name = names
        .lines()
        .find(|n| Path::new(n).file_name().is_some_and(|f| f == "plugin.wasm"))
        .ok_or("plugin.wasm not found in the archive")?;
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(layer)
        .arg(name)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(out.stdout)
}
