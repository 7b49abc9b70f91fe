#!/usr/bin/env bash
# The main job: a local GitOps loop on podman. Creates a sample GitOps repository (dev and staging
# running the same app with 2 replicas), bootstraps gitferry onto it and runs 'gitferry up'.
# Everything lives under $GITFERRY_DEMO_DIR (default ~/gitferry-demo); run again to resume.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"

DEMO="${GITFERRY_DEMO_DIR:-$HOME/gitferry-demo}"
GF="$VENV/bin/gitferry"   # the CLI; setup.sh put it on this script's PATH, not on yours
export GITFERRY_DATA_DIR="$DEMO/data"
mkdir -p "$DEMO"

podman image exists localhost/gitferry-demo/web:1 || bash "$ROOT/scripts/make-image.sh" localhost/gitferry-demo/web:1

if [ ! -d "$DEMO/gitops-config.git" ]; then
  git init -q --bare --initial-branch=main "$DEMO/gitops-config.git"
  git clone -q "$DEMO/gitops-config.git" "$DEMO/gitops-config"
  cp -r "$ROOT/examples/gitops-config/." "$DEMO/gitops-config/"
  git -C "$DEMO/gitops-config" add -A
  git -C "$DEMO/gitops-config" -c user.name=demo -c user.email=demo@localhost commit -q -m "Add dev and staging"
  git -C "$DEMO/gitops-config" push -q origin HEAD:main
fi

gitferry bootstrap --url "file://$DEMO/gitops-config.git" --branch main --path ./clusters/local
git -C "$DEMO/gitops-config" pull -q --rebase origin main

cat <<TXT

  The demo GitOps repository is checked out in $DEMO/gitops-config.
  Once both Kustomizations are Ready (a few seconds):

    curl 127.0.0.1:18080   # dev, replica 0     (18081: replica 1)
    curl 127.0.0.1:18180   # staging, replica 0 (18181: replica 1)

  To see a deploy, in another terminal:
    cd $DEMO/gitops-config
    sed -i 's/version 1/version 2/' apps/base/configmap.yaml     # or: replicas: 2 -> 3
    git commit -qam "Version 2" && git push -q
    GITFERRY_DATA_DIR=$GITFERRY_DATA_DIR $GF reconcile source git flux-system   # or wait for the 1m interval

  To see drift corrected: podman pod rm -f staging-web-1   (back at the next interval,
  or at once with: $GF reconcile kustomization apps-staging)
  Other views: $GF get kustomizations | events | tree kustomization flux-system | diff kustomization apps-dev
  (each with GITFERRY_DATA_DIR=$GITFERRY_DATA_DIR exported)

TXT
exec gitferry up
