#!/usr/bin/env bash
# image.sh: the OCI image Istio pulls (`FROM scratch`, plugin.wasm at the root, timestamps fixed so the
# same module gives the same digest). IMAGE=registry/name:tag; PUSH=1 pushes it and prints the digest
# (dist/image.digest); TLS_VERIFY=false for a plain-HTTP registry. docker or podman when a daemon is
# there, else buildah (vfs storage, chroot isolation: as root without a daemon; BUILDAH_ROOT=DIR keeps
# its storage under DIR).
source "$(dirname "$0")/common.sh"
IMAGE=${IMAGE:-predictor-router:dev} PUSH=${PUSH:-0} TLS_VERIFY=${TLS_VERIFY:-true}
DIST_WASM=dist/predictor_router.wasm
buildah_() {
  if [ -n "${BUILDAH_ROOT:-}" ]; then
    buildah --storage-driver vfs --root "$BUILDAH_ROOT/storage" --runroot "$BUILDAH_ROOT/run" "$@"
  else buildah --storage-driver vfs "$@"; fi
}
engine=""
for e in docker podman; do
  if command -v $e >/dev/null && $e info >/dev/null 2>&1; then engine=$e; break; fi
done
if [ -z "$engine" ]; then "$(dirname "$0")/install.sh" buildah; engine=buildah; fi
echo "building $IMAGE with $engine"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp envoyfilter/oci/Dockerfile "$ctx/" && cp "$DIST_WASM" "$ctx/plugin.wasm" && touch -d @0 "$ctx/plugin.wasm"
case $engine in
  buildah) buildah_ bud --isolation chroot --timestamp 0 --identity-label=false -q -t "$IMAGE" "$ctx" >/dev/null ;;
  podman) podman build --timestamp 0 -q -t "$IMAGE" "$ctx" >/dev/null ;;
  docker) SOURCE_DATE_EPOCH=0 docker build --build-arg SOURCE_DATE_EPOCH=0 -q -t "$IMAGE" "$ctx" >/dev/null ;;
esac
echo "built $IMAGE (plugin.wasm: $(sha256sum "$DIST_WASM" | cut -c1-64))"
if [ "$PUSH" = 1 ]; then
  case $engine in
    buildah) buildah_ push -q --tls-verify="$TLS_VERIFY" --digestfile dist/image.digest "$IMAGE" "docker://$IMAGE" ;;
    podman) podman push -q --tls-verify="$TLS_VERIFY" --digestfile dist/image.digest "$IMAGE" ;;
    docker) docker push -q "$IMAGE" && docker inspect --format '{{index .RepoDigests 0}}' "$IMAGE" | sed 's/.*@//' > dist/image.digest ;;
  esac
  echo "pushed $IMAGE@$(cat dist/image.digest)"
fi
