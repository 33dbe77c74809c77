# Shared by the scripts: the repository root, the wasm target and binaryen's flags.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
WASM_TARGET=wasm32-unknown-unknown
# Rust >= 1.87 emits these wasm features by default; binaryen 108 (Debian 12) must be told to accept them.
WASM_FEATURES="--enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types"
WASM_OPT_FLAGS="-Oz --strip-debug --strip-producers $WASM_FEATURES"

# apt_install PACKAGE: a Debian package (as root), refreshing the index if the first try fails.
apt_install() {
  echo "installing Debian's $1"
  apt-get install -y -q --no-install-recommends "$1" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$1" >/dev/null; }
}

# The fuzz targets (tests/fuzz).
FUZZ_TARGETS="config_parse request_decision module_requests prometheus_answer shadow_answers new_config_blocks module_callouts"

# cargo fuzz on nightly or, without it, on stable with RUSTC_BOOTSTRAP (asked only by the fuzz scripts).
fuzz_command() {
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then echo "cargo +nightly fuzz"; else echo "env RUSTC_BOOTSTRAP=1 cargo fuzz"; fi
}
