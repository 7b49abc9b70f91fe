"""Kubernetes manifests as plain dicts: parsing multi-document YAML and checking identity fields.

A rendered object is a ``dict`` as the API would hold it. Where it came from (the file in the
source) travels beside it so every error can name the file. YAML is read and written with Go's
typing (``goyaml``): kustomize, Flux and podman are Go programs, so ``on`` is a boolean to them
and a string ``"on"`` must be written quoted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.error import YAMLError

from gitferry.api import goyaml
from gitferry.api.keys import ObjectKey
from gitferry.errors import InvalidObjectError

Resource = dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    """One object and the file it was read from (relative to the source root)."""

    obj: Resource
    origin: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey.of(self.obj)


def load_documents(text: str, origin: str) -> list[Resource]:
    """Every non-empty document in ``text``; InvalidObjectError names the file and line."""
    try:
        docs = goyaml.load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InvalidObjectError(f"malformed YAML in {origin}{where}: {problem}") from e
    out: list[Resource] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(item for item in doc["items"] if isinstance(item, dict))
            continue
        if not isinstance(doc, dict):
            raise InvalidObjectError(f"{origin} document {index + 1}: expected a mapping, got {type(doc).__name__}")
        out.append(doc)
    return out


def check_identity(obj: Resource, origin: str) -> None:
    """apiVersion, kind and metadata.name must be present and strings, as the API server demands."""
    where = f"{obj.get('kind', 'object')} {((obj.get('metadata') or {}).get('name')) or '(unnamed)'} in {origin}"
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj.get(field):
            raise InvalidObjectError(f"{where}: field {field} is required")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
        raise InvalidObjectError(f"{where}: field metadata.name is required")


def parse_manifests(text: str, origin: str) -> list[Manifest]:
    docs = load_documents(text, origin)
    for doc in docs:
        check_identity(doc, origin)
    return [Manifest(doc, origin) for doc in docs]


def dump_documents(objects: Iterable[Resource]) -> str:
    """Multi-document YAML, in the order given, as ``flux build`` prints it."""
    return "---\n".join(goyaml.dump(obj) for obj in objects)


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""
