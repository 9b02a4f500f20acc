# filterlens: `make serve` runs the main job, `make test` runs every test.
# Cargo builds go outside the clone so repeated runs on one machine (CI included) reuse them.
CARGO_TARGET_DIR ?= $(HOME)/.cache/filterlens/target
export CARGO_TARGET_DIR
VENV ?= $(HOME)/.cache/filterlens/venv
# The one nightly toolchain, pinned: the page's threaded build (web.mk) and the fuzzer (fuzz/) need it.
NIGHTLY = nightly-2026-05-19
# onnx: the built-in networks written as ONNX files (weights/export_onnx.py) and the operator fixtures;
# kubernetes-validate: the Kubernetes API's schemas, for the atlas's manifests (tests/kubernetes/check.py).
PYTHON_PACKAGES = numpy==2.4.6 safetensors==0.8.0 onnx==1.23.2 kubernetes-validate==1.37.0

.PHONY: serve test test-slurm test-kubernetes lint weights onnx-fixtures onnx-torch bench bench-torch golden lucent-fixture tensorflow-fixtures fuzz mutants

include web.mk

# The main job: the page, built into dist/ and served on http://127.0.0.1:8000.
serve: serve-web

# Formatting and lints, native tests (engine, CLI), the atlas on a real Slurm and its Kubernetes manifests, then
# the page: its JS type-checked, then in a real browser (which builds the wasm package and dist/).
test: weights lint
	cargo test --release
	$(MAKE) test-slurm test-kubernetes typecheck e2e

# The atlas's job array on a single-node Slurm the test starts and stops (tests/slurm/atlas.sh; root, slurm-wlm
# and munge, which .ci/run installs).
test-slurm:
	cargo build --release --bin filterlens
	FILTERLENS=$(CARGO_TARGET_DIR)/release/filterlens tests/slurm/atlas.sh

# The page's JavaScript and CSS and the browser tests, formatted as Prettier (pinned in package.json) does them.
PRETTIER_FILES = www/*.js www/*.css tests/e2e/*.mjs tests/e2e/*.ts

# rustfmt and Prettier, and clippy with warnings as errors for the native build (CLI, tests) and the wasm build (the
# page's).
lint: node-deps
	cargo fmt --check
	node_modules/.bin/prettier --check $(PRETTIER_FILES)
	cargo clippy --release --all-targets -- -D warnings
	cargo clippy --release --lib --target wasm32-unknown-unknown -- -D warnings

# The venv, with the packages as pinned here (reinstalled when they change).
VENV_PACKAGES = $(VENV)/packages-$(shell echo '$(PYTHON_PACKAGES)' | sha256sum | cut -c1-12)
$(VENV_PACKAGES):
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet $(PYTHON_PACKAGES)
	touch $@

# The atlas's Kubernetes manifests against the API's schema (no cluster runs here), and their arguments against the
# CLI.
test-kubernetes: $(VENV_PACKAGES)
	cargo build --release --bin filterlens
	$(VENV)/bin/python tests/kubernetes/check.py $(CARGO_TARGET_DIR)/release/filterlens

# The networks' weights (weights/prepare.py), and the built-in networks as ONNX files for the tests.
weights: $(VENV_PACKAGES)
	$(VENV)/bin/python weights/prepare.py
	$(VENV)/bin/python weights/export_onnx.py

# Regenerates tests/fixtures/onnx/: small graphs per operator with ONNX's reference values (benches/onnx_ops.py).
onnx-fixtures: $(VENV_PACKAGES)
	$(VENV)/bin/python benches/onnx_ops.py

# Results go to bench-*.json|md (ignored); docs/BENCHMARKS.md records them with the machine.
bench: weights
	cargo run --release --bin filterlens -- bench --json bench-native.json --markdown bench-native.md

# The PyTorch CPU baseline: a 5 GB venv, so not part of `bench` (see benches/README.md).
TORCH_VENV ?= $(HOME)/.cache/filterlens/torch-venv
$(TORCH_VENV)/bin/python:
	python3 -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.15.0 numpy==2.4.6 safetensors==0.8.0 scikit-image==0.26.0 \
		onnx==1.23.2
	$(TORCH_VENV)/bin/python -m pip install --quiet --no-deps efficientnet-lite-pytorch==0.1.0

# The built-in networks exported by PyTorch's torch.onnx.export from the independent definitions
# (benches/torch_onnx.py), then opened as models of one's own and checked against the built-in networks.
onnx-torch: weights $(TORCH_VENV)/bin/python
	$(TORCH_VENV)/bin/python -m pip install --quiet onnx==1.23.2
	$(TORCH_VENV)/bin/python benches/torch_onnx.py
	cargo test --release --test engine onnx::torch_exports -- --ignored --nocapture

bench-torch: weights $(TORCH_VENV)/bin/python
	$(TORCH_VENV)/bin/python benches/torch_step.py --json bench-torch.json --markdown bench-torch.md

# Regenerates tests/fixtures/{vgg16,alexnet,efficientnet-lite0}_golden.json with the independent PyTorch
# implementations (see benches/golden.py): all are written, then it fails if any changed beyond float tolerance.
# Then EfficientNet-Lite0's top-5 on scikit-image's pictures, with each candidate preprocessing (docs/QUALITY.md).
golden: weights $(TORCH_VENV)/bin/python
	status=0; for model in vgg16 alexnet efficientnet-lite0; do \
	  $(TORCH_VENV)/bin/python benches/golden.py --model $$model || status=1; done; exit $$status
	$(TORCH_VENV)/bin/python benches/efficientnet_classes.py

# Regenerates tests/fixtures/lucent_fft.json: lucent's own FFT images for fixed spectra (src/param.rs compares).
lucent-fixture: $(TORCH_VENV)/bin/python
	$(TORCH_VENV)/bin/python -m pip install --quiet --no-deps torch-lucent==0.1.8
	$(TORCH_VENV)/bin/python benches/lucent_fixture.py

# Regenerates tests/fixtures/maco.json with xplique itself (its resized ImageNet spectrum and its MACO pictures:
# src/param.rs and tests/engine/maco.rs compare) and tests/fixtures/transforms.json with TensorFlow's image ops (the
# transforms' resampling and MACO's crops: src/transform.rs compares). A TensorFlow venv (~1 GB) with what
# xplique's imports need; xplique 2.0.2 declares TensorFlow <= 2.20, and 2.21 (CPU) made the committed fixtures.
XPLIQUE_VENV ?= $(HOME)/.cache/filterlens/xplique-venv
XPLIQUE_PACKAGES = tensorflow-cpu==2.21.0 tensorflow-probability==0.25.0 tf_keras==2.21.0 numpy==2.4.6 Deprecated==1.3.1 \
	einops==0.8.2 matplotlib==3.11.2 scipy==1.17.1 opencv-python-headless==5.0.0.93 scikit-image==0.26.0 scikit-learn==1.9.1
$(XPLIQUE_VENV)/bin/python:
	python3 -m venv $(XPLIQUE_VENV)
	$(XPLIQUE_VENV)/bin/python -m pip install --quiet $(XPLIQUE_PACKAGES)
	$(XPLIQUE_VENV)/bin/python -m pip install --quiet --no-deps xplique==2.0.2

tensorflow-fixtures: weights $(XPLIQUE_VENV)/bin/python
	$(XPLIQUE_VENV)/bin/python benches/maco_fixture.py
	$(XPLIQUE_VENV)/bin/python benches/transform_fixture.py

# The weights loader and the ONNX reader under libFuzzer for FUZZ_SECONDS each (NIGHTLY; cargo-fuzz), the corpora
# seeded with the real files and damaged copies; its own build folder (another toolchain and flags). make test
# keeps a stable property test of each.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= weights onnx
fuzz: weights
	cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked
	python3 fuzz/seed.py
	for target in $(FUZZ_TARGETS); do \
	  (cd fuzz && CARGO_TARGET_DIR=$(HOME)/.cache/filterlens/fuzz-target cargo +$(NIGHTLY) fuzz run $$target corpus/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=4096 2>&1) | tee fuzz-$$target.log \
	    | grep -E "^(#[0-9]+.*(DONE|pulse|REDUCE|NEW)|Done|==|SUMMARY)" | tail -20; done

# Mutation testing of the algorithm's core (cargo-mutants): every mutant of MUTANTS_FILES must fail a native test.
# A rebuild per mutant and its tests, so not part of `make test`; in place, reusing the build folder (cargo-mutants
# restores each file). Both the build and the test phase use the release profile and MUTANTS_TESTS's targets, so a
# mutant rebuilds only what its tests need (~2–4 s on two cores). Results in mutants.out/;
# docs/MUTANTS.md records the missed ones and why.
MUTANTS_FILES ?= src/optvis/objective.rs src/optvis/ascent.rs src/optvis/param.rs src/optvis/transform.rs
MUTANTS_ARGS ?=
# `MUTANTS_TESTS=--lib` is the quick first pass (unit tests only, ~2.5 s a mutant); what it misses, the full suite
# (~40 s a mutant) reruns.
MUTANTS_TESTS ?= --test engine --lib
mutants: weights
	cargo mutants --version >/dev/null 2>&1 || cargo install cargo-mutants --version 25.3.1 --locked
	cargo mutants --in-place --baseline skip $(foreach f,$(MUTANTS_FILES),--file $(f)) $(MUTANTS_ARGS) \
		--profile release $(foreach a,$(MUTANTS_TESTS),--cargo-arg=$(a))
