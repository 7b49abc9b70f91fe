"""Pipelines-as-Code's ``Repository`` (``pipelinesascode.tekton.dev/v1alpha1``): an application
repository whose ``.tekton/`` PipelineRuns gitferry runs on every push.

As in Pipelines-as-Code, the spec's fields are snake_case (``git_provider``, ``concurrency_limit``).
Pipelines-as-Code only reacts to webhooks; gitferry also polls the repository, every minute unless
the annotation ``gitferry.io/poll-interval`` says otherwise (``0`` turns polling off).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from gitferry.api.meta import Model, ObjectKey, ObjectMeta, parse_duration, set_fields, validate
from gitferry.errors import InvalidObjectError

KIND = "Repository"
API_VERSION = "pipelinesascode.tekton.dev/v1alpha1"
POLL_ANNOTATION = "gitferry.io/poll-interval"
DEFAULT_POLL_SECONDS = 60.0


class SnakeModel(Model):
    """Pipelines-as-Code writes its spec in snake_case: no camelCase aliases."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class SecretKeyRef(SnakeModel):
    name: str = Field(min_length=1)
    key: str = "provider.token"


class GitProvider(SnakeModel):
    url: str | None = None
    type: str | None = None
    user: str | None = None
    secret: SecretKeyRef | None = None
    webhook_secret: SecretKeyRef | None = None


class CustomParam(SnakeModel):
    name: str = Field(min_length=1)
    value: str | None = None
    secret_ref: SecretKeyRef | None = None
    filter: str | None = None


class RepositorySpec(SnakeModel):
    url: str = Field(min_length=1)
    git_provider: GitProvider | None = None
    concurrency_limit: int | None = Field(default=None, ge=1)
    params: list[CustomParam] = Field(default_factory=list)
    settings: dict[str, Any] | None = None
    incoming: list[dict[str, Any]] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "ssh://", "file://")):
            raise ValueError(f"url {value!r} must be an https://, http://, ssh:// or file:// repository URL")
        return value.rstrip("/")


UNSUPPORTED_FIELDS = {
    "settings": "Pipelines-as-Code settings (policies, provider overrides)",
    "incoming": "incoming webhooks",
    "git_provider.webhook_secret": "webhook secrets here (a Flux Receiver checks signatures)",
}


class Repository(Model):
    api_version: Literal["pipelinesascode.tekton.dev/v1alpha1"] = "pipelinesascode.tekton.dev/v1alpha1"
    kind: Literal["Repository"] = "Repository"
    metadata: ObjectMeta
    spec: RepositorySpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(KIND, self.metadata.namespace, self.metadata.name)

    @property
    def poll_seconds(self) -> float:
        text = self.metadata.annotations.get(POLL_ANNOTATION)
        return DEFAULT_POLL_SECONDS if text is None else parse_duration(text)

    def unsupported_fields(self) -> list[str]:
        out = set_fields(self.spec, UNSUPPORTED_FIELDS)
        out += [f"spec.params[{p.name}].filter" for p in self.spec.params if p.filter]
        return out


def parse_repository(obj: dict[str, Any], origin: str = "") -> Repository:
    """Validate a Repository; raise InvalidObjectError naming the object, file and field."""
    repo = validate(Repository, KIND, obj, origin)
    try:
        repo.poll_seconds  # noqa: B018 - checked here, so a bad annotation fails like a bad field
    except ValueError as e:
        where = f" in {origin}" if origin else ""
        raise InvalidObjectError(
            f"{KIND} {repo.metadata.name}{where}: field metadata.annotations[{POLL_ANNOTATION}]: {e}"
        ) from e
    return repo
