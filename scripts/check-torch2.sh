#!/usr/bin/env bash
# Compiles every LibTorch translation unit of the tree against LibTorch 2.x headers, with
# -fsyntax-only, without touching the system: Debian trixie's libtorch-dev is fetched with a
# private apt configuration (own sources list, lists and cache under the cache folder; the
# system's sources and installed packages are left alone) and unpacked there with dpkg -x.
# Each unit is checked twice: as the CPU build compiles it, and with the CUDA build's macro
# (PONDER_WITH_CUDA) and the CUDA toolkit's headers, so that code guarded for CUDA builds is
# compiled too. It checks compilation only: nothing is linked or run.
#
#   scripts/check-torch2.sh [--no-fetch] [BUILD_DIR]
# BUILD_DIR (default: build) must be configured: its compile_commands.json lists the units.
# --no-fetch: use only headers already in the cache folder; exit 77 (a skip for CTest) when
# there are none (tests/gpu's torch2_compile_check runs it so, never downloading).
# Environment: PONDER_TORCH2_CACHE (default: ${TMPDIR:-/tmp}/ponder-torch2), JOBS (default 2),
# CUDA_HOME (default: /usr/local/cuda; without its include folder the CUDA pass is skipped),
# PONDER_TORCH2_ONLY (a regular expression: check only the units whose path matches).
# Exit status: 0 when every unit compiles in both passes.
set -euo pipefail

cd "$(dirname "$0")/.."
fetch=1
if [ "${1:-}" = "--no-fetch" ]; then
  fetch=0
  shift
fi
build=${1:-build}
cache=${PONDER_TORCH2_CACHE:-${TMPDIR:-/tmp}/ponder-torch2}
jobs=${JOBS:-2}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
suite=trixie
package=libtorch-dev

[ -f "$build/compile_commands.json" ] || {
  echo "check-torch2: $build/compile_commands.json is missing; configure first:" >&2
  echo "  cmake -S . -B $build -G Ninja" >&2
  exit 2
}

# ---- LibTorch 2.x headers from Debian trixie, unpacked under $cache/root --------------------
root=$cache/root
if [ ! -f "$root/usr/include/torch/csrc/api/include/torch/version.h" ]; then
  if [ "$fetch" = 0 ]; then
    echo "check-torch2: no LibTorch 2.x headers under $root (run scripts/check-torch2.sh" \
      "or make check-torch2 once to fetch them)" >&2
    exit 77
  fi
  mkdir -p "$cache/etc" "$cache/lists/partial" "$cache/archives/partial" "$cache/debs"
  echo "deb http://deb.debian.org/debian $suite main" >"$cache/etc/sources.list"
  : >"$cache/status"
  apt_opts=(-o "Dir::Etc::SourceList=$cache/etc/sources.list" -o "Dir::Etc::SourceParts=$cache/etc/none"
    -o "Dir::State::Lists=$cache/lists" -o "Dir::State::status=$cache/status"
    -o "Dir::Cache=$cache" -o "Dir::Cache::archives=$cache/archives"
    -o "APT::Architecture=amd64" -o "APT::Architectures=amd64" -o "Debug::NoLocking=1")
  apt-get "${apt_opts[@]}" -qq update
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download "$package")
  rm -rf "$root"
  for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done
fi
version=$(awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH)/ {v = v (v ? "." : "") $3} END {print v}' \
  "$root/usr/include/torch/csrc/api/include/torch/version.h")
echo "check-torch2: LibTorch $version headers from Debian $suite's $package"

# ---- The units and their commands ----------------------------------------------------------
cuda_flags=""
if [ -f "$cuda_home/include/cuda_runtime_api.h" ]; then
  # CMake generates c10/cuda/impl/cuda_cmake_macros.h when it builds LibTorch with CUDA, so the
  # CPU-only package lacks it; this is what a shared-library build generates.
  shim=$cache/cuda-shim/c10/cuda/impl
  mkdir -p "$shim"
  printf '%s\n' '#pragma once' '// check-torch2.sh: as a shared CUDA build of LibTorch generates it.' \
    '#define C10_CUDA_BUILD_SHARED_LIBS' >"$shim/cuda_cmake_macros.h"
  cuda_flags="-DPONDER_WITH_CUDA=1"
  cuda_flags+=" -isystem $cache/cuda-shim -isystem $cuda_home/include"
else
  echo "check-torch2: no $cuda_home/include/cuda_runtime_api.h: skipping the CUDA pass" >&2
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
# One line per unit and pass: "<pass>\t<file>\t<directory>\t<command>". The commands are the build's own,
# with the LibTorch headers put first, the precompiled header (built against the installed
# LibTorch) replaced by its source, and no output file.
python3 - "$build/compile_commands.json" "$root/usr/include" "$cuda_flags" \
  "${PONDER_TORCH2_ONLY:-}" >"$list" <<'PY'
import json, os, re, shlex, sys

db, inc, cuda_flags, only = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
src = os.getcwd()
torch_include = re.compile(r'#\s*include\s*[<"](ATen|c10|torch|caffe2)/')
local_include = re.compile(r'#\s*include\s*"([^"]+)"')
seen = {}

def uses_torch(path, depth=0):
    """Whether the file or a project header it includes (transitively) includes LibTorch."""
    if path in seen or depth > 20:
        return seen.get(path, False)
    seen[path] = False
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return False
    found = bool(torch_include.search(text))
    if not found:
        for name in local_include.findall(text):
            for base in (src, os.path.dirname(path)):
                p = os.path.normpath(os.path.join(base, name))
                if os.path.isfile(p) and uses_torch(p, depth + 1):
                    found = True
                    break
            if found:
                break
    seen[path] = found
    return found

for entry in json.load(open(db)):
    f = entry["file"]
    if not f.startswith(src + "/") or (only and not re.search(only, f)):
        continue
    args = entry.get("arguments") or shlex.split(entry["command"])
    if not (any("cmake_pch" in a for a in args) or uses_torch(f)):
        continue
    out, skip = [args[0]], False
    for i, a in enumerate(args[1:], 1):
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD", "-fpch-preprocess", "-Winvalid-pch"):
            continue
        if a == "-include" and i + 1 < len(args) and "cmake_pch" in args[i + 1]:
            out += ["-include", os.path.join(src, "cmake/torch_pch.h")]
            skip = True
            continue
        out.append(a)
    out[1:1] = ["-fsyntax-only", "-isystem", inc,
                "-isystem", os.path.join(inc, "torch/csrc/api/include")]
    rel = os.path.relpath(f, src)
    d = entry["directory"]
    print("cpu\t%s\t%s\t%s" % (rel, d, shlex.join(out)))
    if cuda_flags:
        cuda = out[:1] + shlex.split(cuda_flags) + out[1:]
        print("cuda\t%s\t%s\t%s" % (rel, d, shlex.join(cuda)))
PY
units=$(wc -l <"$list")
[ "$units" -gt 0 ] || {
  echo "check-torch2: no LibTorch units found in $build/compile_commands.json" >&2
  exit 2
}
echo "check-torch2: $units compilations ($jobs at a time)"

logs=$(mktemp -d)
trap 'rm -f "$list"; rm -rf "$logs"' EXIT
export logs
check_one() {
  local pass file dir cmd log
  IFS=$'\t' read -r pass file dir cmd <<<"$1"
  log="$logs/$pass-${file//\//_}.log"
  if (cd "$dir" && eval "$cmd") >"$log" 2>&1; then
    echo "ok      $pass $file"
    rm -f "$log"
  else
    echo "FAILED  $pass $file"
  fi
}
export -f check_one
# Each command runs in its own directory, as the build runs it.
# shellcheck disable=SC2016  # $1 is check_one's argument, expanded by the inner bash
tr '\n' '\0' <"$list" | xargs -0 -n 1 -P "$jobs" bash -c 'check_one "$1"' _
failed=0
for log in "$logs"/*.log; do
  [ -e "$log" ] || continue
  failed=$((failed + 1))
  echo "==== $(basename "$log" .log)"
  grep -E "error|Error" "$log" | head -n 20
done
echo "check-torch2: $((units - failed)) of $units compilations passed against LibTorch $version"
[ "$failed" -eq 0 ]
