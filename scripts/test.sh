#!/usr/bin/env bash
# Everything: build, native tests (ctest), Node suites, browser suites in Debian's Chromium (and real Web Push
# through Firefox ESR's push client: tests/browser/webpush-firefox.test.js).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/build.sh

echo "== native (ctest)"
ctest --test-dir build/native --output-on-failure -j"$(nproc)"

echo "== native under AddressSanitizer + UndefinedBehaviorSanitizer (build/native-asan)"
if [ ! -f build/native-asan/CMakeCache.txt ]; then
  cmake -S . -B build/native-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEALPOST_SANITIZE=ON >/dev/null
fi
if ! cmake --build build/native-asan -j"$(nproc)" >build/native-asan/build.log 2>&1; then
  grep -Ev '^\[|^(gmake|make)\[' build/native-asan/build.log >&2; echo "test: the sanitizer build failed" >&2; exit 1
fi
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/native-asan --output-on-failure -j"$(nproc)"

echo "== fuzz (${SEALPOST_FUZZ_SECONDS:-5} s per target)"
bash scripts/fuzz.sh --seconds "${SEALPOST_FUZZ_SECONDS:-5}"

echo "== node"
node --test --test-reporter=spec tests/node/*.test.js

echo "== browser (Chromium; Firefox ESR for real Web Push)"
node --test --test-reporter=spec --test-concurrency=1 tests/browser/*.test.js

echo "npm test: all suites passed in $(( $(date +%s) - start )) s"
