# predictor-router: `make demo` and `make test` are all a fresh machine needs; both install their tools.
# One line of purpose per entry point (`##`); the long recipes are in tests/tools/scripts/.
SHELL := /bin/bash
.DEFAULT_GOAL := build

WASM_TARGET := wasm32-unknown-unknown
DIST_WASM   := dist/predictor_router.wasm
SCRIPTS     := tests/tools/scripts
INSTALL     := $(SCRIPTS)/install.sh
ENVOY       := .venv/bin/envoy
export ENVOY_BIN ?= $(abspath $(ENVOY))
export PREDICTOR_ROUTER_WASM ?= $(abspath $(DIST_WASM))
export CARGO_MUTANTS_VERSION := 27.1.0

.PHONY: build test test-core test-module test-e2e control-plane test-control-plane demo demo-seldon \
        demo-models cli lint fmt bench soak mutants fuzz fuzz-corpus image image-artifact test-modules \
        clean tools wasm-target wasm-opt envoy seldon model-servers chromium wrk prometheus buildah oci-tools

## build: the optimised module at dist/predictor_router.wasm
build: wasm-target wasm-opt
	@echo "building the module (Rust → wasm32, release with LTO): $(DIST_WASM)"
	@cargo build --quiet --release --target $(WASM_TARGET) -p predictor-router
	@$(SCRIPTS)/finish-wasm.sh target/$(WASM_TARGET)/release/predictor_router.wasm $(DIST_WASM)
	@echo "built $(DIST_WASM): $$(stat -c %s $(DIST_WASM)) bytes"

## test: every test: the three tiers below, then the real control plane
test: build envoy seldon model-servers chromium test-modules wrk oci-tools prometheus control-plane cli
	cargo test --workspace --locked
	$(MAKE) --no-print-directory -o build -o envoy -o oci-tools -o control-plane -o cli test-control-plane

## test-core: tier 1, the pure core and the worker natively (tests/core; seconds)
test-core:
	cargo test --locked -p predictor-router -p predictor-router-core-tests

## test-module: tier 2, the compiled module in wasm-test-harness and the command line (tests/module)
test-module: build test-modules
	cargo test --locked -p wasm-test-harness -p predictor-router-cli -p predictor-router-module-tests

## test-e2e: tier 3, real Envoy, Seldon, model servers, Prometheus, Chromium, a registry (tests/e2e,
## tests/tools), then the real control plane
test-e2e: build envoy seldon model-servers chromium test-modules wrk oci-tools prometheus control-plane cli
	cargo test --locked -p predictor-router-e2e -p predictor-router-tools
	$(MAKE) --no-print-directory -o build -o envoy -o oci-tools -o control-plane -o cli test-control-plane

## control-plane: etcd, kube-apiserver, kubectl, istiod, pilot-agent from their Go modules (tests/istio)
CONTROL_PLANE_BIN  := .cache/control-plane/bin
CONTROL_PLANE_PKGS := ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl \
                      istio.io/istio/pilot/cmd/pilot-discovery istio.io/istio/pilot/cmd/pilot-agent
control-plane:
	@echo "building the control plane from its Go modules: etcd, kube-apiserver, kubectl, istiod, pilot-agent"
	cd tests/istio && GOBIN=$(abspath $(CONTROL_PLANE_BIN)) go install $(CONTROL_PLANE_PKGS)

## test-control-plane: every manifest judged by a real API server; the scenario served by istiod
test-control-plane: build envoy oci-tools control-plane cli
	cd tests/istio && gofmt -l . | (! grep .) && go vet ./...
	cd tests/istio && ENVOY_BIN=$(ENVOY_BIN) go test -count=1 -timeout 45m -v ./...

## demo: a real Envoy with the filter in front of two predictors on loopback, traffic, the observed split
demo: build envoy $(if $(filter 1,$(DEMO_PROMETHEUS)),prometheus)
	@echo "building the demo (the core and an HTTP client, no wasm runtime)"
	@cargo build --quiet --locked -p predictor-router-tools --no-default-features --bin demo
	@target/debug/demo

## demo-seldon: the fraud-detection A/B on real Seldon Core v1 predictors, a bandit learning from feedback
demo-seldon: build envoy seldon
	cargo run --locked -p predictor-router-tools --no-default-features --bin demo_seldon

## demo-models: the shadow compared over OIP (MLServer) and KServe v1, beside an offline recomputation
demo-models: build envoy seldon model-servers
	cargo run --locked -p predictor-router-tools --no-default-features --bin demo_models

## cli: the `predictor-router` command line at target/release/predictor-router
cli:
	cargo build --release --locked -p predictor-router-cli
	@echo "built target/release/predictor-router"

## lint: formatting, and clippy with warnings denied, natively and for wasm32
lint: wasm-target
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p predictor-router --target $(WASM_TARGET) --locked -- -D warnings

## fmt: format every crate
fmt:
	cargo fmt --all

## bench: Envoy CPU, throughput, start-up and memory against Envoy's own features; writes BENCHMARKS.md
bench: build envoy wrk
	$(SCRIPTS)/bench.sh

## soak: SOAK_SECONDS (600) of saturating load through Envoy; SOAK_MODE=all with every feature at once
soak: build envoy wrk prometheus
	SOAK_MODE=$(SOAK_MODE) cargo run --release --locked -p predictor-router-tools --bin soak

## mutants: cargo-mutants over src/router/ against tests/core (about 35 minutes; MUTANTS_ARGS="-- --re x")
mutants:
	@$(INSTALL) cargo-mutants
	python3 tests/mutants/mutants.py $(MUTANTS_ARGS)

## fuzz: every fuzz target for FUZZ_SECONDS (600) each, FUZZ_JOBS (2) at a time (about 42 minutes)
fuzz: build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) $(SCRIPTS)/fuzz.sh

## fuzz-corpus: merges what `make fuzz` found into the committed corpora, keeping inputs that add coverage
fuzz-corpus:
	$(SCRIPTS)/fuzz-corpus.sh

## image: the OCI image Istio pulls (IMAGE=registry/name:tag, PUSH=1, TLS_VERIFY=false)
image: build
	IMAGE="$(IMAGE)" PUSH="$(PUSH)" TLS_VERIFY="$(TLS_VERIFY)" BUILDAH_ROOT="$(BUILDAH_ROOT)" $(SCRIPTS)/image.sh

## image-artifact: the same module as a Wasm OCI artifact in dist/oci-artifact (PUSH=1 with skopeo)
image-artifact: build
	IMAGE="$(IMAGE)" PUSH="$(PUSH)" TLS_VERIFY="$(TLS_VERIFY)" $(SCRIPTS)/image-artifact.sh

## clean: build outputs and the virtualenvs
clean:
	cargo clean
	rm -rf dist .venv .venv-mlserver .venv-kserve

# A test-only module (never shipped) that traps on demand, to measure Envoy's failure policies.
test-modules: wasm-target
	cargo build --release --target $(WASM_TARGET) -p trap-on-demand
	@$(SCRIPTS)/finish-wasm.sh target/$(WASM_TARGET)/release/trap_on_demand.wasm dist/test/trap_on_demand.wasm

# What the targets above install when missing (tests/tools/scripts/install.sh says what each is).
tools: wasm-target wasm-opt envoy
wasm-target wasm-opt envoy seldon model-servers chromium wrk prometheus buildah oci-tools:
	@$(INSTALL) $@
