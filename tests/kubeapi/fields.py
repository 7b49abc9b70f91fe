"""Field sets, as structured-merge-diff computes them for server-side apply.

A field path is a tuple of path elements in the ``FieldsV1`` spelling: ``f:spec`` (a field),
``k:{"name":"web"}`` (an item of an associative list, by its key fields), ``v:"x"`` (an item of a
set list). A field set is a Python ``set`` of paths; ``encode``/``decode`` convert it to and from
the nested ``fieldsV1`` JSON the server stores in ``metadata.managedFields``.

The shape of objects (which lists are associative and by which keys, which maps are atomic) comes
from a ``Schema``: built-in kinds know the well-known Kubernetes list-map fields, custom resources
read ``x-kubernetes-list-type`` and friends from their CRD's openAPIV3Schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Path = tuple[str, ...]
Names = tuple[str, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class TypedError(Exception):
    """The object does not fit the schema (what structured-merge-diff reports when it converts an object)."""


class ListType(NamedTuple):
    kind: str  # "atomic" | "set" | "map"
    keys: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()


ATOMIC = ListType("atomic")
SET = ListType("set")


def _map(*keys: str, defaults: tuple[tuple[str, Any], ...] = ()) -> ListType:
    return ListType("map", keys, defaults)


class Schema:
    """Answers the structural questions of server-side apply for one kind."""

    def list_type(self, names: Names) -> ListType:
        return _metadata_list_type(names) or ATOMIC

    def atomic(self, names: Names) -> bool:
        """An atomic map or struct: owned and replaced as a whole."""
        return False

    def map_field(self, names: Names) -> bool:
        """A granular map with free keys (labels, data): the map itself is a member when it appears."""
        return _metadata_map_field(names)


def _metadata_list_type(names: Names) -> ListType | None:
    if names == ("metadata", "finalizers"):
        return SET
    if names == ("metadata", "ownerReferences"):
        return _map("uid")
    return None


def _metadata_map_field(names: Names) -> bool:
    return len(names) == 2 and names[0] == "metadata" and names[1] in ("labels", "annotations")


_TCP = (("protocol", "TCP"),)
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_BUILTIN_LISTS: dict[str, ListType] = {
    "containers": _map("name"),
    "initContainers": _map("name"),
    "ephemeralContainers": _map("name"),
    "env": _map("name"),
    "volumes": _map("name"),
    "volumeMounts": _map("mountPath"),
    "volumeDevices": _map("devicePath"),
    "imagePullSecrets": _map("name"),
    "hostAliases": _map("ip"),
    "topologySpreadConstraints": _map("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": _map("name"),
    "schedulingGates": _map("name"),
}
# LabelSelector, the *KeySelector and *FieldSelector structs are +structType=atomic; Service.spec.selector
# is +mapType=atomic.
_BUILTIN_ATOMIC = {
    "selector",
    "labelSelector",
    "namespaceSelector",
    "podSelector",
    "objectSelector",
    "secretKeyRef",
    "configMapKeyRef",
    "fieldRef",
    "resourceFieldRef",
}
_BUILTIN_MAPS = {
    "nodeSelector",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "parameters",
    "allocatedResources",
}
_TOP_LEVEL_MAPS = {"data", "binaryData", "stringData"}


class BuiltinSchema(Schema):
    """The structural facts of the built-in kinds that server-side apply depends on."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def list_type(self, names: Names) -> ListType:
        meta = _metadata_list_type(names)
        if meta is not None:
            return meta
        if not names:
            return ATOMIC
        last = names[-1]
        if last == "ports":
            if len(names) >= 2 and names[-2] in _CONTAINER_LISTS:
                return _map("containerPort", "protocol", defaults=_TCP)
            if self.kind == "Service" and names == ("spec", "ports"):
                return _map("port", "protocol", defaults=_TCP)
            return ATOMIC
        if last == "conditions" and names[0] == "status":
            return _map("type")
        return _BUILTIN_LISTS.get(last, ATOMIC)

    def atomic(self, names: Names) -> bool:
        return bool(names) and names[-1] in _BUILTIN_ATOMIC and names[0] != "metadata"

    def map_field(self, names: Names) -> bool:
        if _metadata_map_field(names):
            return True
        if len(names) == 1 and names[0] in _TOP_LEVEL_MAPS:
            return True
        return bool(names) and names[-1] in _BUILTIN_MAPS


class CRDSchema(Schema):
    """A custom resource: lists are atomic unless the CRD's structural schema says otherwise."""

    def __init__(self, openapi: dict[str, Any] | None) -> None:
        self.openapi = openapi or {}

    def _node(self, names: Names) -> dict[str, Any] | None:
        node: Any = self.openapi
        for name in names:
            while isinstance(node, dict) and node.get("type") == "array":
                node = node.get("items")
            if not isinstance(node, dict):
                return None
            props = node.get("properties")
            if isinstance(props, dict) and name in props:
                node = props[name]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                return None
        return node if isinstance(node, dict) else None

    def list_type(self, names: Names) -> ListType:
        meta = _metadata_list_type(names)
        if meta is not None:
            return meta
        node = self._node(names)
        if not node:
            return ATOMIC
        kind = node.get("x-kubernetes-list-type", "atomic")
        if kind == "set":
            return SET
        if kind == "map":
            keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
            item_props = (node.get("items") or {}).get("properties") or {}
            defaults = tuple((k, item_props[k]["default"]) for k in keys if "default" in (item_props.get(k) or {}))
            return ListType("map", keys, defaults)
        return ATOMIC

    def atomic(self, names: Names) -> bool:
        if not names or names[0] == "metadata":
            return False
        node = self._node(names)
        return node is not None and node.get("x-kubernetes-map-type") == "atomic"

    def map_field(self, names: Names) -> bool:
        if _metadata_map_field(names):
            return True
        node = self._node(names)
        return node is not None and isinstance(node.get("additionalProperties"), dict) and "properties" not in node


# --- path elements ------------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def field_pe(name: str) -> str:
    return "f:" + name


def key_pe(keys: dict[str, Any]) -> str:
    return "k:" + _compact({k: keys[k] for k in sorted(keys)})


def value_pe(value: Any) -> str:
    return "v:" + _compact(value)


def pe_string(pe: str) -> str:
    """One element as fieldpath.PathElement.String prints it: ``.name``, ``[name="web"]``, ``[="x"]``."""
    kind, rest = pe[0], pe[2:]
    if kind == "f":
        return "." + rest
    if kind == "k":
        keys = json.loads(rest)
        return "[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]"
    if kind == "v":
        return f"[={rest}]"
    return f"[{rest}]"


def path_string(path: Path) -> str:
    return "".join(pe_string(pe) for pe in path)


def item_pe(item: Any, lt: ListType, path: Path, index: int) -> str:
    if lt.kind == "set":
        return value_pe(item)
    if not isinstance(item, dict):
        raise TypedError(f"{path_string(path)}: element {index}: associative list with keys may only contain maps")
    defaults = dict(lt.defaults)
    keys: dict[str, Any] = {}
    for key in lt.keys:
        if key in item and item[key] is not None:
            keys[key] = item[key]
        elif key in defaults:
            keys[key] = defaults[key]
        else:
            raise TypedError(
                f"{path_string(path)}: element {index}: associative list with keys has an element that omits key "
                f'field "{key}" (and doesn\'t have default value)'
            )
    return key_pe(keys)


def _list_items(value: list[Any], lt: ListType, path: Path, strict: bool) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        pe = item_pe(item, lt, path, index)
        if pe in seen and strict:
            raise TypedError(f"{path_string(path)}: duplicate entries for key {pe_string(pe)}")
        seen.add(pe)
        items.append((pe, item))
    return items


# --- field sets --------------------------------------------------------------------------------


def field_set(obj: dict[str, Any], schema: Schema, *, strict: bool = True) -> set[Path]:
    """The fields an applied configuration sets (typed.TypedValue.ToFieldSet)."""
    out: set[Path] = set()
    _field_set(obj, (), (), schema, out, strict)
    return out


def _field_set(value: Any, path: Path, names: Names, schema: Schema, out: set[Path], strict: bool) -> None:
    if isinstance(value, dict):
        if path and schema.atomic(names):
            out.add(path)
            return
        for key, child in value.items():
            child_path = (*path, field_pe(key))
            child_names = (*names, key)
            if child is None or child == {}:
                out.add(child_path)
            elif isinstance(child, dict | list):
                _field_set(child, child_path, child_names, schema, out, strict)
            else:
                out.add(child_path)
        return
    if isinstance(value, list):
        lt = schema.list_type(names)
        if lt.kind == "atomic":
            out.add(path)
            return
        seen: set[str] = set()
        for pe, item in _list_items(value, lt, path, strict):
            item_path = (*path, pe)
            out.add(item_path)
            if pe in seen:
                continue
            seen.add(pe)
            if lt.kind == "map" and isinstance(item, dict):
                _field_set(item, item_path, names, schema, out, strict)
        return
    out.add(path)


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)

    @property
    def changed(self) -> set[Path]:
        return self.added | self.modified

    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified)


def compare(old: Any, new: Any, schema: Schema) -> Comparison:
    """Fields added, removed and modified from ``old`` to ``new`` (typed.TypedValue.Compare)."""
    result = Comparison()
    _compare(old, new, (), (), schema, result, False)
    return result


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value == {} or value == []


def _absent(value: Any) -> bool:
    return value is MISSING or value is None


def same(a: Any, b: Any) -> bool:
    """Deep equality that tells 1 from True and 1 from 1.0 apart, as JSON values are compared."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _compare(old: Any, new: Any, path: Path, names: Names, schema: Schema, out: Comparison, member: bool) -> None:
    if old is MISSING and new is MISSING:
        return
    pair = (old, new)
    is_map = any(isinstance(v, dict) for v in pair) and all(isinstance(v, dict) or _absent(v) for v in pair)
    is_list = any(isinstance(v, list) for v in pair) and all(isinstance(v, list) or _absent(v) for v in pair)
    if is_map and not (path and schema.atomic(names)) and not (_empty(old) and _empty(new)):
        left = old if isinstance(old, dict) else {}
        right = new if isinstance(new, dict) else {}
        for key in [*left, *(k for k in right if k not in left)]:
            child = (*path, field_pe(key))
            _compare(left.get(key, MISSING), right.get(key, MISSING), child, (*names, key), schema, out, False)
        if path and (member or schema.map_field(names)):
            if _absent(old):
                out.added.add(path)
            elif _absent(new):
                out.removed.add(path)
        return
    if is_list and not (_empty(old) and _empty(new)):
        lt = schema.list_type(names)
        if lt.kind != "atomic":
            left_items = dict(reversed(_list_items(old if isinstance(old, list) else [], lt, path, False)))
            right_items = dict(reversed(_list_items(new if isinstance(new, list) else [], lt, path, False)))
            for pe in [*left_items, *(p for p in right_items if p not in left_items)]:
                old_item, new_item = left_items.get(pe, MISSING), right_items.get(pe, MISSING)
                _compare(old_item, new_item, (*path, pe), names, schema, out, True)
            return
    if old is MISSING:
        out.added.add(path)
    elif new is MISSING:
        out.removed.add(path)
    elif not same(old, new):
        out.modified.add(path)


# --- merge and prune ------------------------------------------------------------------------------


def merge(live: Any, config: Any, schema: Schema) -> Any:
    """The live object with the applied configuration merged in (typed.TypedValue.Merge)."""
    return _merge(live, config, (), (), schema)


def _merge(live: Any, config: Any, path: Path, names: Names, schema: Schema) -> Any:
    if config is MISSING:
        return live
    if live is MISSING or live is None:
        return copy.deepcopy(config)
    if isinstance(config, dict) and isinstance(live, dict) and not (path and schema.atomic(names)):
        out = dict(live)
        for key, value in config.items():
            out[key] = _merge(live.get(key, MISSING), value, (*path, field_pe(key)), (*names, key), schema)
        return out
    if isinstance(config, list) and isinstance(live, list):
        lt = schema.list_type(names)
        if lt.kind == "atomic":
            return copy.deepcopy(config)
        return _merge_list(live, config, lt, path, names, schema)
    if config is None and isinstance(live, dict | list) and live and not schema.atomic(names):
        return live
    return copy.deepcopy(config)


def _merge_list(
    live: list[Any], config: list[Any], lt: ListType, path: Path, names: Names, schema: Schema
) -> list[Any]:
    live_items = _list_items(live, lt, path, False)
    config_items = _list_items(config, lt, path, True)
    live_by_pe = dict(reversed(live_items))
    config_keys = {pe for pe, _ in config_items}

    def merged(pe: str, item: Any) -> Any:
        if lt.kind == "map":
            return _merge(live_by_pe.get(pe, MISSING), item, (*path, pe), names, schema)
        return copy.deepcopy(item)

    out: list[Any] = []
    next_config = 0
    emitted: set[str] = set()
    for pe, item in live_items:
        if pe not in config_keys:
            out.append(item)
            continue
        if pe in emitted:
            continue
        # A live item the configuration also has: emit the configuration's items up to and including it, in the
        # configuration's order.
        while next_config < len(config_items):
            config_pe, config_item = config_items[next_config]
            next_config += 1
            out.append(merged(config_pe, config_item))
            emitted.add(config_pe)
            if config_pe == pe or config_pe in live_by_pe:
                break
    for config_pe, config_item in config_items[next_config:]:
        if config_pe not in emitted:
            out.append(merged(config_pe, config_item))
    return out


def ensure_named(paths: Iterable[Path]) -> set[Path]:
    """The set plus every enclosing named field (fieldpath.Set.EnsureNamedFieldsAreMembers)."""
    out: set[Path] = set()
    for path in paths:
        out.add(path)
        for i in range(1, len(path)):
            if path[i - 1].startswith("f:"):
                out.add(path[:i])
    return out


def prefixes(paths: Iterable[Path]) -> set[Path]:
    out: set[Path] = set()
    for path in paths:
        for i in range(1, len(path)):
            out.add(path[:i])
    return out


class _Emptied:
    pass


_EMPTIED: Any = _Emptied()


def prune(obj: dict[str, Any], candidates: set[Path], keep: set[Path], schema: Schema) -> dict[str, Any]:
    """Remove from ``obj`` every field in ``candidates`` not in ``keep`` (the applier's dropped fields)."""
    removable = {p for p in candidates if p not in keep}
    if not removable:
        return obj
    result = _prune(obj, (), (), removable, prefixes(removable), schema)
    return {} if result is _EMPTIED else result


def _prune(value: Any, path: Path, names: Names, remove: set[Path], inner: set[Path], schema: Schema) -> Any:
    if isinstance(value, dict) and not (path and schema.atomic(names)):
        out: dict[str, Any] = {}
        dropped = False
        for key, child in value.items():
            child_path = (*path, field_pe(key))
            if child_path in remove:
                dropped = True
                continue
            if child_path in inner:
                child = _prune(child, child_path, (*names, key), remove, inner, schema)
                if child is _EMPTIED:
                    dropped = True
                    continue
            out[key] = child
        return _EMPTIED if dropped and not out and path else out
    if isinstance(value, list):
        lt = schema.list_type(names)
        if lt.kind == "atomic":
            return value
        items: list[Any] = []
        dropped = False
        for pe, item in _list_items(value, lt, path, False):
            item_path = (*path, pe)
            if item_path in remove:
                dropped = True
                continue
            if item_path in inner and lt.kind == "map":
                item = _prune(item, item_path, names, remove, inner, schema)
                if item is _EMPTIED:
                    item = {}
            items.append(item)
        return _EMPTIED if dropped and not items else items
    return value


def only_under(paths: Iterable[Path], prefix: Path) -> set[Path]:
    n = len(prefix)
    return {p for p in paths if p[:n] == prefix}


def without_under(paths: Iterable[Path], prefixes_: Iterable[Path]) -> set[Path]:
    roots = list(prefixes_)
    return {p for p in paths if not any(p[: len(r)] == r for r in roots)}


# --- FieldsV1 ------------------------------------------------------------------------------------


def _pe_order(pe: str) -> tuple[int, str]:
    return ({"f": 0, "k": 1, "v": 2, "i": 3}.get(pe[0], 4), pe)


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """A field set as the nested ``fieldsV1`` JSON: ``{"f:spec": {"f:replicas": {}}}``, ``".": {}`` on members."""
    root: dict[str, Any] = {}
    members: set[Path] = set()
    for path in paths:
        members.add(path)
        node = root
        for pe in path:
            node = node.setdefault(pe, {})

    def render(node: dict[str, Any], path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and path in members:
            out["."] = {}
        for pe in sorted(node, key=_pe_order):
            out[pe] = render(node[pe], (*path, pe))
        return out

    return render(root, ())


def decode(fields_v1: dict[str, Any]) -> set[Path]:
    out: set[Path] = set()

    def walk(node: dict[str, Any], path: Path) -> None:
        for pe, child in node.items():
            if pe == ".":
                out.add(path)
                continue
            child_path = (*path, pe)
            if not child:
                out.add(child_path)
            else:
                walk(child, child_path)

    walk(fields_v1 or {}, ())
    return out
