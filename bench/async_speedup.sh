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
# Generation and training of comparable length: 8 samples of up to 5 tokens for each of the
# 80 prompts; the rollout engine runs 32 sequences at a time.
common=(model.path="$sft/final" trainer.steps="$steps" eval.at_end=false
        checkpoint.at_end=false run.threads=1 rollout.max_running=32)

run_mode() {
  local mode=$1
  deploy/local/run.sh --config configs/learn_grpo.yaml --rollout 1 --reward 0 \
    --ponder "$ponder" --trainer-cpus 0 --rollout-cpus 1 --logs "$work/$mode-logs" -- \
    "${common[@]}" run.dir="$work/$mode" trainer.mode="$mode" >"$work/$mode.log" 2>&1 ||
    { cat "$work/$mode.log" >&2; exit 1; }
}
run_mode sync
run_mode async

/usr/bin/python3 - "$work" "$steps" <<'PY'
import json, sys
work, steps = sys.argv[1], int(sys.argv[2])
def load(mode):
    lines = [json.loads(l) for l in open(f"{work}/{mode}/metrics.jsonl") if l.strip()]
    return [l for l in lines if "reward/score/mean" in l["metrics"]]
rows = {}
for mode in ("sync", "async"):
    m = load(mode)
    # Steps/s from the wall clock of the first and last step (the first step's start-up
    # excluded).
    span = m[-1]["wall_time"] - m[0]["wall_time"]
    rate = (len(m) - 1) / span
    mean = lambda key, part: sum(x["metrics"].get(key, 0) for x in part) / len(part)
    rows[mode] = rate
    print(f"{mode:5}  {rate:6.3f} steps/s  ({1 / rate:5.3f} s/step)  "
          f"gen {mean('timing/gen_s', m):.3f} s  update {mean('timing/update_s', m):.3f} s  "
          f"reward {mean('timing/reward_s', m):.3f} s  "
          f"idle trainer {mean('timing/idle_s/trainer', m):.3f} s  "
          f"reward first 5 steps {mean('reward/score/mean', m[:5]):.3f} -> "
          f"last 5 {mean('reward/score/mean', m[-5:]):.3f}")
print(f"async / sync steps per second: {rows['async'] / rows['sync']:.2f}x")
PY
