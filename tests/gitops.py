"""Helpers that build real GitOps repositories for tests, from examples/gitops-config."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, git

EXAMPLE = ROOT / "examples" / "gitops-config"


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Below the kernel's ephemeral range: a connection to a port there that nobody listens on can be
# given that same port as its source and connect to itself, echoing the request back.
_PORTS = range(20000, min(_ephemeral_start(), 40000) - 200)


def free_port_block(width: int = 3, spread: int = 100) -> int:
    """A base port P with P..P+width-1 and P+spread..P+spread+width-1 all free on 127.0.0.1."""
    for _ in range(200):
        base = random.choice(_PORTS)
        ports = [base + i for i in range(width)] + [base + spread + i for i in range(width)]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port block on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class GitOpsRepo:
    """A bare repository (the 'remote') and a work clone to push commits from."""

    def __init__(
        self, root: Path, *, dev_port: int, staging_port: int, image: str, prefix: str, interval: str = "1m"
    ) -> None:
        """``prefix`` goes before the namespaces (``<prefix>dev``) so tests never meet the demo's pods."""
        self.bare = root / "gitops-config.git"
        self.work = root / "gitops-config"
        self.url = f"file://{self.bare}"
        git(root, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.work))
        shutil.copytree(EXAMPLE, self.work, dirs_exist_ok=True)
        apps = self.work / "clusters" / "local" / "apps.yaml"
        text = apps.read_text().replace('"18080"', f'"{dev_port}"').replace('"18180"', f'"{staging_port}"')
        text = text.replace("interval: 1m", f"interval: {interval}")
        text = text.replace("targetNamespace: dev", f"targetNamespace: {prefix}dev")
        apps.write_text(text.replace("targetNamespace: staging", f"targetNamespace: {prefix}staging"))
        self.edit("apps/base/deployment.yaml", "localhost/gitferry-demo/web:1", image)
        self.commit("Add dev and staging")

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.work / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new))

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "pull", "-q", "--rebase", "origin", "main") if self._has_remote_main() else None
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD").strip()

    def pull(self) -> None:
        git(self.work, "pull", "-q", "--rebase", "origin", "main")

    def _has_remote_main(self) -> bool:
        return bool(git(self.work, "ls-remote", "--heads", "origin", "main").strip())


def http_get(port: int, timeout: float = 2.0) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError):
        return None


def wait_for(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def pod_names(prefix: str) -> list[str]:
    out = subprocess.run(
        ["podman", "pod", "ps", "--format", "{{.Name}} {{.Status}}"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.startswith(prefix) and "Running" in line)


TEMPLATE = """\
Automated image update

Automation name: {{ .AutomationObject }}

{{ range .Changed.Changes -}}
{{ .OldValue }} -> {{ .NewValue }}
{{ end -}}
"""


def image_automation_yaml(
    image: str,
    *,
    scan_interval: str = "1m",
    semver_range: str = "^1.0",
    push_branch: str = "",
    digests: str = "Never",
    template: str = TEMPLATE,
) -> str:
    """An ImageRepository, ImagePolicy and ImageUpdateAutomation named ``app`` in flux-system,
    committing as ``Image Bot <bot@example.com>`` the markers under ./apps of the root GitRepository."""
    push = f"\n    push:\n      branch: {push_branch}" if push_branch else ""
    template = textwrap.indent(template, " " * 8)
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: app
  namespace: flux-system
spec:
  image: {image}
  interval: {scan_interval}
  insecure: true
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  policy:
    semver:
      range: "{semver_range}"
  digestReflectionPolicy: {digests}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: app
  namespace: flux-system
spec:
  interval: 1m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        name: Image Bot
        email: bot@example.com
      messageTemplate: |
{template}{push}
  update:
    path: ./apps
    strategy: Setters
"""


def marked_deployment(image: str, policy: str = "flux-system:app") -> str:
    """Deployment ``web`` whose image carries a Setters marker for ``policy``."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          # the image the automation keeps current
          image: "{image}" # {{"$imagepolicy": "{policy}"}}
"""


# The CI/CD flow (tests/test_e2e_cicd.py, scripts/demo.sh): examples/app-source is the application
# repository, examples/ci what the GitOps repository gains for it. Their files name the demo's
# registry and base image; tests replace those (and the app repository's URL) when they copy them.
APP_SOURCE = ROOT / "examples" / "app-source"
CI_EXAMPLE = ROOT / "examples" / "ci"
DEMO_REGISTRY = "127.0.0.1:15000"
DEMO_BASE_IMAGE = "localhost/gitferry-demo/web:1"
APP_SOURCE_URL = "APP_SOURCE_URL"
APP_IMAGE = "gitferry-demo/app"  # the repository in the registry the pipeline pushes to
FIRST_APP_TAG = "main-0000000-0"  # the image the demo starts from: sorts before every pipeline tag


def copy_example(source: Path, dest: Path, replace: dict[str, str]) -> None:
    """Copy the files under ``source`` into ``dest`` (modes kept), replacing each key of ``replace``."""
    for path in sorted(source.rglob("*")):
        target = dest / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        text = path.read_text()
        for old, new in replace.items():
            text = text.replace(old, new)
        target.write_text(text)
        shutil.copymode(path, target)


class AppSource:
    """The application repository from examples/app-source: a bare 'remote' and a work clone."""

    def __init__(self, root: Path, replace: dict[str, str]) -> None:
        self.bare = root / "app-source.git"
        self.work = root / "app-source"
        self.url = f"file://{self.bare}"
        git(root, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.work))
        copy_example(APP_SOURCE, self.work, replace)
        self.commit("First version of the app")

    def write(self, relative: str, text: str) -> None:
        (self.work / relative).write_text(text)

    def commit(self, message: str) -> str:
        """Commit everything and push it to ``main``; the new commit."""
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD").strip()


def add_ci(repo: GitOpsRepo, replace: dict[str, str]) -> None:
    """Copy examples/ci over the GitOps repository's work clone (not committed yet)."""
    copy_example(CI_EXAMPLE, repo.work, replace)


def build_image(context: Path, name: str) -> None:
    """``buildah build`` a folder's Containerfile into local storage as ``name``."""
    subprocess.run(
        ["buildah", "build", "--isolation=chroot", "-q", "-t", name, str(context)], check=True, capture_output=True
    )
