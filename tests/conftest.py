"""Fixtures that start the real things: git repositories in temp dirs, podman with a local image.

Nothing here fakes podman or git. Tests marked ``podman`` need the packages that
``scripts/test.sh`` installs; they fail (not skip) when podman is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX_IMAGE = "localhost/gitferry-test/busybox:1"

os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))
# Every 'gitferry up' a test starts serves webhooks on a free port, never on the default 9292 that a
# demo (or another test run) on this host may hold.
os.environ.setdefault("GITFERRY_HTTP_PORT", "0")


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity and return stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def busybox_image() -> str:
    """A real image built from Debian's busybox-static: ``FROM scratch`` plus busybox (has httpd)."""
    if shutil.which("podman") is None or shutil.which("buildah") is None:
        pytest.fail("podman and buildah are required: run scripts/test.sh, which installs them")
    exists = subprocess.run(["podman", "image", "exists", BUSYBOX_IMAGE], check=False)
    if exists.returncode != 0:
        build_busybox_image(BUSYBOX_IMAGE)
    return BUSYBOX_IMAGE


def build_busybox_image(tag: str, tmp: Path | None = None) -> None:
    busybox = Path("/bin/busybox")
    context = Path(tmp or subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip())
    shutil.copy(busybox, context / "busybox")
    (context / "Containerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    subprocess.run(
        ["buildah", "build", "--isolation=chroot", "-q", "-t", tag, str(context)], check=True, capture_output=True
    )


@pytest.fixture
def podman_namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Kubernetes namespace name unique to this test; every pod made under it is removed after."""
    name = "t" + format(abs(hash(request.node.nodeid)) % 10**8, "08d")
    yield name
    remove_pods_with_prefix(name + "-")


def remove_pods_with_prefix(prefix: str) -> None:
    out = subprocess.run(
        ["podman", "pod", "ps", "--format", "{{.Name}}"], capture_output=True, text=True, check=False
    ).stdout.split()
    doomed = [p for p in out if p.startswith(prefix)]
    if doomed:
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", *doomed], capture_output=True, check=False)
