"""Running git for one GitRepository: credentials in the environment, failures as GitError.

``RemoteSession`` is entered once per fetch. It prepares the environment that carries the
credentials (never argv), runs git through ``gitferry.process`` with ``spec.timeout``, and turns
a failed command into a ``GitError`` whose message names the GitRepository, the URL and the
reference, with every secret removed.
"""

from __future__ import annotations

import base64
import math
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from gitferry import process
from gitferry.api.sources import GitRepository
from gitferry.errors import CommandError, GitError, InvalidObjectError
from gitferry.sources.refs import Target

# Phrases in git's stderr (LC_ALL=C) and what the user should do about them.
_AUTH_FAILED = (
    "Authentication failed",
    "could not read Username",
    "could not read Password",
    "returned error: 401",
    "returned error: 403",
    "Permission denied (publickey",
    "Access denied",
)
_HOST_KEY = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")
_UNREACHABLE = (
    "does not appear to be a git repository",
    "Could not read from remote repository",
    "not found",
    "Could not resolve host",
    "Connection refused",
    "Failed to connect",
    "unable to access",
)
_URL_PASSWORD = re.compile(r"(\w+://[^/\s:@]+):[^/\s@]*@")


@dataclass(frozen=True)
class GitCredentials:
    """Credentials from the GitRepository's ``spec.secretRef``, resolved by the caller."""

    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    identity: str | None = None  # SSH private key (PEM or OpenSSH text)
    known_hosts: str | None = None


class RemoteSession:
    """git commands for one GitRepository, with its credentials and timeout."""

    def __init__(self, repo: GitRepository, target: Target, credentials: GitCredentials | None) -> None:
        self.url = repo.spec.url
        self.who = f"GitRepository {repo.metadata.namespace}/{repo.metadata.name}"
        self._target = target
        self._timeout = repo.spec.timeout_seconds
        self._timeout_text = repo.spec.timeout
        self._credentials = credentials or GitCredentials()
        self._local_env = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        self._remote_env: dict[str, str] = {}
        self._secrets: list[str] = []
        self._keys: tempfile.TemporaryDirectory[str] | None = None

    async def __aenter__(self) -> RemoteSession:
        creds = self._credentials
        if creds.bearer_token and (creds.username or creds.password):
            raise InvalidObjectError(f"{self.who}: the Secret holds both a bearer token and basic auth; keep one")
        # An empty helper clears any helper configured on the host: only the Secret may answer.
        # The speed floor makes git's HTTP helper give up on a stalled server by itself: killing
        # git on timeout does not reach the helper, which would keep the output pipes open.
        stall = str(max(1, math.ceil(self._timeout)))
        config = [("credential.helper", ""), ("http.lowSpeedLimit", "1"), ("http.lowSpeedTime", stall)]
        header = self._auth_header()
        if header and self.url.startswith(("http://", "https://")):
            config.append((f"http.{self.url}.extraHeader", header))
        env = {**self._local_env, "GIT_CONFIG_COUNT": str(len(config))}
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
        if self.url.startswith("ssh://"):
            env["GIT_SSH_COMMAND"] = self._ssh_command()
        self._remote_env = env
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._keys is not None:
            self._keys.cleanup()

    def _auth_header(self) -> str:
        creds = self._credentials
        if creds.bearer_token:
            self._secrets.append(creds.bearer_token)
            return f"Authorization: Bearer {creds.bearer_token}"
        if creds.username or creds.password:
            token = base64.b64encode(f"{creds.username or ''}:{creds.password or ''}".encode()).decode()
            self._secrets += [s for s in (creds.password, token) if s]
            return f"Authorization: Basic {token}"
        return ""

    def _ssh_command(self) -> str:
        """An ssh that never prompts, gives up on a dead server itself, and uses the Secret's key and hosts."""
        seconds = max(1, math.ceil(self._timeout))
        command = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={seconds}"]
        command += ["-o", f"ServerAliveInterval={max(1, seconds // 3)}", "-o", "ServerAliveCountMax=3"]
        creds = self._credentials
        if creds.identity or creds.known_hosts:
            self._keys = tempfile.TemporaryDirectory(prefix="gitferry-ssh-")
        if creds.identity and self._keys:
            key = _private_file(Path(self._keys.name) / "identity", creds.identity)
            command += ["-i", key, "-o", "IdentitiesOnly=yes"]
        if creds.known_hosts and self._keys:
            known = _private_file(Path(self._keys.name) / "known_hosts", creds.known_hosts)
            command += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
        return shlex.join(command)

    async def remote(self, *args: str, action: str) -> str:
        """Run a git command that talks to the remote; return its stdout."""
        try:
            done = await process.run(["git", *args], timeout=self._timeout, env=self._remote_env)
        except CommandError as e:
            raise self._remote_failure(e, action) from e
        return done.stdout

    async def fetch(self, mirror: Path, *refspecs: str, action: str, options: tuple[str, ...] = ()) -> None:
        await self.remote(
            "--git-dir",
            str(mirror),
            "fetch",
            "--quiet",
            "--no-tags",
            *options,
            "--",
            self.url,
            *refspecs,
            action=action,
        )

    async def local(self, mirror: Path | None, *args: str) -> str:
        """Run a git command on the mirror alone; return its stdout without the trailing newline."""
        argv = ["git", *(["--git-dir", str(mirror)] if mirror else []), *args]
        try:
            done = await process.run(argv, timeout=self._timeout, env=self._local_env)
        except CommandError as e:
            detail = _last_line(self._redact(e.stderr)) or self._redact(str(e))
            raise GitError(f"{self.who}: git {args[0]} failed in the local mirror: {detail}", argv=argv) from e
        return done.stdout.rstrip("\n")

    async def succeeds(self, mirror: Path, *args: str) -> bool:
        """Whether a local check (``cat-file -e``, ``merge-base --is-ancestor``) holds."""
        argv = ["git", "--git-dir", str(mirror), *args]
        done = await process.run(argv, timeout=self._timeout, env=self._local_env, check=False)
        return done.returncode == 0

    def error(self, problem: str) -> GitError:
        return GitError(f"{self.who}: {problem} at {self._redact(self.url)}")

    def _remote_failure(self, e: CommandError, action: str) -> GitError:
        """``<who>: <problem> at <url>: <git's own words> (<what to check>)``."""
        stderr = self._redact(e.stderr)
        detail, hint = _last_line(stderr), ""
        if isinstance(e.__cause__, TimeoutError):
            problem, hint = f"timed out after {self._timeout:g}s {action}", f"spec.timeout is {self._timeout_text}"
        elif any(m in stderr for m in _HOST_KEY):
            problem, hint = "the host key is not trusted", "check known_hosts in the Secret"
        elif any(m in stderr for m in _AUTH_FAILED):
            problem, hint = "authentication failed", "check the credentials in spec.secretRef"
        elif "couldn't find remote ref" in stderr:
            problem, detail = f"{self._target.describe()} not found", ""
        elif any(m in stderr for m in _UNREACHABLE):
            problem, hint = "cannot read the repository", "check spec.url and that the repository exists"
        else:
            problem = f"git failed {action}"
            detail = detail or self._redact(str(e))
        message = f"{self.who}: {problem} at {self._redact(self.url)}"
        message += (f": {detail}" if detail else "") + (f" ({hint})" if hint else "")
        return GitError(message, argv=[self._redact(a) for a in e.argv], stderr=stderr)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _URL_PASSWORD.sub(r"\1:***@", text)


def _private_file(path: Path, content: str) -> str:
    """Write a secret readable by this user only (ssh refuses a key that others can read)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content if content.endswith("\n") else content + "\n")
    return str(path)


def _last_line(stderr: str) -> str:
    """The most telling line of git's stderr: the last ``fatal:``/``error:`` line, else the last one."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    if errors:
        return errors[0]
    return lines[-1] if lines else ""
