#!/usr/bin/env bash
# Run HERE (a Debian 12 machine with its package registry) before a GPU check: fetches what
# scripts/gpu-check.sh needs on a GPU machine that has no registry into .gpu-carry/ (ignored
# by git; carry it with the working tree):
#   .gpu-carry/debs/   Debian 12 packages: the build's libraries (gRPC, protobuf, Abseil,
#                      yaml-cpp, spdlog, fmt, CLI11, PCRE2, nlohmann-json, cpp-httplib,
#                      OpenSSL, libseccomp, GoogleTest/GMock, Google Benchmark, pkg-config)
#                      and every library they need at run time, except the C and C++ runtime
#                      that any machine has (EXCLUDED below)
#   .gpu-carry/uplot/  the dashboard's chart library, as `npm ci` fetches it (no npm there)
# and checks that the working tree plus .gpu-carry stays under the carry budget.
#
#   scripts/gpu-fetch.sh            # fetch (apt-get download, npm ci) and report sizes
#   scripts/gpu-fetch.sh --check    # resolve only: the closure is complete and every
#                                   # package has a download URI (apt-get --print-uris);
#                                   # exit 77 when this machine has no package lists
# Environment: PONDER_CARRY_BUDGET_MIB (default 48; the device's limit is 64).
set -euo pipefail

cd "$(dirname "$0")/.."
carry=.gpu-carry
budget_mib=${PONDER_CARRY_BUDGET_MIB:-48}

# What the build needs (scripts/install-deps.sh's build packages, less LibTorch: the GPU
# machine's PyTorch brings its own).
PACKAGES=(
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libpcre2-dev
  libcpp-httplib-dev libssl-dev zlib1g-dev libseccomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  pkg-config
)
# Their dependencies, found with apt-cache (--check verifies this list is the whole closure
# less EXCLUDED).
DEPENDENCIES=(
  libabsl20220623 libbenchmark1debian libbrotli-dev libbrotli1 libc-ares-dev libc-ares2
  libcpp-httplib0.11 libfmt9 libgrpc++1.51 libgrpc-dev libgrpc29 libpcre2-16-0 libpcre2-32-0
  libpcre2-8-0 libpcre2-posix3 libpkgconf3 libprotobuf-lite32 libprotobuf32 libprotoc32
  libre2-9 libre2-dev libseccomp2 libspdlog1.10 libssl3 libyaml-cpp0.7 pkgconf pkgconf-bin
  zlib1g
)
# The C and C++ runtime and toolchain headers (the GPU machine's own, newer ones must be
# used), Kerberos and Sun RPC (pulled in by libc6-dev), and sources nothing links.
EXCLUDED=(
  libc6 libc6-dev libc-dev-bin linux-libc-dev libcrypt1 libcrypt-dev gcc-12-base libgcc-s1
  libstdc++6 libnsl2 libnsl-dev libtirpc3 libtirpc-dev libtirpc-common rpcsvc-proto
  libcom-err2 libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0
  googletest catch2
)

in_list() {
  local x=$1
  shift
  local y
  for y in "$@"; do [ "$x" = "$y" ] && return 0; done
  return 1
}

if ! apt-cache show libgrpc++-dev >/dev/null 2>&1; then
  echo "gpu-fetch: apt has no package lists here (run apt-get update)" >&2
  exit 77
fi

# The closure must be exactly PACKAGES + DEPENDENCIES (+ EXCLUDED).
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "${PACKAGES[@]}" | grep -v '^[ <]' | sort -u)
missing=()
for p in $closure; do
  in_list "$p" "${PACKAGES[@]}" "${DEPENDENCIES[@]}" "${EXCLUDED[@]}" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-fetch: dependencies in neither DEPENDENCIES nor EXCLUDED: ${missing[*]}" >&2
  exit 1
fi
wanted=("${PACKAGES[@]}" "${DEPENDENCIES[@]}")

# Every package resolves to a download URI; their sizes, from the package index.
uris=$(apt-get download --print-uris "${wanted[@]}")
resolved=$(grep -c '\.deb' <<<"$uris" || true)
if [ "$resolved" -ne ${#wanted[@]} ]; then
  echo "gpu-fetch: ${#wanted[@]} packages wanted, $resolved resolved:" >&2
  echo "$uris" >&2
  exit 1
fi
index_bytes=$(awk '{s += $3} END {print s}' <<<"$uris")
echo "gpu-fetch: ${#wanted[@]} packages resolve, $((index_bytes / 1024)) KiB to download"
[ "${1:-}" = "--check" ] && exit 0

rm -rf "$carry/debs" "$carry/uplot"
mkdir -p "$carry/debs"
# (apt warns that root downloads unsandboxed into a folder its _apt user cannot write.)
(cd "$carry/debs" && apt-get download -qq "${wanted[@]}" 2> >(grep -v 'unsandboxed' >&2))
count=$(find "$carry/debs" -name '*.deb' | wc -l)
[ "$count" -eq ${#wanted[@]} ] || {
  echo "gpu-fetch: downloaded $count of ${#wanted[@]} packages" >&2
  exit 1
}

# The chart library, pinned by monitor/web/package-lock.json.
npm_dir=$(mktemp -d)
trap 'rm -rf "$npm_dir"' EXIT
cp monitor/web/package.json monitor/web/package-lock.json "$npm_dir/"
(cd "$npm_dir" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error)
mkdir -p "$carry/uplot/dist"
cp "$npm_dir/node_modules/uplot/dist/uPlot.iife.min.js" "$npm_dir/node_modules/uplot/dist/uPlot.min.css" \
  "$carry/uplot/dist/"
cp "$npm_dir/node_modules/uplot/LICENSE" "$carry/uplot/"

# Sizes: each package, the carry folder, and the working tree that travels with it.
echo "gpu-fetch: packages in $carry/debs (bytes):"
(cd "$carry/debs" && find . -name '*.deb' -printf '%s\t%f\n' | sort -rn)
carry_bytes=$(du -sb "$carry" | cut -f1)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
total=$((carry_bytes + tree_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }
echo "gpu-fetch: $carry $carry_bytes bytes ($(mib "$carry_bytes")), working tree $tree_bytes bytes" \
  "($(mib "$tree_bytes")), together $(mib "$total") (budget $budget_mib MiB, limit 64 MiB)"
if [ "$total" -gt $((budget_mib * 1048576)) ]; then
  echo "gpu-fetch: over the budget" >&2
  exit 1
fi
