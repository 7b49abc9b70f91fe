#!/usr/bin/env bash
# Builds a small real image, FROM scratch plus Debian's static busybox (which has httpd and sh).
# Usage: scripts/make-image.sh TAG   (no registry or network needed)
set -euo pipefail
tag="$1"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp /bin/busybox "$context/busybox"
cat > "$context/Containerfile" <<'CONTAINERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CONTAINERFILE
buildah build --isolation=chroot -q -t "$tag" "$context" >/dev/null
echo "built $tag"
