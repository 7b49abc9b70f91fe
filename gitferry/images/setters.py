"""Flux's ``Setters`` update strategy on the text of one YAML file: pure, and byte-preserving.

A setter is a YAML line comment after a scalar value, holding a JSON object whose
``$imagepolicy`` names an ImagePolicy and optionally the part of its latest image to write::

    image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}         name:tag[@digest]
    newName: ghcr.io/org/app # {"$imagepolicy": "flux-system:app:name"}        name only
    tag: 1.0.0 # {"$imagepolicy": "flux-system:app:tag"}                       tag only
    digest: sha256:... # {"$imagepolicy": "flux-system:app:digest"}            digest only

As in Flux (kyaml's field metadata): the comment, after its leading ``#`` characters, must be a
JSON object of strings (any JSON whitespace); only values are set (mapping values, sequence
items, a document's root scalar), never keys; a value is rewritten only when it differs. Where
Flux re-serialises the whole file, this replaces only the value's characters, in its quoting
style; like kyaml, a plain value that would read back as a non-string (``1.0``, ``yes``) is
double-quoted. Unlike Flux, a marker naming an unknown policy is reported, not silently skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)

from gitferry.api import goyaml
from gitferry.errors import InvalidObjectError

MARKER_KEY = "$imagepolicy"
# Flux reads only files holding this literal text (its ScreeningLocalReader token).
SCREENING_TOKEN = f'"{MARKER_KEY}"'

ImagePart = Literal["image", "name", "tag", "digest"]
_SUFFIXES: dict[str, ImagePart] = {":name": "name", ":tag": "tag", ":digest": "digest"}

# Whitespace then '#' then the rest of the line: a YAML comment after a value.
_LINE_COMMENT = re.compile(r"[ \t]+#([^\r\n]*)")
# Anchors and tags ahead of a scalar (``&a !!str value``).
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)*")
# Values written plain without quoting, in block and flow context alike.
_SAFE_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*")


@dataclass(frozen=True)
class LatestImage:
    """The image a policy selected: ``name`` (``registry[:port]/path``), ``tag``, optional ``digest``."""

    name: str
    tag: str
    digest: str = ""

    @property
    def ref(self) -> str:
        """What a whole-image marker receives (Flux's ``LatestRef.String()``)."""
        return f"{self.name}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    def part(self, part: ImagePart) -> str:
        return self.ref if part == "image" else str(getattr(self, part))


def parse_image(ref: str) -> LatestImage:
    """Split ``name:tag[@digest]``; the tag follows the last colon only when it is after the last slash."""
    rest, _, digest = ref.partition("@")
    colon = rest.rfind(":")
    if colon <= rest.rfind("/") or colon in (0, len(rest) - 1):
        raise InvalidObjectError(f"image {ref!r} has no tag (expected NAME:TAG, e.g. ghcr.io/org/app:1.0.1)")
    if "@" in ref and not digest:
        raise InvalidObjectError(f"image {ref!r} has an empty digest after '@'")
    return LatestImage(name=rest[:colon], tag=rest[colon + 1 :], digest=digest)


@dataclass(frozen=True)
class ObjectRef:
    """The document holding a change (Flux's ObjectIdentifier); empty strings where a field is absent."""

    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""

    def __str__(self) -> str:
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '?'}/{name or '?'}"


@dataclass(frozen=True)
class Change:
    """One value a setter rewrote. ``setter`` is the marker's reference, e.g. ``ns:app:tag``."""

    line: int
    setter: str
    policy: str
    part: ImagePart
    old_value: str
    new_value: str
    object: ObjectRef | None = None


@dataclass(frozen=True)
class MarkerWarning:
    """A marker that could not be applied (unknown policy, no digest known); its line is 1-based."""

    line: int
    setter: str
    message: str


@dataclass(frozen=True)
class Rewrite:
    text: str
    changes: tuple[Change, ...] = ()
    warnings: tuple[MarkerWarning, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class _Marker:
    setter: str
    policy: str
    part: ImagePart


def read_marker(comment: str) -> _Marker | None:
    """The setter in a line comment's text (after ``#``), or None when it holds no ``$imagepolicy`` object."""
    try:
        data = json.loads(comment.lstrip("#"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    setter = data.get(MARKER_KEY, "")
    if not setter:
        return None
    return _Marker(setter=setter, policy=setter, part="image")


def _resolve(marker: _Marker, images: Mapping[str, LatestImage]) -> _Marker | None:
    """Match Flux's setter names: ``ns:name`` first, then ``ns:name`` plus ``:name``/``:tag``/``:digest``."""
    if marker.setter in images:
        return marker
    for suffix, part in _SUFFIXES.items():
        policy = marker.setter.removesuffix(suffix)
        if policy != marker.setter and policy in images:
            return _Marker(setter=marker.setter, policy=policy, part=part)
    return None


def render_scalar(value: str, style: str | None) -> str:
    """``value`` written in a scalar's style; a plain value that would not read back as this string is quoted."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or not _SAFE_PLAIN.fullmatch(value) or not isinstance(goyaml.go_scalar(value), str):
        return json.dumps(value, ensure_ascii=False)
    return value


@dataclass
class _Document:
    """Top-level fields seen so far, and the changes waiting for them (a change may precede ``kind``)."""

    fields: dict[str, str] = field(default_factory=dict)
    is_mapping: bool = False
    changes: list[Change] = field(default_factory=list)

    def object_ref(self) -> ObjectRef | None:
        if not self.is_mapping:
            return None
        get = self.fields.get
        return ObjectRef(
            get("apiVersion", ""), get("kind", ""), get("metadata.namespace", ""), get("metadata.name", "")
        )


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def apply_setters(text: str, images: Mapping[str, LatestImage]) -> Rewrite:
    """Set every marked value in ``text`` (one or more YAML documents) from ``images`` (``"ns:name"`` keys).

    Raise InvalidObjectError when the text is not YAML (Flux skips such files).
    """
    edits: list[_Edit] = []
    changes: list[Change] = []
    warnings: list[MarkerWarning] = []
    document = _Document()
    for event, path, is_value, depth in _walk(text):
        if isinstance(event, DocumentStartEvent):
            document = _Document()
        elif isinstance(event, DocumentEndEvent):
            ref = document.object_ref()
            changes.extend(replace(change, object=ref) for change in document.changes)
        elif isinstance(event, MappingStartEvent) and depth == 0:
            document.is_mapping = True
        elif isinstance(event, ScalarEvent) and is_value:
            if depth == len(path) <= 2:  # a field of the root mapping or of a mapping in it
                document.fields[".".join(path)] = event.value
            _set_scalar(text, event, images, edits, document.changes, warnings)
    return Rewrite(text=_apply(text, edits), changes=tuple(changes), warnings=tuple(warnings))


def _set_scalar(
    text: str,
    event: ScalarEvent,
    images: Mapping[str, LatestImage],
    edits: list[_Edit],
    changes: list[Change],
    warnings: list[MarkerWarning],
) -> None:
    span_start, end = event.start_mark.index, event.end_mark.index
    start = _PROPERTIES.match(text, span_start, end).end()  # type: ignore[union-attr]
    if start >= end or "\n" in text[start:end]:
        return  # an empty value, or a block or multi-line scalar: no line holds it whole
    comment = _LINE_COMMENT.match(text, end)
    marker = read_marker(comment.group(1)) if comment else None
    if marker is None:
        return
    line = text.count("\n", 0, start) + 1
    resolved = _resolve(marker, images)
    if resolved is None:
        warnings.append(MarkerWarning(line, marker.setter, f"no image for policy {marker.setter!r}"))
        return
    new_value = images[resolved.policy].part(resolved.part)
    if not new_value:
        warnings.append(MarkerWarning(line, marker.setter, f"policy {resolved.policy!r} has no {resolved.part}"))
        return
    if new_value == event.value:
        return
    edits.append(_Edit(start, end, render_scalar(new_value, event.style)))
    changes.append(Change(line, marker.setter, resolved.policy, resolved.part, event.value, new_value))


def _walk(text: str) -> Iterator[tuple[Event, tuple[str, ...], bool, int]]:
    """Each parse event with its mapping keys from the root, whether it is a value (not a key), and its depth."""
    # Per open collection: its path, whether it is a mapping, and (for mappings) the pending key.
    stack: list[tuple[tuple[str, ...], bool, list[str | None]]] = []
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            is_value = True
            path: tuple[str, ...] = ()
            if stack:
                path, is_mapping, key = stack[-1]
                if is_mapping:
                    is_value = key[0] is not None
                    if is_value:
                        path = (*path, key[0] or "")
            if isinstance(event, CollectionEndEvent):
                stack.pop()
                continue
            yield event, path, is_value, len(stack)
            if stack and stack[-1][1] and isinstance(event, ScalarEvent | AliasEvent | CollectionStartEvent):
                pending = stack[-1][2]
                pending[0] = None if is_value else _key_text(event)
            if isinstance(event, CollectionStartEvent):
                stack.append((path, isinstance(event, MappingStartEvent), [None]))
    except YAMLError as e:
        raise InvalidObjectError(f"not valid YAML: {e}") from e


def _key_text(event: Any) -> str:
    # A complex key (a mapping or sequence as key) never names a field setters care about.
    return str(event.value) if isinstance(event, ScalarEvent) else "?"


def _apply(text: str, edits: list[_Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text
