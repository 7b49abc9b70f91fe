"""GitRepository, as Flux's source-controller reads it (``source.toolkit.fluxcd.io/v1``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gitferry.api.meta import LocalRef, Model, ObjectMeta, parse_duration, set_fields, validate

API_VERSION = "source.toolkit.fluxcd.io/v1"
KIND = "GitRepository"


class GitRef(Model):
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None


class GitInclude(Model):
    repository: LocalRef
    from_path: str = ""
    to_path: str = ""


class GitVerification(Model):
    mode: str = "HEAD"
    secret_ref: LocalRef | None = None


class GitRepositorySpec(Model):
    url: str = Field(min_length=1)
    secret_ref: LocalRef | None = None
    provider: Literal["generic", "azure", "github"] = "generic"
    interval: str
    timeout: str = "60s"
    ref: GitRef | None = None
    verify: GitVerification | None = None
    proxy_secret_ref: LocalRef | None = None
    ignore: str | None = None
    suspend: bool = False
    recurse_submodules: bool = False
    include: list[GitInclude] = Field(default_factory=list)
    sparse_checkout: list[str] = Field(default_factory=list)

    @field_validator("interval", "timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("file://", "https://", "http://", "ssh://")):
            raise ValueError(f"url {value!r} must start with file://, https://, http:// or ssh://")
        return value

    @model_validator(mode="after")
    def _interval_positive(self) -> GitRepositorySpec:
        if parse_duration(self.interval) <= 0:
            raise ValueError("interval must be greater than zero")
        return self

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


# Fields Flux has that gitferry does not implement yet: reported by name in status.
UNSUPPORTED_FIELDS = {
    "verify": "commit signature verification",
    "proxySecretRef": "an HTTP proxy",
    "recurseSubmodules": "submodules",
    "sparseCheckout": "sparse checkout",
}


class GitRepository(Model):
    api_version: Literal["source.toolkit.fluxcd.io/v1"] = "source.toolkit.fluxcd.io/v1"
    kind: Literal["GitRepository"] = "GitRepository"
    metadata: ObjectMeta
    spec: GitRepositorySpec

    def unsupported_fields(self) -> list[str]:
        return set_fields(self.spec, UNSUPPORTED_FIELDS)


def parse_git_repository(obj: dict[str, Any], origin: str = "") -> GitRepository:
    """Validate a GitRepository; raise InvalidObjectError naming the object, file and field."""
    return validate(GitRepository, KIND, obj, origin)
