#!/usr/bin/env bash
# Asynchronous vs synchronous training with the same placement: the trainer on one core and a
# rollout worker on the other (taskset, one LibTorch thread each, as separate nodes would
# be), through deploy/local/run.sh. The job is configs/learn_grpo.yaml (GRPO on 1-digit
# addition from the SFT warm start of configs/learn_sft.yaml, made first when missing); the
# overrides below make generation and training take comparable time in synchronous mode.
# Prints steps/s of each mode, the speed-up, time per step split by role, and the mean
# training reward over the first and last five steps (still rising in both modes).
#
#   bench/async_speedup.sh [STEPS]        (BUILD_DIR: build-bench by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
ponder=$PWD/$build/cli/ponder
steps=${1:-40}
work=$(mktemp -d "${TMPDIR:-/tmp}/ponder-async-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -x "$ponder" ] || { echo "no $ponder: build first (make bench builds it)" >&2; exit 1; }

sft=$work/sft
"$ponder" sft --config configs/learn_sft.yaml run.dir="$sft" >"$work/sft.log" 2>&1 ||
  { cat "$work/sft.log" >&2; exit 1; }
# Generation and training of comparable length: on this tiny model a decode step costs little
# next to training on the same tokens, so the rollout engine runs only MAX_RUNNING sequences
# at a time (a worker whose decoding is latency-bound, as a large model's is). Old log-probs
# are the rollout's (trainer.recompute_logprobs=false: PPO's ratio and clip against the policy
# that drew the samples), the same algorithm in both modes.
max_running=${MAX_RUNNING:-2}
common=(model.path="$sft/final" trainer.steps="$steps" eval.at_end=false
        checkpoint.at_end=false run.threads=1 rollout.max_running="$max_running"
        trainer.recompute_logprobs=false)

run_mode() {
  local mode=$1
  deploy/local/run.sh --config configs/learn_grpo.yaml --rollout 1 --reward 0 \
    --ponder "$ponder" --trainer-cpus 0 --rollout-cpus 1 --logs "$work/$mode-logs" -- \
    "${common[@]}" run.dir="$work/$mode" trainer.mode="$mode" >"$work/$mode.log" 2>&1 ||
    { cat "$work/$mode.log" >&2; exit 1; }
}
run_mode sync
run_mode async

/usr/bin/python3 - "$work" "$max_running" <<'PY'
import json, sys
work, max_running = sys.argv[1], sys.argv[2]
def load(mode):
    lines = [json.loads(l) for l in open(f"{work}/{mode}/metrics.jsonl") if l.strip()]
    return [l for l in lines if "reward/score/mean" in l["metrics"]]
print(f"rollout.max_running={max_running}; trainer on core 0, rollout worker on core 1, "
      "1 thread each; reward in the trainer")
print(f"{'mode':6}{'steps/s':>9}{'s/step':>8}{'gen':>7}{'update':>8}{'reward':>8}{'sync':>7}"
      f"{'idle tr':>9}{'idle ro':>9}{'stale':>7}{'dropped':>8}   reward first 5 -> last 5 steps")
rows = {}
for mode in ("sync", "async"):
    m = load(mode)
    # Steps/s from the wall clock of the first and last step (the first step's start-up
    # excluded).
    span = m[-1]["wall_time"] - m[0]["wall_time"]
    rate = (len(m) - 1) / span
    mean = lambda key, part=m: sum(x["metrics"].get(key, 0) for x in part) / len(part)
    rows[mode] = rate
    sync = mean("timing/sync_s") + mean("timing/publish_s")
    print(f"{mode:6}{rate:9.3f}{1 / rate:8.3f}{mean('timing/gen_s'):7.3f}"
          f"{mean('timing/update_s'):8.3f}{mean('timing/reward_s'):8.3f}{sync:7.3f}"
          f"{mean('timing/idle_s/trainer'):9.3f}{mean('timing/idle_s/rollout'):9.3f}"
          f"{mean('rollout/staleness/mean'):7.2f}{sum(x['metrics'].get('rollout/dropped_stale', 0) for x in m):8.0f}"
          f"   {mean('reward/score/mean', m[:5]):.3f} -> {mean('reward/score/mean', m[-5:]):.3f}")
print(f"async / sync steps per second: {rows['async'] / rows['sync']:.2f}x")
PY
