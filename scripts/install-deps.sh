#!/usr/bin/env bash
# Installs the Debian 12 packages that Ponder's build, tests, benchmarks and demo need, and the
# two npm packages of the Kubernetes schema check (tests/deploy/schema, pinned by its lockfile;
# the dashboard's own npm packages are fetched by the build, monitor/web).
# Idempotent: when everything is present it only runs dpkg-query and exits (well under a second).
# Uses sudo when not run as root. Debian and npm packages only; nothing else is downloaded.
#
#   scripts/install-deps.sh                  everything (build, tests, benchmarks, deploy checks)
#   scripts/install-deps.sh --build-only     what compiling `ponder` needs (docker/ images)
#   scripts/install-deps.sh --runtime        what running `ponder` needs (docker/ images)
#   ... --without-torch                      leave out Debian's CPU LibTorch (an image that
#                                            brings a CUDA LibTorch of its own)
#   ... --list                               print the Debian packages, install nothing
set -euo pipefail

mode=all
torch=yes
list=no
for arg in "$@"; do
  case "$arg" in
  --build-only) mode=build ;;
  --runtime) mode=runtime ;;
  --without-torch) torch=no ;;
  --list) list=yes ;;
  *)
    echo "install-deps: unknown option '$arg' (--build-only, --runtime, --without-torch," \
      "--list)" >&2
    exit 2
    ;;
  esac
done

build=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # RPC
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # small libraries
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libpcre2-dev
  libcpp-httplib-dev libssl-dev zlib1g-dev libgmp-dev
  # code sandbox of the reward service
  bubblewrap libseccomp-dev
  # the dashboard: npm fetches its chart library at build time (monitor/web/package-lock.json)
  nodejs
)
# LibTorch (CPU build of 1.13) and a fast BLAS for it; without OpenBLAS it is ~10x slower.
# libgloo-dev: the headers of c10d's Gloo process group (trainer ranks).
build_torch=(libtorch-dev libopenblas0-pthread libgloo-dev)
tests=(
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # reference scripts and the Python verifier SDK (Debian's own /usr/bin/python3)
  python3 python3-numpy python3-grpcio python3-protobuf python3-yaml
  # tokenizer benchmark baselines (bench/tokenizer_baseline.py)
  python3-sentencepiece python3-regex
  # the dashboard's browser test runs headless Chromium through Selenium; promtool checks
  # /metrics
  chromium chromium-driver python3-selenium prometheus
  # tests of the scripts (tests/deploy/scripts_test.sh) and of the network namespaces some
  # multi-process tests run in (tests/netns_run.sh)
  shellcheck iproute2 util-linux
)
tests_torch=(python3-torch)
# What the `ponder` binary loads, and the programs the code verifier runs.
runtime=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libyaml-cpp0.7 libspdlog1.10 libfmt9
  libpcre2-8-0 libseccomp2 libssl3 zlib1g libgmp10 libgmpxx4ldbl
  bubblewrap python3 g++
)
runtime_torch=(libtorch1.13 libopenblas0-pthread)

packages=()
case "$mode" in
all) packages=("${build[@]}" "${tests[@]}") ;;
build) packages=("${build[@]}") ;;
runtime) packages=("${runtime[@]}") ;;
esac
if [ "$torch" = yes ]; then
  case "$mode" in
  all) packages+=("${build_torch[@]}" "${tests_torch[@]}") ;;
  build) packages+=("${build_torch[@]}") ;;
  runtime) packages+=("${runtime_torch[@]}") ;;
  esac
fi
if [ "$list" = yes ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
# npm comes with Debian's `npm` package, or inside a nodejs built elsewhere (which conflicts
# with Debian's npm): ask for it only when there is none.
if [ "$mode" != runtime ]; then
  command -v npm >/dev/null || packages+=(npm)
fi
if [ "$mode" = all ]; then
  # kubectl renders deploy/k8s (Debian's kubernetes-client, unless a kubectl is installed).
  command -v kubectl >/dev/null || packages+=(kubernetes-client)
fi

# One dpkg-query for all packages keeps the no-op case fast.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$2 == "installed" {print $1}' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet; refresh them once if an install fails.
  if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# The schema check's npm packages, exactly as locked; again only when the lockfile changed.
if [ "$mode" = all ]; then
  schema="$(cd "$(dirname "$0")/.." && pwd)/tests/deploy/schema"
  if ! cmp -s "$schema/package-lock.json" "$schema/node_modules/.ponder-lock.json"; then
    echo "install-deps: npm ci in tests/deploy/schema" >&2
    (cd "$schema" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$schema/package-lock.json" "$schema/node_modules/.ponder-lock.json"
  fi
fi
