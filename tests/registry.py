"""A real CNCF Distribution registry on 127.0.0.1 for tests, and fast ways to fill it.

Runs Debian's ``/usr/bin/docker-registry`` (package docker-registry, installed by
scripts/test.sh) with filesystem storage in a temp dir, optionally behind htpasswd basic auth
(a bcrypt entry made by ``htpasswd -Bbn`` from apache2-utils).

Images get in two ways: ``push_with_buildah`` pushes a real image built by buildah (tests that
use it are marked ``podman``), ``upload_tiny_image`` writes a minimal OCI image straight through
the HTTP API. ``add_tags`` then puts the same manifest under many tags, so 2,000 tags take
seconds rather than 2,000 pushes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

DOCKER_REGISTRY = Path("/usr/bin/docker-registry")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# What a manifest GET accepts, so the registry hands back whatever was pushed unchanged.
ANY_MANIFEST = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class LocalRegistry:
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def image(self, repository: str) -> str:
        return f"{self.host}/{repository}"

    def http(self) -> httpx.Client:
        auth = (self.username, self.password) if self.username and self.password else None
        return httpx.Client(base_url=self.base_url, auth=auth, timeout=30)

    def dockerconfigjson(self, username: str | None = None, password: str | None = None) -> str:
        """A ``.dockerconfigjson`` Secret value for this registry (its own users unless given)."""
        user, secret = username or self.username or "", password or self.password or ""
        return json.dumps({"auths": {self.host: {"username": user, "password": secret}}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _htpasswd_entry(username: str, password: str) -> str:
    if shutil.which("htpasswd") is None:
        raise RuntimeError("htpasswd is not installed: run scripts/test.sh, which installs apache2-utils")
    done = subprocess.run(["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True)
    return done.stdout.strip() + "\n"


@contextmanager
def serve_registry(
    workdir: Path, *, username: str | None = None, password: str | None = None
) -> Iterator[LocalRegistry]:
    """Run ``docker-registry serve`` on a free loopback port until the block ends."""
    if not DOCKER_REGISTRY.exists():
        raise RuntimeError("docker-registry is not installed: run scripts/test.sh, which installs it")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if username is not None and password is not None:
        (workdir / "htpasswd").write_text(_htpasswd_entry(username, password))
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {workdir / 'htpasswd'}\n"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    with (workdir / "registry.log").open("wb") as log:
        server = subprocess.Popen([str(DOCKER_REGISTRY), "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_until_serving(port, server, workdir / "registry.log")
        yield LocalRegistry(port, username, password)
    finally:
        server.terminate()
        server.wait(10)
        remove_local_images(f"127.0.0.1:{port}/")  # what builds pushed here also sits in local storage


def remove_local_images(prefix: str) -> None:
    """Remove the images in local container storage whose name starts with ``prefix``."""
    listed = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=False
    ).stdout.split()
    doomed = [name for name in listed if name.startswith(prefix)]
    if doomed:
        subprocess.run(["podman", "rmi", "-f", *doomed], capture_output=True, check=False)


def _wait_until_serving(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"docker-registry exited at start: {log.read_text()[-2000:]}")
        try:
            # 200 when anonymous, 401 behind htpasswd: either means the API is up.
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not answer on 127.0.0.1:{port} within 15 s")


def push_with_buildah(registry: LocalRegistry, local_image: str, repository: str, tag: str) -> None:
    """Push an image from local container storage, the way a pipeline's buildah step does."""
    argv = ["buildah", "push", "--tls-verify=false", "-q"]
    if registry.username and registry.password:
        argv.append(f"--creds={registry.username}:{registry.password}")
    argv += [local_image, f"docker://{registry.image(repository)}:{tag}"]
    subprocess.run(argv, check=True, capture_output=True)


def _upload_blob(http: httpx.Client, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = http.post(f"/v2/{repository}/blobs/uploads/")
    start.raise_for_status()
    # The Location carries the upload's state in its query: add the digest, keep the rest.
    target = httpx.URL(start.headers["Location"]).copy_merge_params({"digest": digest})
    done = http.put(target, content=data)
    done.raise_for_status()
    return digest


def upload_tiny_image(registry: LocalRegistry, repository: str, tag: str) -> str:
    """Write a one-layer OCI image via the HTTP API (no buildah needed); return its manifest digest."""
    with registry.http() as http:
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        layer = b"gitferry test layer\n"
        blobs = [(config.encode(), "application/vnd.oci.image.config.v1+json")]
        blobs.append((layer, "application/vnd.oci.image.layer.v1.tar"))
        described = [
            {"mediaType": media, "digest": _upload_blob(http, repository, data), "size": len(data)}
            for data, media in blobs
        ]
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": described[0], "layers": described[1:]}
        body = json.dumps(manifest).encode()
        put = http.put(f"/v2/{repository}/manifests/{tag}", content=body, headers={"Content-Type": OCI_MANIFEST})
        put.raise_for_status()
        return "sha256:" + hashlib.sha256(body).hexdigest()


def add_tags(registry: LocalRegistry, repository: str, source_tag: str, new_tags: Sequence[str]) -> None:
    """Put the manifest of ``source_tag`` under every tag in ``new_tags``: one GET, many PUTs."""
    with registry.http() as http:
        got = http.get(f"/v2/{repository}/manifests/{source_tag}", headers={"Accept": ANY_MANIFEST})
        got.raise_for_status()
    asyncio.run(_put_manifests(registry, repository, got.content, got.headers["Content-Type"], new_tags))


async def _put_manifests(
    registry: LocalRegistry, repository: str, body: bytes, media_type: str, tags: Sequence[str]
) -> None:
    auth = (registry.username, registry.password) if registry.username and registry.password else None
    limit = asyncio.Semaphore(16)  # enough to keep the registry busy without opening 2,000 sockets
    async with httpx.AsyncClient(base_url=registry.base_url, auth=auth, timeout=30) as http:

        async def put(tag: str) -> None:
            async with limit:
                answer = await http.put(
                    f"/v2/{repository}/manifests/{tag}", content=body, headers={"Content-Type": media_type}
                )
                answer.raise_for_status()

        await asyncio.gather(*(put(tag) for tag in tags))


def list_tags(registry: LocalRegistry, repository: str) -> list[str]:
    """The tags of ``repository`` (none when the registry does not know it)."""
    with registry.http() as http:
        answer = http.get(f"/v2/{repository}/tags/list")
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return sorted(answer.json().get("tags") or [])
