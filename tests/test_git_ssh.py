"""GitRepository over ssh:// against a real OpenSSH server on loopback (tests/sshd.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitferry.errors import GitError
from gitferry.sources import git
from tests.conftest import git as run_git
from tests.sshd import SSHServer, serve_ssh
from tests.test_git_source import repository


@pytest.fixture
def sshd(tmp_path: Path) -> SSHServer:
    with serve_ssh(tmp_path / "sshd") as server:
        yield server  # type: ignore[misc]


def test_ssh_key_and_known_hosts_from_the_secret(sshd: SSHServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    run_git(tmp_path, "init", "-q", "-b", "main", str(work))
    (work / "app.yaml").write_text("kind: ConfigMap\n")
    run_git(work, "add", "-A")
    run_git(work, "commit", "-q", "-m", "over ssh")
    sha = run_git(work, "rev-parse", "HEAD").strip()
    repo = repository(sshd.url(work / ".git"), ref={"branch": "main"})
    good = git.GitCredentials(identity=sshd.client_key, known_hosts=sshd.known_hosts)

    artifact = asyncio.run(git.fetch(repo, storage=tmp_path / "s1", credentials=good))
    assert artifact.revision == f"main@sha1:{sha}"
    assert (artifact.path / "app.yaml").read_text() == "kind: ConfigMap\n"

    stranger = git.GitCredentials(
        identity=sshd.client_key, known_hosts=f"[127.0.0.1]:{sshd.port} ssh-ed25519 {'A' * 68}\n"
    )
    with pytest.raises(GitError, match="host key is not trusted"):
        asyncio.run(git.fetch(repo, storage=tmp_path / "s2", credentials=stranger))

    with pytest.raises(GitError, match="authentication failed") as refused:
        asyncio.run(
            git.fetch(repo, storage=tmp_path / "s3", credentials=git.GitCredentials(known_hosts=sshd.known_hosts))
        )
    assert "PRIVATE KEY" not in str(refused.value)
