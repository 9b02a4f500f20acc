# filterlens: `make serve` runs the main job, `make test` runs every test.
# Cargo builds go outside the clone so repeated runs on one machine (CI included) reuse them.
CARGO_TARGET_DIR ?= $(HOME)/.cache/filterlens/target
export CARGO_TARGET_DIR
VENV ?= $(HOME)/.cache/filterlens/venv
PYTHON_PACKAGES = numpy==2.4.6 safetensors==0.8.0

.PHONY: serve test weights bench bench-torch wasm-build

# Until the page exists, the main job is the CLI: the seed's six-filter demo as a PNG.
serve: weights
	cargo run --release --bin filterlens -- grid --layer conv3_2 --filters 0-5 --out grid.png

test: weights
	cargo test --release
	$(MAKE) wasm-build

wasm-build:
	cargo build --release --lib --target wasm32-unknown-unknown

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet $(PYTHON_PACKAGES)

weights: $(VENV)/bin/python
	$(VENV)/bin/python weights/prepare.py

# Results go to bench-*.json|md (ignored); docs/BENCHMARKS.md records them with the machine.
bench: weights
	cargo run --release --bin filterlens -- bench --json bench-native.json --markdown bench-native.md

# The PyTorch CPU baseline: a 5 GB venv, so not part of `bench` (see benches/README.md).
TORCH_VENV ?= $(HOME)/.cache/filterlens/torch-venv
$(TORCH_VENV)/bin/python:
	python3 -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.15.0 numpy==2.4.6 safetensors==0.8.0

bench-torch: weights $(TORCH_VENV)/bin/python
	$(TORCH_VENV)/bin/python benches/torch_step.py --json bench-torch.json --markdown bench-torch.md
