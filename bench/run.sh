#!/usr/bin/env bash
# Runs the benchmarks built in $BUILD_DIR (default build-bench): all of them, or those named
# on the command line (`bench/run.sh tokenizer decode`). Each prints ours beside its baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
export PONDER_SOURCE_DIR=$PWD PONDER_BINARY_DIR=$PWD/$build
if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for exe in "$build"/bench/bench_*; do [ -x "$exe" ] && names+=("$(basename "$exe" | sed 's/^bench_//')"); done
fi
[ ${#names[@]} -gt 0 ] || { echo "no benchmarks built in $build/bench" >&2; exit 1; }
for name in "${names[@]}"; do
  exe="$build/bench/bench_$name"
  [ -x "$exe" ] || { echo "unknown benchmark '$name' (no $exe)" >&2; exit 1; }
  echo "=== $name ==="
  "$exe"
  echo
done
