#!/usr/bin/env bash
# Everything: build, native tests (ctest), Node suites, browser suites in Debian's Chromium, Firefox ESR
# and WebKitGTK (the WebKit suite starts its driver under xvfb-run itself), and real Web Push through
# Firefox ESR's push client (tests/browser/webpush-firefox.test.js).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# A stage that hangs fails with its name instead of running into CI's limit: each test has a time limit
# (--test-timeout), and each stage one more (a test file whose process never exits, e.g. a server left open).
stage() {
  local limit=$1; shift
  local rc=0
  timeout --kill-after=20 "$limit" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "test: this stage did not end within $limit s: $*" >&2
  fi
  return "$rc"
}

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
stage 900 node --test --test-reporter=spec --test-timeout=300000 tests/node/*.test.js

# The engine suites are tests/browser/{firefox,webkit,webpush-firefox}.test.js; every other browser suite runs
# in Chromium.
ENGINE_SUITES=(tests/browser/firefox.test.js tests/browser/webkit.test.js tests/browser/webpush-firefox.test.js)
chromium_suites=()
for suite in tests/browser/*.test.js; do
  case " ${ENGINE_SUITES[*]} " in *" $suite "*) ;; *) chromium_suites+=("$suite") ;; esac
done

suite_start=$(date +%s)
echo "== browser (Chromium)"
stage 1800 node --test --test-reporter=spec --test-timeout=600000 --test-concurrency=1 "${chromium_suites[@]}"
echo "browser (Chromium): $(( $(date +%s) - suite_start )) s"

suite_start=$(date +%s)
echo "== browser (Firefox ESR)"
stage 900 node --test --test-reporter=spec --test-timeout=600000 tests/browser/firefox.test.js
echo "browser (Firefox ESR): $(( $(date +%s) - suite_start )) s"

suite_start=$(date +%s)
echo "== browser (Firefox ESR: real Web Push through its push client)"
stage 600 node --test --test-reporter=spec --test-timeout=300000 tests/browser/webpush-firefox.test.js
echo "browser (Firefox ESR, Web Push): $(( $(date +%s) - suite_start )) s"

suite_start=$(date +%s)
echo "== browser (WebKitGTK)"
stage 900 node --test --test-reporter=spec --test-timeout=600000 tests/browser/webkit.test.js
echo "browser (WebKitGTK): $(( $(date +%s) - suite_start )) s"

echo "npm test: all suites passed in $(( $(date +%s) - start )) s"
