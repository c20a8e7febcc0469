#!/usr/bin/env bash
# Builds sealpost: the native core and its tests (build/native), the Wasm modules (dist/sealpost.wasm for
# workers and pages, dist/sealpost-server.wasm for sealpost/server) and the classic-worker bundles
# (dist/sealpost.classic.js, dist/sealpost-sw.classic.js). Incremental; runs setup first.
#   scripts/build.sh              everything
#   scripts/build.sh --if-needed  only what the demo needs (Wasm module and bundle), skipping native tests
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Emscripten's JS optimizer needs acorn, which Debian installs for its own node only.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
JOBS=$(nproc)

if [ ! -f build/wasm/CMakeCache.txt ]; then
  emcmake cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build/wasm -j"$JOBS" 2>&1 | grep -Ev '^\[|^(gmake|make)\[' || true
for wasm in dist/sealpost.wasm dist/sealpost-server.wasm; do
  test -f "$wasm" || { echo "build: $wasm was not produced" >&2; exit 1; }
done
# The modules' SHA-256, embedded in the loader's JS (dist/sealpost-digest.js), checked before every compile.
node scripts/module-digest.mjs

# The classic (importScripts) build: one IIFE that defines self.sealpost.
npx esbuild js/classic.js --bundle --format=iife --target=es2020 --log-level=warning \
  --log-override:empty-import-meta=silent --outfile=dist/sealpost.classic.js
# The classic service-worker build: self.sealpost.installSealpost and the main entry, for importScripts.
npx esbuild js/sw-classic.js --bundle --format=iife --target=es2020 --log-level=warning \
  --log-override:empty-import-meta=silent --outfile=dist/sealpost-sw.classic.js

if [ "${1:-}" = "--if-needed" ]; then exit 0; fi

if [ ! -f build/native/CMakeCache.txt ]; then
  cmake -S . -B build/native -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build/native -j"$JOBS" 2>&1 | grep -Ev '^\[|^(gmake|make)\[' || true
test -x build/native/sealpost_tests || { echo "build: native tests were not built" >&2; exit 1; }
