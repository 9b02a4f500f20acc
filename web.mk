# The web page: wasm package, static site, local server, real-browser tests. Included by the Makefile, which
# provides CARGO_TARGET_DIR (exported) and the `weights` target.
#
#   make pkg        wasm32 release build -> wasm-bindgen (--target web) -> wasm-opt: pkg/
#   make dist       one self-contained static folder, dist/: www/, pkg/, weights (f16 + manifest); relative URLs
#   make serve-web  dist/ on http://127.0.0.1:8000
#   make typecheck  tsc --noEmit over the page, the worker (against pkg/'s generated types) and the browser tests
#   make e2e        the browser tests (tests/e2e/, node --test + playwright-core + Chromium) against dist/
#   make soak       the long soak test, memory curves to docs/soak.svg
#   make bench-web  first painted step and ms/step in headless Chromium (tests/e2e/artifacts/bench-web.json)

CARGO_TARGET_DIR ?= $(HOME)/.cache/filterlens/target
WASM_TARGET = wasm32-unknown-unknown
# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION = 0.2.130
WASM_BINDGEN ?= wasm-bindgen
WASM_OPT = node_modules/.bin/wasm-opt
# The features rustc's wasm32 target enables by default, plus SIMD (used only if the build enables simd128);
# wasm-opt must accept what the module uses, and it adds none of these on its own.
WASM_OPT_FEATURES = --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd
WASM_OPT_FLAGS ?= -O3
CHROMIUM ?= /usr/bin/chromium
WEB_PORT ?= 8000

WWW_FILES = www/index.html www/app.js www/settings.js www/protocol.js www/worker.js www/weights.js www/style.css \
	www/catalog.json
WEB_SOURCES = Cargo.toml Cargo.lock .cargo/config.toml $(shell find src -name '*.rs')

.PHONY: pkg dist serve-web typecheck e2e soak bench-web wasm-bindgen-cli node-deps web-clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

node-deps: node_modules/.package-lock.json

wasm-bindgen-cli:
	@$(WASM_BINDGEN) --version 2>/dev/null | grep -qx 'wasm-bindgen $(WASM_BINDGEN_VERSION)' \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

pkg: pkg/filterlens_bg.wasm

pkg/filterlens_bg.wasm: $(WEB_SOURCES) | wasm-bindgen-cli node-deps
	cargo build --release --lib --target $(WASM_TARGET)
	rm -rf pkg.tmp
	$(WASM_BINDGEN) --target web --out-dir pkg.tmp \
		$(CARGO_TARGET_DIR)/$(WASM_TARGET)/release/filterlens.wasm
	$(WASM_OPT) $(WASM_OPT_FEATURES) $(WASM_OPT_FLAGS) pkg.tmp/filterlens_bg.wasm -o pkg.tmp/filterlens_bg.opt.wasm
	mv pkg.tmp/filterlens_bg.opt.wasm pkg.tmp/filterlens_bg.wasm
	rm -rf pkg && mv pkg.tmp pkg
	@printf 'pkg/filterlens_bg.wasm: %s bytes, %s gzipped\n' \
		"$$(wc -c < pkg/filterlens_bg.wasm)" "$$(gzip -9c pkg/filterlens_bg.wasm | wc -c)"

dist: pkg weights $(WWW_FILES)
	rm -rf dist.tmp
	mkdir -p dist.tmp/pkg dist.tmp/weights
	cp $(WWW_FILES) dist.tmp/
	cp pkg/filterlens.js pkg/filterlens_bg.wasm dist.tmp/pkg/
	cp weights/vgg16-f16.safetensors weights/manifest.json dist.tmp/weights/
	rm -rf dist && mv dist.tmp dist
	@echo "dist/ is ready: any static server works, at any path (e.g. make serve-web)"

serve-web: dist
	@echo "filterlens: http://127.0.0.1:$(WEB_PORT)/"
	python3 -m http.server --bind 127.0.0.1 --directory dist $(WEB_PORT)

typecheck: pkg node-deps
	node_modules/.bin/tsc -p www/tsconfig.json
	node_modules/.bin/tsc -p www/tsconfig.worker.json
	node_modules/.bin/tsc -p tests/e2e/tsconfig.json

e2e: dist node-deps
	CHROMIUM=$(CHROMIUM) node --test --test-concurrency=1 tests/e2e/

# The long soak (2,000 steps, 200 restarts, 3 minutes of a 64-tile grid; e2e runs a short one): docs/soak.svg.
soak: dist node-deps
	FILTERLENS_SOAK=long CHROMIUM=$(CHROMIUM) node --test --test-reporter=spec tests/e2e/soak.test.mjs

# Time to the first painted step and ms/step in headless Chromium (WebGPU on SwiftShader, and Flex), 128 px conv3_1.
bench-web: dist node-deps
	CHROMIUM=$(CHROMIUM) node tests/e2e/bench.mjs

web-clean:
	rm -rf pkg pkg.tmp dist dist.tmp tests/e2e/artifacts
