#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_<target>.cpp, clang with -fsanitize=fuzzer,address,undefined,
# into build/fuzz) and runs each of them for N seconds, one after the other.
#   scripts/fuzz.sh [--seconds N] [target ...]     (npm run fuzz -- --seconds N; SEALPOST_FUZZ_BUILD=dir)
# Every run starts from a scratch copy of tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/
# (the checked-in corpus is never written to), with tests/fuzz/<target>.dict when it exists. Crashing inputs
# are kept in build/fuzz-artifacts/<target>/. Prints the executions per target (libFuzzer's "Done N runs")
# and exits non-zero on any crash, leak, timeout or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in ''|*[!0-9]*|0) echo "fuzz: --seconds needs a positive whole number" >&2; exit 2 ;; esac

build=${SEALPOST_FUZZ_BUILD:-build/fuzz}  # another folder keeps a long run apart from iterative builds
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSEALPOST_FUZZ=ON -DSEALPOST_BUILD_TESTS=OFF >/dev/null
fi
if ! cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1; then
  grep -Ev '^\[|^(gmake|make)\[' "$build/build.log" >&2; echo "fuzz: the fuzz build failed" >&2; exit 1
fi

if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cpp; do
    name=$(basename "$src" .cpp)
    targets+=("${name#fuzz_}")
  done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

failed=0
summary=()
for target in "${targets[@]}"; do
  bin="$build/fuzz_$target"
  if [ ! -x "$bin" ]; then echo "fuzz: no target $target ($bin)" >&2; failed=1; continue; fi
  corpus="$work/$target"
  mkdir -p "$corpus"
  for dir in "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target"; do
    if [ -d "$dir" ]; then cp -r "$dir/." "$corpus/"; fi
  done
  artifacts="build/fuzz-artifacts/$target/"
  mkdir -p "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
        -artifact_prefix="$artifacts")
  if [ -f "tests/fuzz/$target.dict" ]; then args+=(-dict="tests/fuzz/$target.dict"); fi
  log="$work/$target.log"
  echo "== fuzz $target (${seconds} s)"
  set +e
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1/p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  if [ $rc -ne 0 ] || [ -z "$runs" ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    failed=1
    echo "fuzz: $target FAILED (exit $rc); the log's end:" >&2
    tail -n 40 "$log" >&2
    summary+=("$(printf '%-22s FAILED  exit %s, input kept in %s' "$target" "$rc" "$artifacts")")
  else
    per_s=$(( runs / (secs > 0 ? secs : 1) ))
    summary+=("$(printf '%-22s %12s execs in %4s s (%s/s), cov %s, corpus %s' "$target" "$runs" "$secs" "$per_s" "${cov:-?}" "$files")")
  fi
done

echo "== fuzz summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
  echo "fuzz: a target failed; replay an input with $build/fuzz_<target> <file>" >&2
  exit 1
fi
