#!/usr/bin/env bash
# Step time with the rollout in process against a `ponder rollout` worker on loopback
# (deploy/local/run.sh), on the same GRPO job and machine: 3-digit addition, 32 prompts x 8
# samples per step, the tiny model of configs/tiny.yaml, reward in process in both. Prints
# each way's mean step time and its phases (timing/*_s of metrics.jsonl: generation, reward,
# update and its forward/backward/optimizer parts, weight push), the first two steps
# excluded (start-up, first weights).
#
#   bench/grpc_overhead.sh [STEPS]        (BUILD_DIR: build-bench by default)
#
# Rows: "in-process" is `ponder train` alone with run.threads=2; "grpc" adds one rollout
# worker with 2 threads, both processes free to use both cores (they take turns: the step is
# synchronous; deploy/local/run.sh runs OpenBLAS single-threaded in each process);
# "in-process-blas1" is the trainer alone with OpenBLAS single-threaded too; "grpc-blas-per-core"
# is the gRPC job with OpenBLAS's default pool (a thread per core) in each process, as before;
# "in-process-core0" is the trainer alone on core 0 and "grpc-pinned" the trainer on core 0
# and the worker on core 1 (one thread each).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
ponder=$PWD/$build/cli/ponder
steps=${1:-12}
work=$(mktemp -d "${TMPDIR:-/tmp}/ponder-grpc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -x "$ponder" ] || { echo "no $ponder: build first (make bench builds it)" >&2; exit 1; }

common=("data.task.levels=[3]" data.train_batch_size=32 rollout.n=8 rollout.max_seq_len=32
        rollout.sampling.max_new_tokens=8 trainer.steps="$steps" eval.every=0
        eval.at_end=false checkpoint.every=0 checkpoint.at_end=false)

# [THREADS=n] [PIN=core] run NAME [deploy/local/run.sh options]: writes $work/NAME/metrics.jsonl
# (run.threads=THREADS, 2 by default; PIN: the in-process trainer on that core).
run() {
  local name=$1; shift
  local args=("${common[@]}" run.threads="${THREADS:-2}" run.dir="$work/$name")
  if [ $# -eq 0 ]; then
    ${PIN:+taskset -c "$PIN"} "$ponder" train --config configs/tiny.yaml "${args[@]}" \
      >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  else
    deploy/local/run.sh --config configs/tiny.yaml --ponder "$ponder" --logs "$work/$name-logs" \
      "$@" -- "${args[@]}" >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
  fi
}
run in-process
OPENBLAS_NUM_THREADS=1 run in-process-blas1
run grpc --rollout 1 --reward 0
# As before deploy/local/run.sh made OpenBLAS single-threaded: its own pool of one spin-waiting
# thread per core in each process, beside LibTorch's OpenMP threads.
OPENBLAS_NUM_THREADS=$(nproc) run grpc-blas-per-core --rollout 1 --reward 0
# As separate nodes would be: one core each (the in-process baseline on one core).
THREADS=1 PIN=0 run in-process-core0
THREADS=1 run grpc-pinned --rollout 1 --reward 0 --trainer-cpus 0 --rollout-cpus 1

/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
keys = ["step_s", "gen_s", "reward_s", "update_s", "update_forward_s", "update_backward_s",
        "update_optimizer_s", "sync_s"]
print(f"{'':20}" + "".join(f"{k.replace('update_', 'upd_'):>11}" for k in keys))
rows = {}
names = ("in-process", "in-process-blas1", "grpc", "grpc-blas-per-core", "in-process-core0",
         "grpc-pinned")
for name in names:
    lines = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl") if l.strip()]
    steps = [l["metrics"] for l in lines if "timing/step_s" in l["metrics"]][2:]
    mean = {k: sum(s.get("timing/" + k, 0) for s in steps) / len(steps) for k in keys}
    rows[name] = mean
    print(f"{name:20}" + "".join(f"{mean[k]:11.3f}" for k in keys))
for name, base in (("grpc", "in-process"), ("grpc", "in-process-blas1"),
                   ("grpc-blas-per-core", "in-process"), ("grpc-pinned", "in-process-core0")):
    ratio = rows[name]["step_s"] / rows[base]["step_s"]
    print(f"{name}: step time {ratio:.2f}x {base} ({(ratio - 1) * 100:+.0f}%)")
PY
