#!/usr/bin/env bash
# Prints the `math` verifier's figures beside an earlier version's, in one run of
# bench_reward_math: builds this tree's bench/reward_math_bench.cc against the reward library
# of REV (default: the commit before the structured-answer verifier of issue 12) in a scratch
# directory, then runs this tree's benchmark with PONDER_BENCH_MATH_BEFORE pointing at it.
#
# Usage: bench/reward_math_before.sh [REV]   (BUILD_DIR: this tree's build, default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
rev=${1:-$(git log --diff-filter=A --format=%H -- reward/internal/math_answer.h | tail -1)^}
rev=$(git rev-parse --verify "$rev^{commit}")
[ -x "$build/bench/bench_reward_math" ] || {
  echo "no $build/bench/bench_reward_math: build with -DPONDER_BUILD_BENCHMARKS=ON first" >&2
  exit 1
}
scratch=$(mktemp -d /tmp/ponder-math-before.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
git archive "$rev" | tar -x -C "$scratch"
cp bench/reward_math_bench.cc "$scratch/bench/reward_math_bench.cc"
echo "building bench_reward_math against the reward library of ${rev:0:12} in $scratch" >&2
{
  cmake -S "$scratch" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPONDER_BUILD_TESTS=OFF -DPONDER_BUILD_BENCHMARKS=ON &&
    cmake --build "$scratch/build" -j "${JOBS:-2}" --target bench_reward_math
} >"$scratch/build.log" 2>&1 || {
  tail -20 "$scratch/build.log" >&2
  echo "could not build bench_reward_math at ${rev:0:12}" >&2
  exit 1
}
echo "before: ${rev:0:12} ($(git log -1 --format=%s "$rev" | cut -c1-60))"
PONDER_BENCH_MATH_BEFORE="$scratch/build/bench/bench_reward_math" BUILD_DIR="$build" \
  bench/run.sh reward_math
