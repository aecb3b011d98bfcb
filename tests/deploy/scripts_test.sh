#!/usr/bin/env bash
# `bash -n` and shellcheck on every shell script of the repository: files ending in .sh or
# .sbatch and files whose first line runs bash or sh (git's list of tracked and new files).
# First a script with known faults, to show that both checks can fail here.
set -euo pipefail
cd "${PONDER_SOURCE_DIR:-$(dirname "$0")/../..}"
command -v shellcheck >/dev/null || {
  echo "shellcheck is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/usr/bin/env bash\nif true; then\n' >"$tmp/syntax.sh"
# shellcheck disable=SC2016  # the $1 is meant for the faulty script
printf '#!/usr/bin/env bash\nrm -rf $1/*\n' >"$tmp/unquoted.sh"
if bash -n "$tmp/syntax.sh" 2>/dev/null; then
  echo "bash -n accepted a script with a syntax error" >&2
  exit 1
fi
if shellcheck "$tmp/unquoted.sh" >/dev/null; then
  echo "shellcheck accepted an unquoted expansion" >&2
  exit 1
fi

scripts=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  case "$f" in
  *.sh | *.sbatch) scripts+=("$f") ;;
  *) if head -n 1 "$f" | grep -qE '^#!.*\b(bash|sh)\b'; then scripts+=("$f"); fi ;;
  esac
done < <(git ls-files -z --cached --others --exclude-standard)
[ ${#scripts[@]} -gt 0 ] || {
  echo "found no scripts (is this a git checkout?)" >&2
  exit 1
}

failed=0
for f in "${scripts[@]}"; do
  if ! bash -n "$f"; then
    echo "bash -n: $f" >&2
    failed=1
  fi
done
shellcheck "${scripts[@]}" || failed=1
echo "checked ${#scripts[@]} scripts: ${scripts[*]}"
exit "$failed"
