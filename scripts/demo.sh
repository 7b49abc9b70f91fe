#!/usr/bin/env bash
# The main job: the whole CI/CD + GitOps loop on this machine, everything on the loopback.
#   - an application repository (examples/app-source: a small HTTP app, its Containerfile and a
#     .tekton/ pipeline: clone -> lint + test -> build-image),
#   - a GitOps repository (examples/gitops-config: dev and staging with 2 replicas each, plus
#     examples/ci: the app's Repository trigger and Flux image automation),
#   - a docker-registry on 127.0.0.1:15000, and 'gitferry up'.
# A commit to the app is tested, built and pushed; the image automation commits the new tag to the
# GitOps repository; dev and then staging serve it. The script says what to change to see it.
# Everything lives under $GITFERRY_DEMO_DIR (default ~/gitferry-demo); run again to resume.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GITFERRY_EXTRA_PACKAGES="docker-registry ${GITFERRY_EXTRA_PACKAGES:-}" source "$ROOT/scripts/setup.sh"

DEMO="${GITFERRY_DEMO_DIR:-$HOME/gitferry-demo}"
GF="$VENV/bin/gitferry"   # the CLI; setup.sh put it on this script's PATH, not on yours
export GITFERRY_DATA_DIR="$DEMO/data"
REGISTRY=127.0.0.1:15000                         # as in examples/ci and examples/app-source/.tekton
BASE_IMAGE=localhost/gitferry-demo/web:1         # busybox: the app's base and the pipeline's step image
APP_IMAGE="$REGISTRY/gitferry-demo/app"
FIRST_TAG=main-0000000-0                         # the image the deployment starts from (version 1)
mkdir -p "$DEMO"
DEMO="$(cd "$DEMO" && pwd)"

commit_all() {  # commit_all DIR MESSAGE: commit everything in DIR and push it to main
  git -C "$1" add -A
  git -C "$1" -c user.name=demo -c user.email=demo@localhost commit -q -m "$2"
  git -C "$1" push -q origin HEAD:main
}
new_repository() {  # new_repository NAME: a bare repository (the 'remote') and a work clone of it
  git init -q --bare --initial-branch=main "$DEMO/$1.git"
  git clone -q "$DEMO/$1.git" "$DEMO/$1"
  # An identity for the commits you make in the demo's clones, if you have none.
  git -C "$DEMO/$1" config user.email >/dev/null || git -C "$DEMO/$1" config user.email demo@localhost
  git -C "$DEMO/$1" config user.name >/dev/null || git -C "$DEMO/$1" config user.name "demo developer"
}
registry_has() {  # registry_has [TAG]: the registry answers (and has $APP_IMAGE:TAG)
  "$VENV/bin/python" - "$REGISTRY" "${1:-}" <<'PY'
import json, sys, urllib.request
registry, tag = sys.argv[1], sys.argv[2]
try:
    if not tag:
        urllib.request.urlopen(f"http://{registry}/v2/", timeout=2)
        sys.exit(0)
    listed = urllib.request.urlopen(f"http://{registry}/v2/gitferry-demo/app/tags/list", timeout=5)
    sys.exit(0 if tag in (json.load(listed).get("tags") or []) else 1)
except OSError:
    sys.exit(1)
PY
}

podman image exists "$BASE_IMAGE" || bash "$ROOT/scripts/make-image.sh" "$BASE_IMAGE"

# The registry the pipeline pushes to and the image automation scans; stopped when this script ends.
if ! registry_has; then
  mkdir -p "$DEMO/registry"
  cat > "$DEMO/registry/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DEMO/registry/storage
http:
  addr: $REGISTRY
YML
  docker-registry serve "$DEMO/registry/config.yml" >> "$DEMO/registry/registry.log" 2>&1 &
  REGISTRY_PID=$!
  trap 'kill "$REGISTRY_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do registry_has && break; sleep 0.1; done
  registry_has || { echo "demo: docker-registry did not start, see $DEMO/registry/registry.log" >&2; exit 1; }
fi

# The application repository.
if [ ! -d "$DEMO/app-source.git" ]; then
  new_repository app-source
  cp -r "$ROOT/examples/app-source/." "$DEMO/app-source/"
  commit_all "$DEMO/app-source" "First version of the app"
fi

# Version 1 of the app, so dev and staging serve it before the first pipeline run.
if ! registry_has "$FIRST_TAG"; then
  echo "demo: building the app's first image, $APP_IMAGE:$FIRST_TAG"
  buildah build --isolation=chroot -q -t "$APP_IMAGE:$FIRST_TAG" "$ROOT/examples/app-source" >/dev/null
  buildah push -q --tls-verify=false "$APP_IMAGE:$FIRST_TAG" "docker://$APP_IMAGE:$FIRST_TAG"
fi

# The GitOps repository: dev and staging, then what CI adds (also to a demo made before it existed).
if [ ! -d "$DEMO/gitops-config.git" ]; then
  new_repository gitops-config
  cp -r "$ROOT/examples/gitops-config/." "$DEMO/gitops-config/"
  commit_all "$DEMO/gitops-config" "Add dev and staging"
fi
if [ ! -f "$DEMO/gitops-config/clusters/local/receiver.yaml" ]; then
  git -C "$DEMO/gitops-config" pull -q --rebase origin main
  cp -r "$ROOT/examples/ci/." "$DEMO/gitops-config/"
  sed -i "s|APP_SOURCE_URL|file://$DEMO/app-source.git|" "$DEMO/gitops-config/clusters/local/app-repository.yaml"
  commit_all "$DEMO/gitops-config" "CI: build the app on each push, deploy its newest image"
fi

gitferry bootstrap --url "file://$DEMO/gitops-config.git" --branch main --path ./clusters/local
git -C "$DEMO/gitops-config" pull -q --rebase origin main

# The CI trigger: pushes to either repository call the Receiver in clusters/local/receiver.yaml
# through a post-receive hook. Its token is kept in $DEMO (not in Git) and stored as a Secret; one
# reconcile here stores the Receiver (and deploys version 1) so the hooks can be pointed at it.
HTTP_PORT="${GITFERRY_HTTP_PORT:-9292}"
[ -s "$DEMO/webhook-token" ] || (umask 077 && head -c 24 /dev/urandom | base64 > "$DEMO/webhook-token")
WEBHOOK_TOKEN="$(cat "$DEMO/webhook-token")" gitferry create secret receiver webhook-token --token-env WEBHOOK_TOKEN
gitferry --no-tls-verify reconcile kustomization flux-system --with-source
for repository in app-source gitops-config; do
  gitferry receiver hook "$DEMO/$repository.git" --receiver git-push --url "http://127.0.0.1:$HTTP_PORT"
done

# The web UI: an admin token made afresh each run (only its hash is stored), kept in $DEMO.
gitferry token revoke demo >/dev/null 2>&1 || true
(umask 077 && gitferry token create --role admin --name demo 2>/dev/null > "$DEMO/ui-token")

version="$(cat "$DEMO/app-source/app/VERSION" 2>/dev/null || true)"
case "$version" in ''|*[!0-9]*) next=2 ;; *) next=$((version + 1)) ;; esac

cat <<TXT

  Two Git repositories, a registry and gitferry, all under $DEMO:
    app-source/      the app: app/ (page and server), test/, Containerfile, .tekton/push.yaml
    gitops-config/   dev and staging, the app's CI trigger and image automation (clusters/local)
    registry         $REGISTRY, where the pipeline pushes $APP_IMAGE:main-<commit>-<time>

  The web UI: http://127.0.0.1:$HTTP_PORT/ui/  (sign in with the admin token in $DEMO/ui-token;
  a read-only one: $GF token create --role viewer --name someone). API: /api/v1, spec: /openapi.json

  Once both Kustomizations are Ready (a few seconds), the app answers:
    curl 127.0.0.1:18080   # dev, replica 0     (18081: replica 1)
    curl 127.0.0.1:18180   # staging, replica 0 (18181: replica 1)

  To see a deploy, change the app in another terminal and push it:
    cd $DEMO/app-source
    echo $next > app/VERSION
    git commit -qam "Version $next" && git push -q
  In seconds the pipeline lints, tests, builds and pushes the image, the image automation
  commits its tag to gitops-config ("[ci skip] ..."), and dev, then staging, serve version $next.
  Watch it (with: export GITFERRY_DATA_DIR=$GITFERRY_DATA_DIR):
    $GF pipelinerun logs --last -f      # the run, line by line: [task : step]
    $GF pipelinerun list                # and: describe --last
    $GF get images policy               # the tag the ImagePolicy picked
    git -C $DEMO/gitops-config pull -q && git -C $DEMO/gitops-config log -1 --stat
  A commit that breaks the test (echo two > app/VERSION) fails its run and deploys nothing.

  GitOps changes work too: in $DEMO/gitops-config (git pull first: the automation commits there)
  change replicas: 2 -> 3 in apps/base/deployment.yaml, commit and push: its hook tells gitferry.
  Drift: podman pod rm -f staging-web-1  (back at the next interval, or at once with
  $GF reconcile kustomization apps-staging). More: $GF get kustomizations | events | tree kustomization flux-system

TXT
gitferry --no-tls-verify up --http-port "$HTTP_PORT"
