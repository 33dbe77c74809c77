#!/usr/bin/env python3
"""Lay out predictor-router's module as a Wasm OCI artifact (the *oci* variant of the Wasm image
spec that Istio's agent reads), in an OCI image-layout directory that `skopeo copy` pushes:

    python3 envoyfilter/oci/wasm_artifact.py dist/predictor_router.wasm dist/oci-artifact 0.1.0
    skopeo copy oci:dist/oci-artifact:0.1.0 docker://registry.example.com/ml-platform/predictor-router:0.1.0-artifact

The manifest has the two layers Istio's image fetcher requires of this variant (pkg/wasm,
extractOCIArtifactImage): the module itself, uncompressed, as
`application/vnd.module.wasm.content.layer.v1+wasm`, and the runtime metadata as
`application/vnd.module.wasm.config.v1+json` (also the manifest's config). No timestamps: the same
module gives the same manifest digest, so a WasmPlugin can pin `sha256`.

Why a script and skopeo rather than `oras push`: oras is not in Debian's archive, skopeo is; the
script only writes files (the layout is a published, simple format), and skopeo does everything that
talks to a registry (TLS, credentials, retries) as it does for any image.
"""
import hashlib
import json
import os
import sys

WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# The runtime metadata of the Wasm image spec: an Envoy proxy-wasm module, the ABI version it exports
# (proxy_abi_version_0_2_1) and its root id. Istio reads only the layers; other tools show this.
RUNTIME_CONFIG = {"type": "envoy_proxy", "abiVersions": ["proxy_abi_version_0_2_1"], "rootIds": ["predictor_router"]}


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_blob(layout: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: wasm_artifact.py MODULE.wasm LAYOUT_DIR TAG", file=sys.stderr)
        return 2
    module, layout, tag = sys.argv[1:]
    with open(module, "rb") as f:
        wasm = f.read()
    if not wasm.startswith(b"\0asm"):
        print(f"{module}: not a WebAssembly module", file=sys.stderr)
        return 2
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    config = {"mediaType": WASM_CONFIG, **write_blob(layout, canonical(RUNTIME_CONFIG))}
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [
            {"mediaType": WASM_LAYER, **write_blob(layout, wasm), "annotations": {"org.opencontainers.image.title": "plugin.wasm"}},
            config,
        ],
    }
    manifest_descriptor = {
        "mediaType": OCI_MANIFEST,
        **write_blob(layout, canonical(manifest)),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "manifests": [manifest_descriptor]}))
    print(manifest_descriptor["digest"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
