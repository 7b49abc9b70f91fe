"""A real OpenSSH server on 127.0.0.1 for tests, with throwaway host and client keys.

Runs Debian's ``/usr/sbin/sshd`` (package openssh-server, installed by scripts/test.sh) in the
foreground on a free port, accepting only the generated client key for the current user.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


@dataclass(frozen=True)
class SSHServer:
    port: int
    user: str
    client_key: str  # private key text, as a Secret's ``identity``
    known_hosts: str  # the server's host key, as a Secret's ``known_hosts``

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_ssh(workdir: Path) -> Iterator[SSHServer]:
    if not SSHD.exists():
        raise RuntimeError("sshd is not installed: run scripts/test.sh, which installs openssh-server")
    workdir.mkdir(parents=True, exist_ok=True)
    _keygen(workdir / "host_key")
    _keygen(workdir / "client_key")
    (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
    (workdir / "authorized_keys").chmod(0o600)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    port = _free_port()
    config = workdir / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {workdir / 'host_key'}\n"
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        f"StrictModes no\nUsePAM no\nPidFile {workdir / 'sshd.pid'}\n"
    )
    server = subprocess.Popen([str(SSHD), "-D", "-f", str(config), "-E", str(workdir / "sshd.log")])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        host_key = " ".join((workdir / "host_key.pub").read_text().split()[:2])
        yield SSHServer(
            port=port,
            user=getpass.getuser(),
            client_key=(workdir / "client_key").read_text(),
            known_hosts=f"[127.0.0.1]:{port} {host_key}\n",
        )
    finally:
        server.terminate()
        server.wait(10)
