# The web page: wasm package, static site, local server, real-browser tests. Included by the Makefile, which
# provides CARGO_TARGET_DIR (exported) and the `weights` target.
#
#   make pkg        wasm32 build (profile wasm-release) -> wasm-bindgen (--target web) -> wasm-opt: pkg/
#   make pkg-threads  the same with Flex on a pool of Web Workers (nightly, atomics): pkg-threads/
#   make dist       one self-contained static folder, dist/: www/, pkg/, pkg-threads/, weights (f16, the ImageNet spectrum, the manifest),
#                   and the atlases in ATLAS, if given
#   make serve-web  dist/ on http://127.0.0.1:8000, cross-origin isolated (so the threaded build runs)
#   make typecheck  tsc --noEmit over the page, the worker (against pkg/'s generated types) and the browser tests
#   make e2e        the browser tests (tests/e2e/, node --test; Chromium with playwright-core, and a visitor's core
#                   path in Firefox ESR and WebKitGTK: engines.test.mjs) against dist/
#   make soak       the long soak test, memory curves to docs/soak.svg
#   make bench-web  first painted step and ms/step in headless Chromium (tests/e2e/artifacts/bench-web.json)
#   make bench-first-visit  a newcomer's first picture through a paced link, 5/20/100 Mbit/s (artifacts/first-visit.json)
#   make bench-atlas  a finished picture with the site's atlas and without it, 20 Mbit/s (artifacts/bench-atlas.json)
#   make bench-engines  the landing link and classic steps in Chromium, Firefox and WebKit (artifacts/bench-engines.json)
#   make bench-examples  pictures per second through the page's natural-examples pass (artifacts/bench-natural.json)

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

WWW_FILES = www/index.html www/style.css www/catalog.json www/protocol.js \
	www/app.js www/state.js www/link.js www/settings.js www/controls.js www/runs.js www/status.js www/picture.js \
	www/start-image.js www/own-model.js www/plot.js www/estimate.js www/units.js www/dom.js www/view.js www/worker-client.js \
	www/worker.js www/worker-program.js www/worker-weights.js www/weights.js www/sha256.js www/isolation.js \
	www/isolation-sw.js www/atlas.js www/examples.js
# A Brotli copy (quality 11) beside each file named, for hosts that serve precompressed files (nginx brotli_static,
# Caddy's precompressed, make serve): the programs come out ~40% smaller than gzipped. ~30 s for both.
BROTLI = node -e "const z = require('zlib'), fs = require('fs'); for (const f of process.argv.slice(1)) \
	fs.writeFileSync(f + '.br', z.brotliCompressSync(fs.readFileSync(f), { params: { \
	[z.constants.BROTLI_PARAM_QUALITY]: 11, [z.constants.BROTLI_PARAM_LGWIN]: 24 } }))"
WEB_SOURCES = Cargo.toml Cargo.lock .cargo/config.toml build.rs src/net/onnx/onnx.proto $(shell find src -name '*.rs')

.PHONY: pkg pkg-threads dist serve-web typecheck e2e soak bench-web bench-first-visit bench-atlas bench-engines bench-examples wasm-bindgen-cli node-deps web-clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

node-deps: node_modules/.package-lock.json

wasm-bindgen-cli:
	@$(WASM_BINDGEN) --version 2>/dev/null | grep -qx 'wasm-bindgen $(WASM_BINDGEN_VERSION)' \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

pkg: pkg/filterlens_bg.wasm

pkg/filterlens_bg.wasm: $(WEB_SOURCES) | wasm-bindgen-cli node-deps
	cargo build --profile wasm-release --lib --target $(WASM_TARGET)
	rm -rf pkg.tmp
	$(WASM_BINDGEN) --target web --out-dir pkg.tmp \
		$(CARGO_TARGET_DIR)/$(WASM_TARGET)/wasm-release/filterlens.wasm
	$(WASM_OPT) $(WASM_OPT_FEATURES) $(WASM_OPT_FLAGS) pkg.tmp/filterlens_bg.wasm -o pkg.tmp/filterlens_bg.opt.wasm
	mv pkg.tmp/filterlens_bg.opt.wasm pkg.tmp/filterlens_bg.wasm
	$(BROTLI) pkg.tmp/filterlens_bg.wasm
	rm -rf pkg && mv pkg.tmp pkg
	@printf 'pkg/filterlens_bg.wasm: %s bytes, %s gzipped\n' \
		"$$(wc -c < pkg/filterlens_bg.wasm)" "$$(gzip -9c pkg/filterlens_bg.wasm | wc -c)"

# The threaded build: the same crate with the `threads` feature (wasm-bindgen-rayon) and without `webgpu` (the
# worker loads it only where WebGPU would not run: see www/worker.js), the standard library rebuilt
# with atomics by the pinned nightly (NIGHTLY, in the Makefile), its own build folder. Without the link arguments
# the memory is neither shared nor imported, and wasm-bindgen silently skips its thread set-up. The memory's
# maximum (4 GiB, wasm32's limit) must be declared for shared memory; browsers reserve it lazily.
THREADS_TARGET_DIR = $(HOME)/.cache/filterlens/target-threads
THREADS_RUSTFLAGS = -C target-feature=+atomics,+bulk-memory,+simd128 \
	-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
	-C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align \
	-C link-arg=--export=__tls_base

pkg-threads: pkg-threads/filterlens_bg.wasm

pkg-threads/filterlens_bg.wasm: $(WEB_SOURCES) | wasm-bindgen-cli node-deps
	RUSTFLAGS="$(THREADS_RUSTFLAGS)" CARGO_TARGET_DIR=$(THREADS_TARGET_DIR) cargo +$(NIGHTLY) build --release --lib \
		--target $(WASM_TARGET) --no-default-features --features threads -Z build-std=panic_abort,std
	rm -rf pkg-threads.tmp
	$(WASM_BINDGEN) --target web --out-dir pkg-threads.tmp \
		$(THREADS_TARGET_DIR)/$(WASM_TARGET)/release/filterlens.wasm
	$(WASM_OPT) $(WASM_OPT_FEATURES) --enable-threads $(WASM_OPT_FLAGS) pkg-threads.tmp/filterlens_bg.wasm \
		-o pkg-threads.tmp/filterlens_bg.opt.wasm
	mv pkg-threads.tmp/filterlens_bg.opt.wasm pkg-threads.tmp/filterlens_bg.wasm
	$(BROTLI) pkg-threads.tmp/filterlens_bg.wasm
	rm -rf pkg-threads && mv pkg-threads.tmp pkg-threads
	@printf 'pkg-threads/filterlens_bg.wasm: %s bytes, %s gzipped\n' \
		"$$(wc -c < pkg-threads/filterlens_bg.wasm)" "$$(gzip -9c pkg-threads/filterlens_bg.wasm | wc -c)"

# The site's atlases (README "The atlas"): ATLAS names a folder of packed atlases, one subfolder per network as
# `filterlens atlas merge --into $ATLAS/<network>` writes it; dist/atlas/index.json lists the networks there (none
# without ATLAS), which the page reads before it asks for any network's atlas.
ATLAS ?=
ATLAS_INDEX = node -e "const fs = require('fs'), dir = process.argv[1]; \
	const networks = fs.readdirSync(dir).filter((n) => fs.existsSync(dir + '/' + n + '/manifest.json')).sort(); \
	fs.writeFileSync(dir + '/index.json', JSON.stringify({ networks }) + '\n')"

dist: pkg pkg-threads weights $(WWW_FILES)
	rm -rf dist.tmp
	mkdir -p dist.tmp/pkg dist.tmp/weights dist.tmp/atlas
	cp $(WWW_FILES) dist.tmp/
	$(if $(ATLAS),cp -r $(ATLAS)/. dist.tmp/atlas/)
	$(ATLAS_INDEX) dist.tmp/atlas
	cp pkg/filterlens.js pkg/filterlens_bg.wasm pkg/filterlens_bg.wasm.br dist.tmp/pkg/
	cp -r pkg-threads dist.tmp/pkg-threads && rm -f dist.tmp/pkg-threads/*.d.ts dist.tmp/pkg-threads/package.json
	cp weights/*-f16.safetensors weights/imagenet-spectrum.npy weights/manifest.json dist.tmp/weights/
	rm -rf dist && mv dist.tmp dist
	@echo "dist/ is ready: any static server works, at any path (e.g. make serve-web)"

serve-web: dist node-deps
	node tests/e2e/server.mjs dist $(WEB_PORT)

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

bench-atlas: dist node-deps
	cargo build --release --bin filterlens
	CHROMIUM=$(CHROMIUM) node tests/e2e/bench-atlas.mjs

bench-examples: dist node-deps
	CHROMIUM=$(CHROMIUM) node tests/e2e/bench-natural.mjs

bench-first-visit: dist node-deps
	CHROMIUM=$(CHROMIUM) node tests/e2e/first-visit.mjs

bench-engines: dist node-deps
	CHROMIUM=$(CHROMIUM) node tests/e2e/bench-engines.mjs

web-clean:
	rm -rf pkg pkg.tmp pkg-threads pkg-threads.tmp dist dist.tmp tests/e2e/artifacts
