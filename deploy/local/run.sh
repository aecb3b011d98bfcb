#!/usr/bin/env bash
# Runs a job as separate processes on this machine: `ponder train` with N `ponder rollout`
# workers and M `ponder reward` servers, every service on loopback behind a fresh token.
#
#   deploy/local/run.sh --config JOB.yaml [--rollout N] [--reward M] [--ponder PATH]
#       [--logs DIR] [--trainer-cpus LIST] [--rollout-cpus LIST] [--reward-cpus LIST]
#       [-- key=value ...]
#
# N = 0 (or M = 0) keeps rollout (or reward) inside the trainer, as `ponder train` alone does.
# The overrides after -- go to every process. --*-cpus pin a role to cores with taskset (e.g.
# --trainer-cpus 0 --rollout-cpus 1) and give it that many LibTorch threads. OpenBLAS runs
# single-threaded in every process unless OPENBLAS_NUM_THREADS is set. Workers and
# servers log to DIR/<role>-<i>.log (default: a new directory under $TMPDIR); the trainer
# writes to the terminal, and its exit code is this script's. Ctrl-C stops the trainer (it
# checkpoints) and then the workers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ponder=$here/../../build/cli/ponder
config=""
rollouts=1
rewards=1
logs=""
trainer_cpus=""
rollout_cpus=""
reward_cpus=""
overrides=()

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --rollout) rollouts=$2; shift 2 ;;
    --reward) rewards=$2; shift 2 ;;
    --ponder) ponder=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --trainer-cpus) trainer_cpus=$2; shift 2 ;;
    --rollout-cpus) rollout_cpus=$2; shift 2 ;;
    --reward-cpus) reward_cpus=$2; shift 2 ;;
    --) shift; overrides=("$@"); break ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$config" ] || { echo "run.sh: --config JOB.yaml is required" >&2; usage; }
[ -f "$config" ] || { echo "run.sh: no such job file '$config'" >&2; exit 2; }
[[ "$rollouts" =~ ^[0-9]+$ && "$rewards" =~ ^[0-9]+$ ]] ||
  { echo "run.sh: --rollout and --reward take a count (got '$rollouts', '$rewards')" >&2; exit 2; }
[ -x "$ponder" ] || { echo "run.sh: no ponder binary at '$ponder' (build it, or give --ponder)" >&2; exit 2; }
logs=${logs:-$(mktemp -d "${TMPDIR:-/tmp}/ponder-local.XXXXXX")}
mkdir -p "$logs"

# A token per service kind for this job, unless the caller chose them.
new_token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export PONDER_ROLLOUT_TOKEN=${PONDER_ROLLOUT_TOKEN:-$(new_token)}
export PONDER_REWARD_TOKEN=${PONDER_REWARD_TOKEN:-$(new_token)}
# Every process has its own LibTorch threads (run.threads); OpenBLAS's pool of its own (as many
# spin-waiting threads as cores) only oversubscribes the shared cores: on this repository's 2-core
# machine it made the trainer's update 2.3x slower with a rollout worker beside it
# (bench/grpc_overhead.sh). Set OPENBLAS_NUM_THREADS to choose otherwise.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

# The launcher for a role pinned to CPUS: taskset with that many LibTorch threads. It execs
# the command, so a background job's $! is the command itself.
launcher() {
  local cpus=$1
  [ -n "$cpus" ] || return 0
  local count; count=$(taskset -c "$cpus" nproc)
  echo env "OMP_NUM_THREADS=$count" taskset -c "$cpus"
}

pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

# Starts `role` number `i` and sets `address` to where it listens.
address=""
start() {
  local role=$1 i=$2 cpus=$3 log="$logs/$1-$2.log"
  local run; read -r -a run <<<"$(launcher "$cpus")"
  # A session of its own: Ctrl-C reaches only the trainer, which finishes its step first.
  setsid "${run[@]}" "$ponder" "$role" --listen 127.0.0.1:0 --config "$config" \
    "${overrides[@]}" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  address=""
  for _ in $(seq 1200); do
    address=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$address" ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: $role $i failed to start:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "run.sh: $role $i did not start in 120 s ($log)" >&2
  exit 1
}

join() { local IFS=,; echo "$*"; }
rollout_addresses=()
for ((i = 0; i < rollouts; i++)); do
  start rollout "$i" "$rollout_cpus"
  rollout_addresses+=("$address")
done
reward_addresses=()
for ((i = 0; i < rewards; i++)); do
  start reward "$i" "$reward_cpus"
  reward_addresses+=("$address")
done
echo "run.sh: rollout [$(join "${rollout_addresses[@]}")], reward [$(join "${reward_addresses[@]}")]; logs in $logs" >&2

train_args=(train --config "$config" "${overrides[@]}")
[ "$rollouts" -gt 0 ] && train_args+=("rollout.addresses=[$(join "${rollout_addresses[@]}")]")
[ "$rewards" -gt 0 ] && train_args+=("reward.addresses=[$(join "${reward_addresses[@]}")]")
read -r -a run <<<"$(launcher "$trainer_cpus")"
set +e
"${run[@]}" "$ponder" "${train_args[@]}"
code=$?
set -e
exit "$code"
