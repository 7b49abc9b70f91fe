"""Image repository references (``ImageRepository.spec.image``) as Docker reads them. Pure.

``app`` is ``docker.io/library/app``; ``team/app`` is ``docker.io/team/app``; the first path
component names a registry only when it looks like a host (has a ``.`` or a ``:`` port, or is
``localhost``). Docker Hub's API lives on ``registry-1.docker.io``. A repository to scan has no
tag or digest: those belong to an ImagePolicy's result, not to the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitferry.errors import RegistryError

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
# Docker Hub answers to several names; all of them are one registry.
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})

# A path component as the distribution spec defines it: lower-case alphanumerics joined by
# single separators ('.', '_', '__', or runs of '-').
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?)+(?::[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]+)?$")
_MAX_NAME_LENGTH = 255
# A tag as the distribution spec allows it, or a digest (a manifest can be fetched by either).
_TAG_OR_DIGEST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$|^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Fa-f0-9]{32,}$")


@dataclass(frozen=True)
class ImageReference:
    """Where a repository lives: ``registry`` as written, ``host`` to talk to, ``name`` on it."""

    registry: str
    name: str

    @property
    def host(self) -> str:
        return DOCKER_HUB_API_HOST if self.registry == DEFAULT_REGISTRY else self.registry

    def __str__(self) -> str:
        return f"{self.registry}/{self.name}"


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse_image(image: str) -> ImageReference:
    """Split ``image`` into registry and repository name; raise RegistryError saying what is wrong."""
    text = image.strip()
    if not text:
        raise RegistryError("spec.image is empty: give a repository such as 'ghcr.io/team/app'")
    if "://" in text:
        raise RegistryError(f"image {image!r} must not have a URL scheme: write 'host/name', e.g. 'ghcr.io/team/app'")
    if "@" in text:
        raise RegistryError(
            f"image {image!r} has a digest: spec.image names a repository; drop '@{text.split('@', 1)[1]}'"
        )
    first, slash, rest = text.partition("/")
    if slash and _looks_like_host(first):
        registry, path = first, rest
        if not _HOST.match(registry):
            raise RegistryError(f"image {image!r} has an invalid registry host {registry!r}")
    else:
        registry, path = DEFAULT_REGISTRY, text
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.split(":", 1)[1]
        raise RegistryError(
            f"image {image!r} has a tag: spec.image names a repository and the policy picks the tag; drop ':{tag}'"
        )
    if registry.lower() in DOCKER_HUB_ALIASES:
        registry = DEFAULT_REGISTRY
        if "/" not in path:
            path = f"library/{path}"  # Docker Hub's official images live under library/
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            raise RegistryError(
                f"image {image!r} has an invalid path component {component!r}:"
                " use lower-case letters, digits and single '.', '_' or '-' separators"
            )
    if len(path) > _MAX_NAME_LENGTH:
        raise RegistryError(f"image {image!r} is longer than {_MAX_NAME_LENGTH} characters")
    return ImageReference(registry, path)


def repository_of(reference: str) -> ImageReference | None:
    """The repository of ``name[:tag][@digest]``, as a build reports what it pushed; None if not an image."""
    name = reference.strip().split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    try:
        return parse_image(head + slash + last.split(":", 1)[0])
    except RegistryError:
        return None


def check_tag(image: str, tag: str) -> str:
    """Return ``tag`` if it is a valid tag or digest; it goes into a URL path, so nothing else may."""
    if not _TAG_OR_DIGEST.match(tag):
        raise RegistryError(f"tag {tag!r} of image {image!r} is not a valid tag or digest")
    return tag
