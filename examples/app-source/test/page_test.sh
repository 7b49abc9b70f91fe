#!/bin/sh
# The pipeline's test: app/VERSION is a version number, and the page says message, version and host.
set -e
cd "$(dirname "$0")/.."
version="$(cat app/VERSION)"
case "$version" in
  '' | *[!0-9.]* | .* | *.)
    echo "FAIL: app/VERSION must be a version number such as 2 or 1.4, not '$version'"
    exit 1
    ;;
esac
mkdir -p "${TMPDIR:=/tmp}"  # a FROM-scratch image has no /tmp
out="$(mktemp -d)"
MESSAGE="hello from the test" HOSTNAME=test-host sh app/page.sh "$out"
page="$(cat "$out/index.html")"
expected="hello from the test, app version $version from test-host"
if [ "$page" != "$expected" ]; then
  echo "FAIL: the page says '$page', expected '$expected'"
  exit 1
fi
echo "ok: $page"
