#!/usr/bin/env bash
# finish-wasm.sh RAW OUT [EXPORTS]: strips the exports the filter does not use (the list:
# src/host/kept-exports.json unless given) and optimises for size. Envoy enters V8 for every callback a
# module exports, even one that does nothing (the SDK exports them all): wasm-metadce removes the rest,
# and the code only they reach. Without binaryen: copied as is.
source "$(dirname "$0")/common.sh"
raw=$1 out=$2 exports=${3:-src/host/kept-exports.json}
mkdir -p "$(dirname "$out")"
if command -v wasm-metadce >/dev/null && command -v wasm-opt >/dev/null; then
  # shellcheck disable=SC2086
  wasm-metadce $WASM_FEATURES --graph-file "$exports" "$raw" -o "$out.dce" >/dev/null
  # shellcheck disable=SC2086
  wasm-opt $WASM_OPT_FLAGS "$out.dce" -o "$out"
  rm -f "$out.dce"
else
  echo "note: binaryen (wasm-metadce, wasm-opt) not found: $out is neither stripped nor optimised"
  cp "$raw" "$out"
fi
