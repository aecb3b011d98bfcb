#!/usr/bin/env bash
# The GPU check, one command on a GPU machine with no package registry (run from the
# repository root with $OUT set; .gpu-carry/ from scripts/gpu-fetch.sh carried along):
#   1. unpacks the carried Debian packages into a prefix (never into /),
#   2. configures with the machine's PyTorch LibTorch (torch.utils.cmake_prefix_path; its C++
#      ABI must be the new one, as Debian's libraries are) and PONDER_WITH_CUDA=ON,
#   3. builds the tests labelled `gpu` and bench_gpu on all cores,
#   4. runs the `gpu` tests, then bench_gpu beside PyTorch eager (bench/gpu_baseline.py),
# each step under a time limit so that the whole stays inside 8 minutes. Logs and results go
# to $OUT (summary.txt first).
#
#   OUT=/some/dir scripts/gpu-check.sh [--configure-only]
# --configure-only: stop after step 2 (a rehearsal on a CPU machine: PONDER_GPU_TORCH_DIR
# names a Torch CMake folder to use instead of python3's, and PONDER_GPU_NO_CUDA=1 configures
# without CUDA).
# Environment: PONDER_GPU_CARRY (default .gpu-carry), PONDER_GPU_PREFIX (default
# ${TMPDIR:-/tmp}/ponder-gpu-deps), PONDER_GPU_BUILD (default build-gpu), JOBS (default nproc).
set -euo pipefail

cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT"
carry=${PONDER_GPU_CARRY:-.gpu-carry}
prefix=${PONDER_GPU_PREFIX:-${TMPDIR:-/tmp}/ponder-gpu-deps}
build=${PONDER_GPU_BUILD:-build-gpu}
jobs=${JOBS:-$(nproc)}
configure_only=0
[ "${1:-}" = "--configure-only" ] && configure_only=1
start=$(date +%s)
summary=$OUT/summary.txt
: >"$summary"

say() { echo "[gpu-check $(($(date +%s) - start))s] $*" | tee -a "$summary"; }
fail() {
  say "FAILED: $*"
  exit 1
}
# run LIMIT_S NAME CMD...: runs CMD with its output in $OUT/NAME.log, under a time limit.
run() {
  local limit=$1 name=$2
  shift 2
  say "$name: $*"
  if timeout "$limit" "$@" >"$OUT/$name.log" 2>&1; then
    say "$name: ok"
  else
    local rc=$?
    tail -n 40 "$OUT/$name.log" | tee -a "$summary"
    if [ "$rc" -eq 124 ]; then fail "$name ran past ${limit}s"; fi
    fail "$name exited $rc"
  fi
}

# ---- 1. The carried packages ---------------------------------------------------------------
[ -d "$carry/debs" ] || fail "no $carry/debs: run scripts/gpu-fetch.sh on the CPU machine and carry $carry"
rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$carry"/debs/*.deb; do dpkg -x "$deb" "$prefix"; done
lib=$prefix/usr/lib/x86_64-linux-gnu
# pkg-config files name /usr; point them at the prefix.
find "$prefix" -name '*.pc' -exec sed -i -e "s|=/usr\\b|=$prefix/usr|" -e "s| -I/usr/include| -I$prefix/usr/include|g" {} +
export PATH=$prefix/usr/bin:$PATH
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Only the prefix's .pc files (a system's own could shadow them).
export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$prefix/usr/share/pkgconfig
[ -d /usr/local/cuda/bin ] && export PATH=/usr/local/cuda/bin:$PATH
say "unpacked $(find "$carry/debs" -name '*.deb' | wc -l) packages into $prefix"

# ---- 2. Configure ---------------------------------------------------------------------------
{
  echo "host: $(uname -srm), $(nproc) cores"
  (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi")
  (nvcc --version | tail -n 1 || echo "no nvcc")
  (c++ --version | head -n 1 || echo "no c++")
  cmake --version | head -n 1
} >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt" >>"$summary"
cuda=ON
[ "${PONDER_GPU_NO_CUDA:-0}" = 1 ] && cuda=OFF
# The prefix first; /usr ignored as a search prefix, so that nothing resolves to a library of
# the machine's own by chance (and a rehearsal on a full Debian machine shows what would).
search=$prefix/usr
if [ -n "${PONDER_GPU_TORCH_DIR:-}" ]; then
  torch_args=(-DTorch_DIR="$PONDER_GPU_TORCH_DIR")
else
  torch_info=$(python3 -c 'import torch; print(torch.__version__); print(torch.utils.cmake_prefix_path); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.version.cuda)') ||
    fail "python3 cannot import torch"
  mapfile -t t <<<"$torch_info"
  say "PyTorch ${t[0]} (CUDA ${t[3]}), CMake config in ${t[1]}, _GLIBCXX_USE_CXX11_ABI=${t[2]}"
  [ "${t[2]}" = 1 ] || fail "this LibTorch uses the old C++ ABI; Debian's libraries use the new one"
  search="$search;${t[1]}"
  torch_args=()
fi
run 120 configure cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPONDER_WITH_CUDA="$cuda" -DPONDER_BUILD_BENCHMARKS=ON -DPONDER_UPLOT_DIR="$PWD/$carry/uplot" \
  -DCMAKE_PREFIX_PATH="$search" -DCMAKE_IGNORE_PREFIX_PATH=/usr -DTORCH_CUDA_ARCH_LIST=9.0 \
  "${torch_args[@]}"
# Every library but LibTorch, CUDA and the C/C++ runtime must come from the prefix.
if grep -E -o '/usr/lib/x86_64-linux-gnu/lib(grpc|absl|protobuf|yaml-cpp|fmt|spdlog|pcre2|seccomp|cpp-httplib|gtest|gmock|benchmark|ssl|crypto)[^ ]*' \
  "$build/build.ninja" | sort -u >"$OUT/system-libs.txt" && [ -s "$OUT/system-libs.txt" ]; then
  cat "$OUT/system-libs.txt" >>"$summary"
  fail "the build links libraries from /usr instead of $prefix (above)"
fi
say "configured: every carried library comes from the prefix"
if [ "$configure_only" = 1 ]; then
  say "configure only: done"
  exit 0
fi

# ---- 3. Build -------------------------------------------------------------------------------
run 270 build cmake --build "$build" -j "$jobs" --target gpu_tests bench_gpu

# ---- 4. Tests labelled gpu, then the benchmark beside PyTorch eager --------------------------
run 90 gpu-tests bash -c "cd '$build' && ctest -L gpu --output-on-failure -V"
grep -E '^\[ +(OK|FAILED|SKIPPED) +\]|log-probs vs|cosine' "$OUT/gpu-tests.log" | tee -a "$summary" || true
if grep -q '\[  SKIPPED \]' "$OUT/gpu-tests.log"; then
  fail "gpu tests skipped: no CUDA device visible to LibTorch"
fi
left=$((470 - ($(date +%s) - start)))
[ "$left" -gt 60 ] || fail "only ${left}s left for the benchmark"
quick=()
[ "$left" -lt 200 ] && quick=(--quick) && say "little time left: benchmark on 2 layers (--quick)"
run $((left / 2)) bench-ours "$build/bench/bench_gpu" "${quick[@]}"
run $((left / 2)) bench-eager python3 bench/gpu_baseline.py --ours "$OUT/bench-ours.log" "${quick[@]}"
sed -n '/^$/,$p' "$OUT/bench-eager.log" | tee -a "$summary"
say "done"
