#!/usr/bin/env bash
# Installs what gitferry needs on a Debian machine: git, podman (with runc), buildah, kubectl
# (for 'kubectl kustomize'), busybox-static (test and demo images), and a venv with gitferry.
# Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(git podman buildah runc catatonit uidmap busybox-static python3-venv ${GITFERRY_EXTRA_PACKAGES:-})
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null; then
  echo "setup: installing kubectl (for 'kubectl kustomize')"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq kubectl >/dev/null 2>&1 || {
    echo "setup: kubectl is not in this machine's apt sources; install kubectl or kustomize and run again" >&2
    exit 1
  }
fi

# podman on hosts where crun cannot run and ulimits cannot be raised: see scripts/containers.conf.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/scripts/containers.conf}"

VENV="${GITFERRY_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT[test]"
export PATH="$VENV/bin:$PATH"
