#!/usr/bin/env bash
# The test command: installs everything the tests need, then runs the checks and the suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# openssh-server: the ssh:// source tests run a real sshd on 127.0.0.1.
# docker-registry, skopeo, apache2-utils (htpasswd): the registry client tests run a real registry.
# chromium: the web UI tests drive it with Playwright (tests/browser.py; never 'playwright install').
GITFERRY_EXTRA_PACKAGES="openssh-server docker-registry skopeo apache2-utils chromium" source "$ROOT/scripts/setup.sh"
cd "$ROOT"
echo "== ruff";          ruff check gitferry tests benchmarks
echo "== mypy --strict"; mypy gitferry
echo "== import layers"; lint-imports
echo "== pytest";        python -m pytest -q "$@"
