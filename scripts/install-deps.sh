#!/usr/bin/env bash
# Installs the Debian 12 packages that Ponder's build, tests, benchmarks and demo need.
# Idempotent: when everything is present it only runs dpkg-query and exits (well under a second).
# Uses sudo when not run as root. Debian packages only; nothing is downloaded from elsewhere.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # LibTorch (CPU build of 1.13) and a fast BLAS for it; without OpenBLAS it is ~10x slower
  libtorch-dev libopenblas0-pthread
  # the headers of c10d's Gloo process group (trainer ranks)
  libgloo-dev
  # RPC
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # small libraries
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libpcre2-dev
  libcpp-httplib-dev libssl-dev zlib1g-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # code sandbox of the reward service
  bubblewrap libseccomp-dev
  # reference scripts and the Python verifier SDK (Debian's own /usr/bin/python3)
  python3 python3-torch python3-numpy python3-grpcio python3-protobuf
  # tokenizer benchmark baselines (bench/tokenizer_baseline.py)
  python3-sentencepiece python3-regex
  # the dashboard: npm fetches its chart library at build time (monitor/web/package-lock.json);
  # its browser test runs headless Chromium through Selenium; promtool checks /metrics
  nodejs chromium chromium-driver python3-selenium prometheus
  # the network namespaces some multi-process tests run in (tests/netns_run.sh)
  iproute2 util-linux
)
# npm comes with Debian's `npm` package, or inside a nodejs built elsewhere (which conflicts
# with Debian's npm): ask for it only when there is none.
command -v npm >/dev/null || packages+=(npm)

# One dpkg-query for all packages keeps the no-op case fast.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$2 == "installed" {print $1}' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh them once if an install fails.
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
