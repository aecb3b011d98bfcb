#!/usr/bin/env bash
# Runs a command in a network namespace of its own in which only loopback exists, so that a
# server that listens on every interface (c10d's TCPStore cannot be told to bind loopback
# only) is reachable from this machine's tests alone, and fixed ports never collide with
# another test run. Needs root (CI runs as root) or unprivileged user namespaces.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi
if [ "$(id -u)" -eq 0 ]; then
  unshare=(unshare --net)
else
  unshare=(unshare --net --map-root-user)
fi
# shellcheck disable=SC2016  # $@ expands inside the namespace's shell
exec "${unshare[@]}" bash -c 'ip link set lo up && exec "$@"' netns_run "$@"
