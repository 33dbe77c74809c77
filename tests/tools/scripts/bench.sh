#!/usr/bin/env bash
# bench.sh: builds the wasm floors (a no-op filter, a set-header filter) and the module with every
# export kept, then runs the bench (tests/tools/src/bin/bench.rs), which writes BENCHMARKS.md.
source "$(dirname "$0")/common.sh"
BENCH_DIR=dist/bench
here=$(dirname "$0")
cargo build --release --target "$WASM_TARGET" -p floor-noop -p floor-set-header
"$here/finish-wasm.sh" "target/$WASM_TARGET/release/floor_noop.wasm" "$BENCH_DIR/floor_noop.wasm"
"$here/finish-wasm.sh" "target/$WASM_TARGET/release/floor_set_header.wasm" "$BENCH_DIR/floor_set_header.wasm"
# shellcheck disable=SC2086
wasm-opt $WASM_OPT_FLAGS "target/$WASM_TARGET/release/predictor_router.wasm" -o "$BENCH_DIR/predictor_router_all_exports.wasm"
cargo run --release --locked -p predictor-router-tools --bin bench -- --out BENCHMARKS.md
