#!/bin/sh
# Writes the app's page to DIR/index.html: "<MESSAGE>, app version <VERSION> from <HOSTNAME>".
# MESSAGE comes from the deployment (a ConfigMap in the GitOps repository); VERSION from app/VERSION.
set -e
dir="${1:?usage: page.sh DIR}"
version="$(cat "$(dirname "$0")/VERSION")"
mkdir -p "$dir"
echo "${MESSAGE:-hello}, app version $version from ${HOSTNAME:-$(hostname)}" > "$dir/index.html"
