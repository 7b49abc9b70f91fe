"""The exception tree. Each adapter maps its failures here at its boundary, with ``from e``.

    GitferryError
    ├── InvalidObjectError      a user's object or manifest is wrong (permanent until Git changes)
    │   └── UnsupportedError     a field or kind gitferry does not implement yet
    ├── CommandError            an external tool (git, kustomize, podman) failed
    │   ├── GitError
    │   │   └── PushRejectedError  the branch moved since the clone: fetch, re-apply, push again
    │   ├── RenderError          kustomize build or substitution failed
    │   └── PodmanError
    ├── DependencyNotReadyError  a dependsOn/sourceRef is not ready yet (retry later)
    ├── RegistryError           an OCI registry was unreachable, refused access or answered wrongly
    └── StoreError

Reconcilers tell retryable from permanent with ``is_permanent``.
"""

from __future__ import annotations


class GitferryError(Exception):
    """Root of every error gitferry raises on purpose."""


class InvalidObjectError(GitferryError):
    """A user's object or manifest is invalid: retrying cannot help until Git changes."""


class UnsupportedError(InvalidObjectError):
    """A field or kind that gitferry does not implement yet."""


class CommandError(GitferryError):
    """An external command failed or timed out."""

    def __init__(self, message: str, *, argv: list[str] | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.argv = argv or []
        self.stderr = stderr


class GitError(CommandError):
    """git failed: remote unreachable, ref not found, authentication refused."""


class PushRejectedError(GitError):
    """A push was refused because the remote branch moved on; never answered with a force-push."""


class RenderError(CommandError):
    """kustomize build or variable substitution failed."""


class PodmanError(CommandError):
    """podman failed to play, stop or inspect."""


class DependencyNotReadyError(GitferryError):
    """A referenced object (sourceRef, dependsOn) is not ready: retry after retryInterval."""


class RegistryError(GitferryError):
    """An OCI registry could not be read: unreachable, auth refused, not found, 5xx or bad JSON."""


class StoreError(GitferryError):
    """The state store could not be read or written."""


def is_permanent(error: BaseException) -> bool:
    """True when retrying without a change in Git cannot succeed."""
    return isinstance(error, InvalidObjectError)
