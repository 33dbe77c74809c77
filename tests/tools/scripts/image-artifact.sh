#!/usr/bin/env bash
# image-artifact.sh: the module as a Wasm OCI artifact (the module itself as the layer, media type
# application/vnd.module.wasm.content.layer.v1+wasm), laid out by envoyfilter/oci/wasm_artifact.py in
# dist/oci-artifact; PUSH=1 pushes it to IMAGE with skopeo and prints the digest (dist/artifact.digest).
source "$(dirname "$0")/common.sh"
IMAGE=${IMAGE:-predictor-router:dev} PUSH=${PUSH:-0} TLS_VERIFY=${TLS_VERIFY:-true}
command -v skopeo >/dev/null || apt_install skopeo
rm -rf dist/oci-artifact
tag=$(echo "$IMAGE" | sed -n 's|.*/||; s|.*:||p'); tag=${tag:-latest}
digest=$(python3 envoyfilter/oci/wasm_artifact.py dist/predictor_router.wasm dist/oci-artifact "$tag")
echo "laid out dist/oci-artifact:$tag ($digest)"
if [ "$PUSH" = 1 ]; then
  skopeo copy -q --dest-tls-verify="$TLS_VERIFY" --digestfile dist/artifact.digest "oci:dist/oci-artifact:$tag" "docker://$IMAGE"
  echo "pushed $IMAGE@$(cat dist/artifact.digest)"
fi
