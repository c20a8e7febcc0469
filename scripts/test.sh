#!/usr/bin/env bash
# Everything: build, native tests (ctest), Node suites, browser suites in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/build.sh

echo "== native (ctest)"
ctest --test-dir build/native --output-on-failure -j"$(nproc)"

echo "== node"
node --test --test-reporter=spec tests/node/*.test.js

echo "== browser (Chromium)"
node --test --test-reporter=spec --test-concurrency=1 tests/browser/*.test.js

echo "npm test: all suites passed in $(( $(date +%s) - start )) s"
