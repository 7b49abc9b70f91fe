"""JSON merge patch (RFC 7386), a strategic merge patch close to kube-apiserver's, and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

from .fields import ListType, Names, Schema, TypedError, item_pe


class PatchError(Exception):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(target: Any, patch: Any, schema: Schema, names: Names = ()) -> Any:
    """Maps merge as in a JSON merge patch; associative lists merge by key; ``$patch`` directives on maps and items."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    body = {k: v for k, v in patch.items() if not k.startswith("$")}
    if directive == "replace":
        return _strip_directives(body)
    if directive == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in body.items():
        child_names = (*names, key)
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            if schema.atomic(child_names):
                out[key] = _strip_directives(value)
            else:
                merged = strategic_merge_patch(out.get(key), value, schema, child_names)
                if merged is None:
                    out.pop(key, None)
                else:
                    out[key] = merged
        elif isinstance(value, list):
            out[key] = _merge_list(out.get(key), value, schema.list_type(child_names), schema, child_names)
        else:
            out[key] = value
    return out


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge_list(live: Any, patch: list[Any], lt: ListType, schema: Schema, names: Names) -> list[Any]:
    if lt.kind == "atomic" or not isinstance(live, list):
        return [_strip_directives(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    if lt.kind == "set":
        out = list(live)
        for item in patch:
            if item not in out:
                out.append(item)
        return out
    try:
        live_keys = [item_pe(item, lt, (), i) for i, item in enumerate(live)]
    except TypedError:
        return [_strip_directives(item) for item in patch]
    out = list(live)
    for i, item in enumerate(patch):
        if not isinstance(item, dict):
            continue
        try:
            pe = item_pe({k: v for k, v in item.items() if k != "$patch"}, lt, (), i)
        except TypedError as exc:
            raise PatchError(str(exc)) from exc
        if pe in live_keys:
            index = live_keys.index(pe)
            if item.get("$patch") == "delete":
                del out[index]
                del live_keys[index]
            else:
                out[index] = strategic_merge_patch(out[index], item, schema, names)
        elif item.get("$patch") != "delete":
            out.append(_strip_directives(item))
            live_keys.append(pe)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    """The node at ``parts`` below ``doc``; PatchError naming ``path`` when one is missing."""
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"doc is missing path: {path}")
    return node


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    return _walk(doc, parts[:-1], path), parts[-1]


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _pointer(path), path)


def json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict):
            raise PatchError("invalid operation")
        kind, path = op.get("op"), op.get("path", "")
        if kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed")
            continue
        if kind in ("move", "copy"):
            value = copy.deepcopy(_get(doc, op.get("from", "")))
            if kind == "move":
                doc = json_patch(doc, [{"op": "remove", "path": op.get("from", "")}])
            doc = json_patch(doc, [{"op": "add", "path": path, "value": value}])
            continue
        parts = _pointer(path)
        if not parts:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op.get("value"))
                continue
            raise PatchError("cannot remove the document root")
        parent, last = _parent(doc, parts, path)
        if kind == "add":
            if isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(op.get("value")))
                elif last.isdigit() and int(last) <= len(parent):
                    parent.insert(int(last), copy.deepcopy(op.get("value")))
                else:
                    raise PatchError(f"doc is missing path: {path}")
            elif isinstance(parent, dict):
                parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise PatchError(f"doc is missing path: {path}")
        elif kind in ("remove", "replace"):
            if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
                if kind == "remove":
                    del parent[int(last)]
                else:
                    parent[int(last)] = copy.deepcopy(op.get("value"))
            elif isinstance(parent, dict) and last in parent:
                if kind == "remove":
                    del parent[last]
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise PatchError(f"{kind} operation does not apply: doc is missing path: {path}")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc
