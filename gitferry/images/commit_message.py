"""The commit message of an image update automation: Flux's template data, rendered by Go's rules.

``messageTemplate`` is a Go text/template over Flux's ``TemplateData``:

- ``.AutomationObject``: the automation's namespace and name (prints as ``namespace/name``);
- ``.Changed.FileChanges``: file -> object -> changes; ``.Changed.Objects``: object -> changes;
  ``.Changed.Changes``: every change; a change has ``.OldValue``, ``.NewValue``, ``.Setter``;
  an object has ``.APIVersion``, ``.Kind``, ``.Name``, ``.Namespace``;
- ``.Values``: ``spec.git.commit.messageTemplateValues``.

File paths are relative to ``spec.update.path``, as Flux reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitferry.errors import InvalidObjectError
from gitferry.images import gotemplate, setters
from gitferry.images.update import UpdateResult

# Flux's message when spec.git.commit.messageTemplate is empty.
DEFAULT_TEMPLATE = "Update from image update automation"


@dataclass(frozen=True)
class AutomationObject:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ObjectIdentifier:
    """Fields in the order Go compares them when a template ranges over a map keyed by objects."""

    api_version: str
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True)
class TemplateChange:
    old_value: str
    new_value: str
    setter: str


@dataclass(frozen=True)
class Changed:
    file_changes: dict[str, dict[ObjectIdentifier, list[TemplateChange]]]
    objects: dict[ObjectIdentifier, list[TemplateChange]]
    changes: list[TemplateChange]


@dataclass(frozen=True)
class TemplateData:
    automation_object: AutomationObject
    changed: Changed
    values: dict[str, str]


def _identifier(ref: setters.ObjectRef | None) -> ObjectIdentifier:
    ref = ref or setters.ObjectRef()
    return ObjectIdentifier(ref.api_version, ref.kind, ref.name, ref.namespace)


def template_data(namespace: str, name: str, result: UpdateResult, values: Mapping[str, str]) -> TemplateData:
    file_changes: dict[str, dict[ObjectIdentifier, list[TemplateChange]]] = {}
    objects: dict[ObjectIdentifier, list[TemplateChange]] = {}
    changes: list[TemplateChange] = []
    for file in result.files:
        for change in file.changes:
            item = TemplateChange(change.old_value, change.new_value, change.setter)
            identifier = _identifier(change.object)
            file_changes.setdefault(file.path, {}).setdefault(identifier, []).append(item)
            objects.setdefault(identifier, []).append(item)
            changes.append(item)
    return TemplateData(AutomationObject(namespace, name), Changed(file_changes, objects, changes), dict(values))


def check_template(text: str) -> gotemplate.Template:
    """Parse once; InvalidObjectError names the field and where in the template it is wrong."""
    try:
        return gotemplate.parse(text or DEFAULT_TEMPLATE)
    except gotemplate.TemplateError as e:
        raise template_error(e) from e


def template_error(error: gotemplate.TemplateError) -> InvalidObjectError:
    message = f"field spec.git.commit.messageTemplate: {error}"
    if "not defined" in message:
        # Flux also offers sprig's functions (upper, join, ...), which a template written for it may use.
        message += " (gitferry has Go's builtin template functions; sprig's are not supported yet)"
    return InvalidObjectError(message)
