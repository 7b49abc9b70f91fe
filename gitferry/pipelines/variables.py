"""Tekton's ``$(...)`` variable substitution, without I/O.

A reference is a dotted path, each name also writable in brackets: ``$(params.name)``,
``$(params["name"])``, ``$(params['name'])`` (brackets allow dots in a name: ``params["org.a"]``),
then optionally an index ``[0]`` or the whole-value star ``[*]``. The caller passes a flat mapping
from normalised keys (``params.name``, ``tasks.build.results.digest``, ``workspaces.src.path``,
``params["org.a"]``; see ``key``) to a string, a list (array) or a dict (object). Nothing about
the prefixes is built in: ``context``, ``workspaces``, ``steps``... are just first names.

As Tekton (pkg/substitution, pkg/reconciler/{taskrun,pipelinerun}/resources/apply.go):

- Replacement is one pass: a value that itself contains ``$(...)`` is not expanded again.
- A reference that names nothing in the mapping is left as written, so shell text such as
  ``$(date)`` or ``$$`` survives; ``missing_references`` reports those under declared prefixes.
- ``$(params.obj.key)`` reads one key of an object; a string param whose name contains dots is
  reachable as ``params.a.b`` too, as Tekton's ``params.%s`` pattern makes it.
- An array is used whole (``$(params.arr[*])`` or ``$(params.arr)``) only as a whole item of a
  list (``args``, ``command``, array values, ``when`` values), which it expands into its items;
  an empty array removes the item. Tekton's admission webhook rejects it inside a longer string
  ("variable is not properly isolated") and so does ``substitute``, with ``SubstitutionError``.
- A whole object (``$(params.obj[*])``) is only a whole param value (``substitute_value``), as in
  ``ParamValue.applyOrCorrect``; a string param value that is exactly one whole array or object
  reference becomes that array or object.

Where Tekton is narrower we accept more: every name may be bracketed (Tekton generates only some
bracket forms, e.g. not ``params["obj"].key``), and an out-of-range index or an unknown key of a
known object is an error here, not text left in place for the webhook to have caught.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitferry.errors import InvalidObjectError

Value = str | list[str] | dict[str, str]

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
_QUOTED = r"[^\"'\[\]()$\s]+"
# One name after the first: .name, ["name"], ['name'], or [name] (Tekton's result object key form).
_ACCESS = rf"\.{_NAME}|\[\"{_QUOTED}\"\]|\['{_QUOTED}'\]|\[[A-Za-z_][A-Za-z0-9_-]*\]"
_REFERENCE = re.compile(rf"\$\((?P<body>{_NAME}(?:{_ACCESS})*)(?P<sel>\[(?:\d+|\*)\])?\)")
_PART = re.compile(rf"\.?(?P<plain>{_NAME})|\[\"(?P<dq>{_QUOTED})\"\]|\['(?P<sq>{_QUOTED})'\]|\[(?P<bare>[^\]]+)\]")
_SIMPLE_NAME = re.compile(_NAME)


class SubstitutionError(InvalidObjectError):
    """A reference that exists but is used in a way Tekton forbids: star in a string, bad index, unknown key."""


@dataclass(frozen=True)
class Reference:
    """One ``$(...)`` as written: its names, and an index or the star that may follow them."""

    text: str
    path: tuple[str, ...]
    index: int | None = None
    star: bool = False

    @property
    def prefix(self) -> str:
        """The first name: ``params``, ``tasks``, ``context``..."""
        return self.path[0]

    @property
    def name(self) -> str:
        """The name under the prefix (``params.<name>``, ``tasks.<name>.results.r``), or ``""``."""
        return self.path[1] if len(self.path) > 1 else ""

    @property
    def key(self) -> str:
        """The normalised key of the names, without index or star."""
        return key(*self.path)


def key(*names: str) -> str:
    """A normalised mapping key: names joined by dots, a name containing a dot in ``["..."]``.

    ``key("params", "org.a")`` is ``params["org.a"]``; ``key("tasks", "b", "results", "d")`` is
    ``tasks.b.results.d``.
    """
    parts = [names[0]]
    parts += [f".{n}" if _SIMPLE_NAME.fullmatch(n) else f'["{n}"]' for n in names[1:]]
    return "".join(parts)


def _parse(match: re.Match[str]) -> Reference:
    path = tuple(m["plain"] or m["dq"] or m["sq"] or m["bare"] for m in _PART.finditer(match["body"]))
    sel = match["sel"]
    if sel is None:
        return Reference(match[0], path)
    if sel == "[*]":
        return Reference(match[0], path, star=True)
    return Reference(match[0], path, index=int(sel[1:-1]))


def references(text: str) -> list[Reference]:
    """Every reference in ``text``, in order (shell ``$(date)`` included: it parses as a name)."""
    return [_parse(m) for m in _REFERENCE.finditer(text)]


def tree_references(obj: Any) -> list[Reference]:
    """Every reference in every string of a JSON-like tree (mapping keys are not read)."""
    return [ref for text in _strings(obj) for ref in references(text)]


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _strings(item)


def _normalised(values: Mapping[str, Value]) -> dict[tuple[str, ...], Value]:
    table: dict[tuple[str, ...], Value] = {}
    for name, value in values.items():
        match = _REFERENCE.fullmatch(f"$({name})")
        if match is None or match["sel"] is not None:
            raise ValueError(f"not a variable name: {name!r}")
        table[_parse(match).path] = value
    return table


def _lookup(ref: Reference, table: Mapping[tuple[str, ...], Value]) -> Value | None:
    """The value a reference's names denote, or None; an unknown key of an object raises."""
    path = ref.path
    if path in table:
        return table[path]
    if len(path) > 2:
        dotted = (path[0], ".".join(path[1:]))  # a string param named "a.b", written params.a.b
        if dotted in table:
            return table[dotted]
        parent = table.get(path[:-1])
        if isinstance(parent, dict):
            if path[-1] not in parent:
                known = ", ".join(sorted(parent)) or "none"
                raise SubstitutionError(f"{ref.text}: the object has no key {path[-1]!r} (its keys: {known})")
            return parent[path[-1]]
    return None


def _element(ref: Reference, value: list[str]) -> str:
    assert ref.index is not None
    if ref.index >= len(value):
        raise SubstitutionError(f"{ref.text}: index {ref.index} is out of range of an array of {len(value)}")
    return value[ref.index]


def _as_string(ref: Reference, value: Value, text: str) -> str:
    if isinstance(value, str):
        if ref.star or ref.index is not None:
            raise SubstitutionError(f"{ref.text}: is a string; only arrays take [i] or [*]")
        return value
    if ref.star:
        raise SubstitutionError(
            f"{ref.text}: a whole array or object can only be a whole list item, not part of the string {text!r}"
        )
    if isinstance(value, dict):
        if ref.index is not None:
            raise SubstitutionError(f"{ref.text}: is an object; only arrays take an index")
        raise SubstitutionError(f"{ref.text}: is an object; reference one of its keys")
    if ref.index is None:
        raise SubstitutionError(f"{ref.text}: is an array; index it, or use it as a whole list item")
    return _element(ref, value)


def _replace(text: str, table: Mapping[tuple[str, ...], Value]) -> str:
    def one(match: re.Match[str]) -> str:
        ref = _parse(match)
        value = _lookup(ref, table)
        return match[0] if value is None else _as_string(ref, value, text)

    return _REFERENCE.sub(one, text)


def _whole(text: str, table: Mapping[tuple[str, ...], Value]) -> tuple[Reference, list[str] | dict[str, str]] | None:
    """The reference and its array or object value when ``text`` is exactly one whole reference."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        return None
    ref = _parse(match)
    if ref.index is not None:
        return None
    value = _lookup(ref, table)
    if isinstance(value, list | dict):
        return ref, value
    return None


def _expand(items: Sequence[str], table: Mapping[tuple[str, ...], Value]) -> list[str]:
    out: list[str] = []
    for item in items:
        whole = _whole(item, table)
        if whole is None:
            out.append(_replace(item, table))
        elif isinstance(whole[1], list):
            out.extend(whole[1])
        else:
            raise SubstitutionError(f"{whole[0].text}: an object cannot be expanded into list items")
    return out


def substitute(text: str, values: Mapping[str, Value]) -> str:
    """``text`` with every known reference replaced by its string; unknown references stay as written."""
    return _replace(text, _normalised(values))


def substitute_list(items: Sequence[str], values: Mapping[str, Value]) -> list[str]:
    """A list of strings (``args``, ``command``, array values) with whole-item arrays expanded."""
    return _expand(items, _normalised(values))


def substitute_value(value: Value, values: Mapping[str, Value]) -> Value:
    """A param value as Tekton's ``ParamValue.ApplyReplacements``: an exact whole reference takes its type."""
    table = _normalised(values)
    if isinstance(value, list):
        return _expand(value, table)
    if isinstance(value, dict):
        return {k: _replace(v, table) for k, v in value.items()}
    whole = _whole(value, table)
    if whole is None:
        return _replace(value, table)
    found = whole[1]
    return list(found) if isinstance(found, list) else dict(found)


def substitute_tree(obj: Any, values: Mapping[str, Value]) -> Any:
    """A copy of a JSON-like tree (a Task spec) with strings substituted and string list items expanded.

    Mapping keys are left alone. Param values whose type may change (a string that is exactly
    ``$(params.arr[*])``) go through ``substitute_value`` instead.
    """
    table = _normalised(values)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _replace(node, table)
        if isinstance(node, Mapping):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            out: list[Any] = []
            for item in node:
                if isinstance(item, str):
                    out.extend(_expand([item], table))
                else:
                    out.append(walk(item))
            return out
        return node

    return walk(obj)


def missing_references(obj: Any, values: Mapping[str, Value], prefixes: Collection[str]) -> list[Reference]:
    """References under one of ``prefixes`` that name nothing in ``values``, each once, in order.

    An index out of range or an unknown key of an object counts as missing too. References under
    other prefixes (``$(date)``, ``$(cat x)``) are not Tekton variables and are never reported.
    """
    table = _normalised(values)
    found: dict[str, Reference] = {}
    for ref in tree_references(obj):
        if ref.prefix not in prefixes or ref.text in found:
            continue
        if not _resolves(ref, table):
            found[ref.text] = ref
    return list(found.values())


def _resolves(ref: Reference, table: Mapping[tuple[str, ...], Value]) -> bool:
    try:
        value = _lookup(ref, table)
    except SubstitutionError:
        return False
    if value is None:
        return False
    return ref.index is None or (isinstance(value, list) and ref.index < len(value))
