"""The exception tree. Each adapter maps its failures here at its boundary, with ``from e``.

    GitferryError
    ├── InvalidObjectError      a user's object or manifest is wrong (permanent until Git changes)
    │   ├── PathNotFoundError    a Kustomization's spec.path is not in its source's artifact
    │   ├── UnsupportedError     a field or kind gitferry does not implement yet
    │   └── RejectedObjectError  a Kubernetes API server refused an object as invalid (400, 422)
    ├── CommandError            an external tool (git, kustomize, podman) failed
    │   ├── GitError
    │   │   └── PushRejectedError  the branch moved since the clone: fetch, re-apply, push again
    │   ├── RenderError          kustomize build or substitution failed
    │   └── PodmanError
    ├── DependencyNotReadyError  a dependsOn/sourceRef is not ready yet (retry later)
    ├── RegistryError           an OCI registry was unreachable, refused access or answered wrongly
    ├── KubernetesError         a Kubernetes API server was unreachable, refused credentials or a request
    └── StoreError

Reconcilers tell retryable from permanent with ``is_permanent``.
"""

from __future__ import annotations


class GitferryError(Exception):
    """Root of every error gitferry raises on purpose."""


class InvalidObjectError(GitferryError):
    """A user's object or manifest is invalid: retrying cannot help until Git changes."""


class PathNotFoundError(InvalidObjectError):
    """A Kustomization's ``spec.path`` is not in its source's artifact (Flux's reason: ArtifactFailed)."""


class UnsupportedError(InvalidObjectError):
    """A field or kind that gitferry does not implement yet."""


class RejectedObjectError(InvalidObjectError):
    """A Kubernetes API server refused an object as invalid (400, 422): only a change in Git helps.

    ``immutable`` says the refusal was a change to a field that cannot change (recreating helps).
    """

    def __init__(self, message: str, *, immutable: bool = False) -> None:
        super().__init__(message)
        self.immutable = immutable


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


class KubernetesError(GitferryError):
    """A Kubernetes API server was unreachable, refused the credentials, or failed a request."""

    def __init__(self, message: str, *, code: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class StoreError(GitferryError):
    """The state store could not be read or written."""


def is_permanent(error: BaseException) -> bool:
    """True when retrying without a change in Git cannot succeed."""
    return isinstance(error, InvalidObjectError)
