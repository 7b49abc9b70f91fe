#!/bin/sh
# The image's command: write the page, then serve it with busybox httpd on $PORT (default 8080).
set -e
sh "$(dirname "$0")/page.sh" /www
exec httpd -f -p "${PORT:-8080}" -h /www
