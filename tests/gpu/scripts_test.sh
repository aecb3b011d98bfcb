#!/usr/bin/env bash
# The GPU scripts on the CPU machine: bash -n and shellcheck on each (and the baseline's Python
# parses); gpu-check.sh's errors for a missing $OUT and a missing carry folder; and
# gpu-fetch.sh --check, which resolves the package list against this machine's apt (the
# closure is complete and every package has a download URI; exit 77, a skip, when apt has no
# package lists here).
set -euo pipefail
cd "${PONDER_SOURCE_DIR:-$(dirname "$0")/../..}"
scripts=(scripts/gpu-fetch.sh scripts/gpu-check.sh scripts/check-torch2.sh tests/gpu/scripts_test.sh)
command -v shellcheck >/dev/null || {
  echo "shellcheck is not installed (apt-get install shellcheck)" >&2
  exit 1
}
for f in "${scripts[@]}"; do bash -n "$f"; done
shellcheck "${scripts[@]}"
echo "bash -n and shellcheck: ${scripts[*]}"
# The PyTorch baseline runs only on the GPU machine; here it must at least parse.
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' bench/gpu_baseline.py
echo "bench/gpu_baseline.py parses"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect_failure() {  # expect_failure TEXT CMD...: CMD fails and prints TEXT
  local text=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "expected a failure from: $*" >&2
    exit 1
  fi
  grep -qF "$text" "$tmp/out" || {
    echo "expected '$text' from: $*; got:" >&2
    cat "$tmp/out" >&2
    exit 1
  }
}
expect_failure "set OUT to the folder for the results" env -u OUT scripts/gpu-check.sh
expect_failure "run scripts/gpu-fetch.sh on the CPU machine and carry" \
  env OUT="$tmp/out-dir" PONDER_GPU_CARRY="$tmp/none" scripts/gpu-check.sh
grep -qF "FAILED: no $tmp/none/debs" "$tmp/out-dir/summary.txt"
echo "gpu-check.sh: missing OUT and carry folder rejected with their messages"

scripts/gpu-fetch.sh --check
