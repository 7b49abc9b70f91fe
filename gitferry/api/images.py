"""ImageRepository, ImagePolicy and ImageUpdateAutomation (``image.toolkit.fluxcd.io/v1``).

Field for field as Flux's image-reflector-controller and image-automation-controller define
them, with the checks their CRDs make (enums, duration patterns, the interval rules of
``digestReflectionPolicy``). What a policy selects is decided in ``gitferry.images.policy``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gitferry.api.meta import LocalRef, Model, ObjectKey, ObjectMeta, parse_duration, set_fields, validate
from gitferry.api.sources import GitRef

API_VERSION = "image.toolkit.fluxcd.io/v1"
REPOSITORY_KIND = "ImageRepository"
POLICY_KIND = "ImagePolicy"
AUTOMATION_KIND = "ImageUpdateAutomation"

# Flux stores no cosign signature tags unless told otherwise.
DEFAULT_EXCLUSION_LIST = ["^.*\\.sig$"]

# The CRDs' duration patterns: stricter than Go's time.ParseDuration (no ns or us).
_INTERVAL = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
_TIMEOUT = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$")

Order = Literal["asc", "desc"]


def _checked_duration(value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is not None and not pattern.match(value):
        raise ValueError(f"invalid duration {value!r} (expected e.g. 30s, 5m, 1h; must match {pattern.pattern})")
    return value


class NamespacedRef(Model):
    name: str = Field(min_length=1)
    namespace: str | None = None


# --- ImageRepository ---------------------------------------------------------------------------


class ImageRepositorySpec(Model):
    image: str = Field(min_length=1)
    interval: str
    timeout: str | None = None
    secret_ref: LocalRef | None = None
    proxy_secret_ref: LocalRef | None = None
    service_account_name: str | None = Field(default=None, max_length=253)
    cert_secret_ref: LocalRef | None = None
    suspend: bool = False
    access_from: dict[str, Any] | None = None
    exclusion_list: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUSION_LIST), max_length=25)
    provider: Literal["generic", "aws", "azure", "gcp"] = "generic"
    insecure: bool = False

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        _checked_duration(value, _INTERVAL)
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        return _checked_duration(value, _TIMEOUT)

    @field_validator("image")
    @classmethod
    def _no_scheme(cls, value: str) -> str:
        if "://" in value:
            raise ValueError(f"image {value!r} must be a repository name without a URL scheme")
        return value

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)

    @property
    def timeout_seconds(self) -> float:
        # Flux: the timeout defaults to the interval.
        return parse_duration(self.timeout) if self.timeout else self.interval_seconds


REPOSITORY_UNSUPPORTED_FIELDS = {
    "proxySecretRef": "an HTTP proxy",
    "serviceAccountName": "image pull secrets of a service account",
    "certSecretRef": "client certificates and custom CAs",
    "accessFrom": "cross-namespace access lists",
}


class ImageRepository(Model):
    api_version: Literal["image.toolkit.fluxcd.io/v1"] = "image.toolkit.fluxcd.io/v1"
    kind: Literal["ImageRepository"] = "ImageRepository"
    metadata: ObjectMeta
    spec: ImageRepositorySpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(REPOSITORY_KIND, self.metadata.namespace, self.metadata.name)

    def unsupported_fields(self) -> list[str]:
        out = set_fields(self.spec, REPOSITORY_UNSUPPORTED_FIELDS)
        if self.spec.provider != "generic":
            out.append(f"spec.provider={self.spec.provider}")
        return out


# --- ImagePolicy -------------------------------------------------------------------------------


class SemVerPolicy(Model):
    range: str


class AlphabeticalPolicy(Model):
    order: Order = "asc"


class NumericalPolicy(Model):
    order: Order = "asc"


PolicyKind = Literal["semver", "alphabetical", "numerical"]


class ImagePolicyChoice(Model):
    semver: SemVerPolicy | None = None
    alphabetical: AlphabeticalPolicy | None = None
    numerical: NumericalPolicy | None = None

    @model_validator(mode="after")
    def _one_set(self) -> ImagePolicyChoice:
        if self.semver is None and self.alphabetical is None and self.numerical is None:
            raise ValueError("one of semver, alphabetical or numerical is required")
        return self

    @property
    def kind(self) -> PolicyKind:
        """The policy that applies. Flux accepts several and uses the first of semver, alphabetical, numerical."""
        if self.semver is not None:
            return "semver"
        return "alphabetical" if self.alphabetical is not None else "numerical"


class TagFilter(Model):
    pattern: str = ""
    extract: str = ""


class ImagePolicySpec(Model):
    image_repository_ref: NamespacedRef
    policy: ImagePolicyChoice
    filter_tags: TagFilter | None = None
    digest_reflection_policy: Literal["Always", "IfNotPresent", "Never"] = "Never"
    interval: str | None = None
    suspend: bool = False

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        return _checked_duration(value, _INTERVAL)

    @model_validator(mode="after")
    def _interval_only_when_always(self) -> ImagePolicySpec:
        # The two CEL rules of Flux's CRD.
        always = self.digest_reflection_policy == "Always"
        if self.interval is not None and not always:
            raise ValueError("spec.interval applies only with spec.digestReflectionPolicy: Always")
        if self.interval is None and always:
            raise ValueError("spec.digestReflectionPolicy: Always needs spec.interval (how often to refresh it)")
        return self


class ImagePolicy(Model):
    api_version: Literal["image.toolkit.fluxcd.io/v1"] = "image.toolkit.fluxcd.io/v1"
    kind: Literal["ImagePolicy"] = "ImagePolicy"
    metadata: ObjectMeta
    spec: ImagePolicySpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(POLICY_KIND, self.metadata.namespace, self.metadata.name)

    def repository_key(self) -> ObjectKey:
        ref = self.spec.image_repository_ref
        return ObjectKey(REPOSITORY_KIND, ref.namespace or self.metadata.namespace, ref.name)

    @property
    def interval_seconds(self) -> float | None:
        """How often to look the digest up again (``digestReflectionPolicy: Always`` only)."""
        return parse_duration(self.spec.interval) if self.spec.interval else None


# --- ImageUpdateAutomation ---------------------------------------------------------------------


class SourceReference(Model):
    api_version: str | None = None
    kind: Literal["GitRepository"] = "GitRepository"
    name: str = Field(min_length=1)
    namespace: str | None = None


class GitCheckoutSpec(Model):
    ref: GitRef


class CommitUser(Model):
    name: str = ""
    email: str = Field(min_length=1)


class SigningKey(Model):
    secret_ref: LocalRef
    type: Literal["gpg", "ssh"] | None = None


class CommitSpec(Model):
    author: CommitUser
    signing_key: SigningKey | None = None
    message_template: str = ""
    message_template_values: dict[str, str] = Field(default_factory=dict)


class PushSpec(Model):
    branch: str = ""
    refspec: str = ""
    options: dict[str, str] = Field(default_factory=dict)


class GitSpec(Model):
    checkout: GitCheckoutSpec | None = None
    commit: CommitSpec
    push: PushSpec | None = None


class UpdateStrategy(Model):
    strategy: Literal["Setters"] = "Setters"
    path: str = ""


class ImageUpdateAutomationSpec(Model):
    source_ref: SourceReference
    git: GitSpec | None = None
    interval: str
    policy_selector: dict[str, Any] | None = None
    update: UpdateStrategy = Field(default_factory=UpdateStrategy)
    suspend: bool = False

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        _checked_duration(value, _INTERVAL)
        return value

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)


AUTOMATION_UNSUPPORTED_FIELDS = {
    "policySelector": "label selectors over policies",
    "git.commit.signingKey": "signed commits",
    "git.push.refspec": "pushing to a refspec",
    "git.push.options": "git push options",
}


class ImageUpdateAutomation(Model):
    api_version: Literal["image.toolkit.fluxcd.io/v1"] = "image.toolkit.fluxcd.io/v1"
    kind: Literal["ImageUpdateAutomation"] = "ImageUpdateAutomation"
    metadata: ObjectMeta
    spec: ImageUpdateAutomationSpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(AUTOMATION_KIND, self.metadata.namespace, self.metadata.name)

    def source_key(self) -> ObjectKey:
        ref = self.spec.source_ref
        return ObjectKey(ref.kind, ref.namespace or self.metadata.namespace, ref.name)

    def unsupported_fields(self) -> list[str]:
        return set_fields(self.spec, AUTOMATION_UNSUPPORTED_FIELDS)


def parse_image_repository(obj: dict[str, Any], origin: str = "") -> ImageRepository:
    """Validate an ImageRepository; raise InvalidObjectError naming the object, file and field."""
    return validate(ImageRepository, REPOSITORY_KIND, obj, origin)


def parse_image_policy(obj: dict[str, Any], origin: str = "") -> ImagePolicy:
    """Validate an ImagePolicy; raise InvalidObjectError naming the object, file and field."""
    return validate(ImagePolicy, POLICY_KIND, obj, origin)


def parse_image_update_automation(obj: dict[str, Any], origin: str = "") -> ImageUpdateAutomation:
    """Validate an ImageUpdateAutomation; raise InvalidObjectError naming the object, file and field."""
    return validate(ImageUpdateAutomation, AUTOMATION_KIND, obj, origin)
