"""The state of the test API server and the semantics of every request it answers.

``Cluster.handle`` takes one HTTP call (already read off the wire) and returns the response; it holds
``Cluster.lock`` for the whole call, so the uvicorn thread, timers of the simulated controllers and
a test's direct calls never interleave.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import string
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from . import errors as e
from .controllers import (
    CONTROLLER_KINDS,
    FAIL,
    FAIL_ANNOTATION,
    HOLD,
    HOLD_ANNOTATION,
    READY,
    conditions,
    desired_status,
)
from .errors import KubeError
from .fields import (
    Path,
    TypedError,
    compare,
    decode,
    encode,
    ensure_named,
    field_set,
    merge,
    path_string,
    prune,
    same,
)
from .patches import PatchError, json_patch, merge_patch, strategic_merge_patch
from .resources import Registry, ResourceType, resource_types_from_crd
from .validation import Allocator, TypeMismatch, apply_defaults, check_types, structural, validate

APPLY_YAML = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# What the server decodes (no protobuf or CBOR: clients fall back to JSON on 415).
BODY_TYPES = ("application/json", "application/yaml", APPLY_YAML, MERGE_PATCH, STRATEGIC_PATCH, JSON_PATCH)

# Fields never recorded in managedFields (the apiserver's stripmeta manager).
STRIPPED: tuple[Path, ...] = (
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:resourceVersion"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:deletionGracePeriodSeconds"),
)
SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
ROOT_CA = "-----BEGIN CERTIFICATE-----\nMIIBkubeapitestfakecertificate\n-----END CERTIFICATE-----\n"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _YamlLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: no timestamp type (dates stay strings)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Call:
    """One HTTP request, as the server read it."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = ""
    body: bytes = b""
    user_agent: str = ""
    authorization: str | None = None
    impersonate_user: str | None = None  # Impersonate-User: recorded, not enforced (there is no RBAC)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


MAX_EVENTS = 100_000


@dataclass
class WatchEvent:
    rv: int
    type: str
    key: tuple[str, str, str, str]
    obj: dict[str, Any]


@dataclass
class Watch:
    """An open watch: what it selects and the resourceVersion it has sent up to."""

    rt: ResourceType
    namespace: str | None
    labels: Callable[[dict[str, str]], bool]
    fields: Callable[[dict[str, Any]], bool]
    after: int
    initial: list[dict[str, Any]]
    timeout: float | None
    expired: bool = False

    def matches(self, key: tuple[str, str, str, str], obj: dict[str, Any]) -> bool:
        if key[:2] != (self.rt.group, self.rt.plural):
            return False
        if self.namespace is not None and key[2] != self.namespace:
            return False
        return self.labels((obj.get("metadata") or {}).get("labels") or {}) and self.fields(obj)


@dataclass
class Reply:
    code: int
    body: Any
    text: str | None = None
    delay: float = 0.0
    watch: Watch | None = None


@dataclass(frozen=True)
class Request:
    """A request the server answered, for tests to count and inspect."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    dry_run: bool
    is_write: bool
    status: int = 0
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    field_manager: str | None = None
    impersonate_user: str | None = None


@dataclass
class Failure:
    """An injected failure: the next matching request(s) get ``status`` instead of being served."""

    method: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    subresource: str | None = None
    dry_run: bool | None = None
    path: str | None = None
    status: int = 500
    message: str = "injected failure"
    reason: str | None = None
    times: int | None = 1
    delay: float = 0.0
    hits: int = 0

    def matches(self, call: Call, target: Target | None, dry_run: bool) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != call.method:
            return False
        if self.path and self.path not in call.path:
            return False
        if self.dry_run is not None and self.dry_run != dry_run:
            return False
        if self.kind or self.name or self.namespace or self.subresource:
            if target is None:
                return False
            rt = target.rt
            if self.kind and self.kind not in (rt.kind, rt.plural, rt.qualified_resource, *rt.short_names):
                return False
            if self.name and self.name != target.name:
                return False
            if self.namespace and self.namespace != target.namespace:
                return False
            if self.subresource and self.subresource != target.subresource:
                return False
        return True

    def error(self) -> InjectedError:
        reason = self.reason or {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            409: "Conflict",
            410: "Expired",
            422: "Invalid",
            429: "TooManyRequests",
            500: "InternalError",
            503: "ServiceUnavailable",
            504: "Timeout",
        }.get(self.status, "InternalError")
        return InjectedError(self.status, reason, self.message, {}, delay=self.delay)


@dataclass
class InjectedError(KubeError):
    delay: float = 0.0


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass
class Entry:
    """One metadata.managedFields entry."""

    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: set[Path] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.subresource, self.api_version if self.operation == "Update" else "")

    def describe(self) -> str:
        text = json.dumps(self.manager)
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Entry:
        return cls(
            manager=raw.get("manager", ""),
            operation=raw.get("operation", "Update"),
            api_version=raw.get("apiVersion", ""),
            subresource=raw.get("subresource", ""),
            time=raw.get("time"),
            fields=decode(raw.get("fieldsV1") or {}),
        )


Entries = dict[tuple[str, str, str, str], Entry]


def _entries(obj: dict[str, Any]) -> Entries:
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    out: Entries = {}
    for item in raw:
        if isinstance(item, dict):
            entry = Entry.from_json(item)
            out[entry.key] = entry
    return out


def _encode_entries(entries: Entries) -> list[dict[str, Any]]:
    ordered = sorted(
        (entry for entry in entries.values() if entry.fields),
        key=lambda en: (en.operation, en.time or "", en.manager, en.api_version, en.subresource),
    )
    return [entry.to_json() for entry in ordered]


def _strip_paths(paths: set[Path], rt: ResourceType, subresource: str) -> set[Path]:
    out = set()
    for path in paths:
        if any(path[: len(s)] == s for s in STRIPPED):
            continue
        if subresource == "status":
            if path[:1] != ("f:status",):
                continue
        elif rt.status_subresource and path[:1] == ("f:status",):
            continue
        out.add(path)
    return out


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without managedFields (what field management compares)."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def _spec_part(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    skip = {"metadata", "apiVersion", "kind"}
    if rt.status_subresource or rt.builtin:
        skip.add("status")
    return {k: v for k, v in obj.items() if k not in skip}


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


# --- selectors ------------------------------------------------------------------------------------


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


Predicate = Callable[[dict[str, str]], bool]


def parse_label_selector(text: str | None) -> Predicate:
    """``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x)``, comma-separated (all must hold)."""
    if not text:
        return lambda labels: True
    checks: list[Predicate] = []
    for part in _split_selector(text):
        m = re.fullmatch(r"([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)", part)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
            continue
        m = re.fullmatch(r"([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)", part)
        if m:
            key, op, value = m.group(1), m.group(2), m.group(3)
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
            continue
        m = re.fullmatch(r"(!?)\s*([A-Za-z0-9_./-]+)", part)
        if m:
            key = m.group(2)
            if m.group(1):
                checks.append(lambda labels, k=key: k not in labels)
            else:
                checks.append(lambda labels, k=key: k in labels)
            continue
        raise e.bad_request(f"unable to parse requirement: found '{part}', expected: valid label selector")
    return lambda labels: all(check(labels) for check in checks)


def parse_field_selector(text: str | None) -> Callable[[dict[str, Any]], bool]:
    if not text:
        return lambda obj: True
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for part in _split_selector(text):
        m = re.fullmatch(r"([A-Za-z.]+)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise e.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        key, op, value = m.group(1), m.group(2), m.group(3)
        if key not in ("metadata.name", "metadata.namespace"):
            raise e.bad_request(f'"{key}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        attr = key.split(".", 1)[1]

        def check(obj: dict[str, Any], a: str = attr, v: str = value, neg: bool = op == "!=") -> bool:
            return ((obj.get("metadata") or {}).get(a, "") == v) != neg

        checks.append(check)
    return lambda obj: all(c(obj) for c in checks)


# --- the cluster -----------------------------------------------------------------------------------


ObjectKey = tuple[str, str, str, str]  # group, plural, namespace ("" when cluster-scoped), name


class Cluster:
    """Objects, resource types and the request semantics of one fake kube-apiserver."""

    def __init__(self, token: str | None = "test-token") -> None:
        self.lock = threading.RLock()
        self.token: str | None = token
        self.server_address = "127.0.0.1:0"
        self.registry = Registry()
        self.objects: dict[ObjectKey, dict[str, Any]] = {}
        self.rv = 1000
        self.allocator = Allocator()
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        # knobs of the simulated controllers
        self.controllers_enabled = True
        self.controller_delay = 0.0
        self.crd_established_delay = 0.0
        self.namespace_finalize_delay = 0.0
        self.namespace_defaults = True
        self.modes: dict[tuple[str, str, str], tuple[str, str]] = {}  # (kind, namespace, name) -> (mode, reason)
        self._timers: list[threading.Timer] = []
        self._closed = False
        self._last_target: Target | None = None
        self._finalizing: set[str] = set()
        self.controller_errors: list[str] = []
        self.events: list[WatchEvent] = []
        self._events_floor = 0
        self.serving_epoch = 0
        self._strict = False
        with self.lock:
            for ns in INITIAL_NAMESPACES:
                self._bootstrap_namespace(ns)

    # --- helpers ---

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> ObjectKey:
        return (rt.group, rt.plural, namespace or "" if rt.namespaced else "", name)

    def _save(self, key: ObjectKey, obj: dict[str, Any], *, created: bool = False) -> None:
        self.objects[key] = obj
        self._event("ADDED" if created else "MODIFIED", key, obj)

    def _drop(self, key: ObjectKey, final: dict[str, Any] | None = None) -> None:
        """Remove an object; the deletion takes a resourceVersion, as in etcd."""
        obj = self.objects.pop(key)
        gone = copy.deepcopy(final if final is not None else obj)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._event("DELETED", key, gone)

    def _event(self, kind: str, key: ObjectKey, obj: dict[str, Any]) -> None:
        rv = int(obj["metadata"].get("resourceVersion") or self.rv)
        self.events.append(WatchEvent(rv, kind, key, copy.deepcopy(obj)))
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]
            self._events_floor = self.events[0].rv - 1

    def events_since(self, watch: Watch) -> list[dict[str, Any]]:
        """The watch events after ``watch.after`` that match it, as the stream sends them (and move it on)."""
        with self.lock:
            if watch.after < self._events_floor:
                message = f"too old resource version: {watch.after} ({self._events_floor})"
                watch.after = self.rv
                watch.expired = True
                return [{"type": "ERROR", "object": e.KubeError(410, "Expired", message).status()}]
            out = []
            for event in self.events:
                if event.rv <= watch.after:
                    continue
                if watch.matches(event.key, event.obj):
                    out.append({"type": event.type, "object": self.present(watch.rt, event.obj)})
            watch.after = max(watch.after, self.rv)
            return out

    def load(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get(self._key(rt, namespace, name))

    def present(self, rt: ResourceType, obj: dict[str, Any], *, typed_meta: bool = True) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        out.pop("apiVersion", None)
        out.pop("kind", None)
        if not typed_meta:
            return out
        return {"apiVersion": rt.api_version, "kind": rt.kind, **out}

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        if delay <= 0:
            fn()
            return

        def run() -> None:
            with self.lock:
                if not self._closed:
                    fn()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()]
        self._timers.append(timer)
        timer.start()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()

    def _bootstrap_namespace(self, name: str) -> None:
        rt = self.registry.lookup("", "v1", "namespaces")
        assert rt is not None
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self._create(rt, None, obj, manager="kube-apiserver", operation="Update", dry=False, apply_set=None)

    def namespaces(self) -> set[str]:
        return {key[3] for key in self.objects if key[:2] == ("", "namespaces")}

    # --- entry point ---

    def handle(self, call: Call, *, record: bool = True) -> Reply:
        with self.lock:
            target: Target | None = None
            dry = "All" in call.query.get("dryRun", [])
            self._strict = call.param("fieldValidation") == "Strict"
            try:
                if call.method == "DELETE" and call.body and not dry:
                    opts = self._json_body(call, required=False)
                    dry = isinstance(opts, dict) and "All" in (opts.get("dryRun") or [])
                reply = self._route(call, dry, lambda t: self._set_target(t, call, dry))
            except KubeError as err:
                reply = Reply(err.code, err.status(), delay=err.delay if isinstance(err, InjectedError) else 0.0)
            target = self._last_target
            self._last_target = None
            self._strict = False
            if record:
                self.requests.append(
                    Request(
                        method=call.method,
                        path=call.path,
                        query={k: v[-1] for k, v in call.query.items() if v},
                        content_type=call.content_type or None,
                        dry_run=dry,
                        is_write=call.method in WRITE_METHODS and not dry,
                        status=reply.code,
                        resource=target.rt.plural if target else None,
                        namespace=target.namespace if target else None,
                        name=target.name if target else None,
                        subresource=target.subresource if target else None,
                        field_manager=call.param("fieldManager"),
                        impersonate_user=call.impersonate_user,
                    )
                )
            return reply

    def _set_target(self, target: Target | None, call: Call, dry: bool) -> None:
        self._last_target = target
        for failure in self.failures:
            if failure.matches(call, target, dry):
                failure.hits += 1
                raise failure.error()

    def _route(self, call: Call, dry: bool, on_target: Callable[[Target | None], None]) -> Reply:
        parts = [p for p in call.path.split("/") if p]
        public = parts[:1] in (["version"], ["healthz"], ["livez"], ["readyz"])
        if not public and self.token is not None and call.authorization != f"Bearer {self.token}":
            on_target(None)
            raise e.unauthorized()
        if not parts:
            on_target(None)
            return Reply(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]})
        if parts[0] in ("healthz", "livez", "readyz"):
            on_target(None)
            return Reply(200, None, text="ok")
        if parts == ["version"]:
            on_target(None)
            return Reply(
                200,
                {
                    "major": "1",
                    "minor": "32",
                    "gitVersion": "v1.32.0-kubeapi-test",
                    "goVersion": "go1.23",
                    "platform": "linux/amd64",
                },
            )
        if parts[0] == "api":
            if len(parts) == 1:
                on_target(None)
                return Reply(200, self.registry.api_versions(self.server_address))
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis":
            if len(parts) == 1:
                on_target(None)
                return Reply(200, self.registry.api_group_list())
            if len(parts) == 2:
                on_target(None)
                doc = self.registry.api_group(parts[1])
                if doc is None:
                    raise e.resource_not_found()
                return Reply(200, doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            on_target(None)
            raise e.resource_not_found()
        if not rest:
            on_target(None)
            if call.method != "GET":
                raise e.method_not_allowed()
            doc = self.registry.resource_list(group, version)
            if doc is None:
                raise e.resource_not_found()
            return Reply(200, doc)
        target = self._parse_target(group, version, rest)
        on_target(target)
        if target is None:
            raise e.resource_not_found()
        return self._dispatch(call, target, dry)

    def _parse_target(self, group: str, version: str, rest: list[str]) -> Target | None:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and len(rest) == 3 and rest[2] == "status"):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return None
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        rt = self.registry.lookup(group, version, plural)
        if rt is None:
            return None
        if namespace is not None and not rt.namespaced:
            return None
        if sub is not None and not (sub == "status" and rt.status_subresource):
            return None
        return Target(rt, namespace, name, sub)

    def _dispatch(self, call: Call, target: Target, dry: bool) -> Reply:
        rt, ns, name = target.rt, target.namespace, target.name
        if rt.namespaced and ns is None and name is not None:
            raise e.resource_not_found()
        method = call.method
        if name is None:
            if method == "GET":
                if call.param("watch") in ("true", "1"):
                    return self._watch(call, rt, ns)
                return self._list(call, rt, ns)
            if method == "POST":
                return self._post(call, rt, ns, dry)
            if method == "DELETE" and "deletecollection" in rt.verbs:
                return self._delete_collection(call, rt, ns, dry)
            raise e.method_not_allowed()
        if method == "GET":
            obj = self.load(rt, ns, name)
            if obj is None:
                raise e.not_found(rt.plural, rt.group, name)
            return Reply(200, self.present(rt, obj))
        if method == "PUT":
            return self._put(call, target, dry)
        if method == "PATCH":
            return self._patch(call, target, dry)
        if method == "DELETE" and target.subresource is None:
            return self._delete_request(call, rt, ns, name, dry)
        raise e.method_not_allowed()

    # --- bodies and parameters ---

    def _json_body(self, call: Call, *, required: bool = True) -> Any:
        if not call.body:
            if required:
                raise e.bad_request("the body of the request was empty")
            return None
        media = call.content_type.split(";")[0].strip()
        if media and media not in BODY_TYPES:
            raise e.unsupported_media_type(media, list(BODY_TYPES))
        text = call.body.decode("utf-8", errors="replace")
        try:
            if "yaml" in call.content_type:
                return yaml.load(text, Loader=_YamlLoader)  # a SafeLoader
            return json.loads(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise e.bad_request(f"error decoding request body: {exc}") from exc

    def _object_body(self, call: Call, rt: ResourceType) -> dict[str, Any]:
        body = self._json_body(call)
        if not isinstance(body, dict):
            raise e.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: not an object')
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if not kind:
            raise e.bad_request(f"Object 'Kind' is missing in '{call.body.decode(errors='replace')[:200]}'")
        if api_version != rt.api_version:
            raise e.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})"
            )
        if kind != rt.kind:
            raise e.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        if not isinstance(body.get("metadata", {}), dict):
            raise e.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot unmarshal '
                f"{type(body.get('metadata')).__name__} into Go struct field {rt.kind}.metadata of type v1.ObjectMeta"
            )
        return body

    @staticmethod
    def _field_manager(call: Call) -> str:
        manager = call.param("fieldManager")
        if manager:
            if len(manager) > 128:
                raise KubeError(
                    422,
                    "Invalid",
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
                    {"group": "meta.k8s.io", "kind": "PatchOptions"},
                )
            return manager
        agent = call.user_agent.split("/", 1)[0] if call.user_agent else ""
        return agent[:128] or "unknown"

    def _check_names(self, rt: ResourceType, obj: dict[str, Any], name: str, namespace: str | None) -> None:
        meta = obj.setdefault("metadata", {})
        obj_name = meta.get("name") or ""
        if obj_name != name:
            raise e.bad_request(f"the name of the object ({obj_name}) does not match the name on the URL ({name})")
        self._check_namespace(rt, obj, namespace)

    @staticmethod
    def _check_namespace(rt: ResourceType, obj: dict[str, Any], namespace: str | None) -> None:
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            obj_ns = meta.get("namespace")
            if obj_ns and namespace and obj_ns != namespace:
                raise e.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if namespace:
                meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _type_check(self, rt: ResourceType, obj: dict[str, Any], *, apply: bool) -> None:
        try:
            check_types(rt, obj)
        except TypeMismatch as mismatch:
            if apply:
                raise e.plain_internal_error(self._typed_error(rt, obj, mismatch.typed_message())) from mismatch
            raise e.bad_request(mismatch.decode_message(rt)) from mismatch

    @staticmethod
    def _typed_error(rt: ResourceType, obj: dict[str, Any], message: str) -> str:
        meta = obj.get("metadata") or {}
        where = "/".join(p for p in (meta.get("namespace"), meta.get("name")) if p)
        gvk = f"{rt.api_version}, Kind={rt.kind}"
        return f"failed to create typed patch object ({where}; {gvk}): {message}"

    def _structural(self, rt: ResourceType, obj: dict[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Custom resources: prune unknown fields (refuse them under fieldValidation=Strict), fill in defaults."""
        schema = getattr(rt.schema, "openapi", None)
        if rt.builtin or not schema:
            return obj
        unknown: list[str] = []
        out = structural(obj, schema, unknown, defaults=defaults)
        if unknown and self._strict:
            raise e.bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
        return out

    def _check_namespace_exists(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced:
            return
        ns_obj = self.objects.get(("", "namespaces", "", namespace or ""))
        if ns_obj is None:
            raise e.not_found("namespaces", "", namespace or "")
        if (ns_obj.get("metadata") or {}).get("deletionTimestamp"):
            raise e.forbidden_error(
                rt.plural,
                rt.group,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    # --- reads ---

    def _list(self, call: Call, rt: ResourceType, namespace: str | None) -> Reply:
        labels = parse_label_selector(call.param("labelSelector"))
        fields_ = parse_field_selector(call.param("fieldSelector"))
        keys = sorted(
            key
            for key, obj in self.objects.items()
            if key[:2] == (rt.group, rt.plural)
            and (namespace is None or key[2] == namespace)
            and labels((obj.get("metadata") or {}).get("labels") or {})
            and fields_(obj)
        )
        start = call.param("continue")
        if start:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(start.encode()).decode()))
            except (ValueError, TypeError) as exc:
                raise e.bad_request("continue key is not valid: illegal base64 data") from exc
            keys = [k for k in keys if (k[2], k[3]) > after]
        limit_text = call.param("limit")
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if limit_text and limit_text.isdigit() and int(limit_text) > 0 and len(keys) > int(limit_text):
            limit = int(limit_text)
            rest = len(keys) - limit
            keys = keys[:limit]
            last = keys[-1]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps([last[2], last[3]]).encode()).decode()
            meta["remainingItemCount"] = rest
        items = [self.present(rt, self.objects[k], typed_meta=not rt.builtin) for k in keys]
        return Reply(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items})

    def _watch(self, call: Call, rt: ResourceType, namespace: str | None) -> Reply:
        labels = parse_label_selector(call.param("labelSelector"))
        fields_ = parse_field_selector(call.param("fieldSelector"))
        timeout_text = call.param("timeoutSeconds")
        timeout = float(timeout_text) if timeout_text and timeout_text.isdigit() else None
        watch = Watch(rt, namespace, labels, fields_, self.rv, [], timeout)
        since = call.param("resourceVersion")
        if since and since != "0":
            if not since.isdigit():
                raise e.bad_request(f"invalid resource version: {since}")
            watch.after = int(since)
            return Reply(200, None, watch=watch)
        for key, obj in sorted(self.objects.items()):
            if watch.matches(key, obj):
                watch.initial.append({"type": "ADDED", "object": self.present(rt, obj)})
        return Reply(200, None, watch=watch)

    # --- writes ---

    def _post(self, call: Call, rt: ResourceType, namespace: str | None, dry: bool) -> Reply:
        obj = self._object_body(call, rt)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced and namespace is None:
            raise e.method_not_allowed()
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        if not meta.get("name"):
            raise e.invalid_object(
                rt.kind, rt.group, "", [e.required("metadata.name", "name or generateName is required")]
            )
        self._check_namespace(rt, obj, namespace)
        manager = self._field_manager(call)
        return self._create(rt, namespace, obj, manager=manager, operation="Update", dry=dry, apply_set=None)

    def _create(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: dict[str, Any],
        *,
        manager: str,
        operation: str,
        dry: bool,
        apply_set: set[Path] | None,
    ) -> Reply:
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        self._check_namespace_exists(rt, namespace, name)
        if self.load(rt, namespace, name) is not None:
            raise e.already_exists(rt.plural, rt.group, name)
        if operation == "Update":
            self._type_check(rt, obj, apply=False)
        obj = _drop_nulls(copy.deepcopy(obj))
        meta = obj.setdefault("metadata", {})
        for key in (*SYSTEM_META, "managedFields"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rt.has_generation:
            meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if rt.status_subresource:
            obj.pop("status", None)
        apply_defaults(rt, obj, None, self.allocator, creating=True)
        obj = self._structural(rt, obj)
        errs = validate(rt, obj, None)
        if errs:
            raise e.invalid_object(rt.kind, rt.group, name, errs)
        stamp = now()
        if operation == "Apply":
            assert apply_set is not None
            entry = Entry(manager, "Apply", rt.api_version, "", stamp, _strip_paths(apply_set, rt, ""))
        else:
            skeleton = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {}}
            diff = compare(skeleton, _content(obj), rt.schema)
            entry = Entry(manager, "Update", rt.api_version, "", stamp, _strip_paths(diff.changed, rt, ""))
        obj["metadata"]["managedFields"] = _encode_entries({entry.key: entry})
        if dry:
            return Reply(201, self.present(rt, obj))
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._save(self._key(rt, namespace, name), obj, created=True)
        result = self.present(rt, obj)
        self._after_write(rt, obj, created=True, subresource=None)
        return Reply(201, result)

    def _put(self, call: Call, target: Target, dry: bool) -> Reply:
        rt, ns, name = target.rt, target.namespace, target.name
        assert name is not None
        body = self._object_body(call, rt)
        self._check_names(rt, body, name, ns)
        live = self.load(rt, ns, name)
        if live is None:
            raise e.not_found(rt.plural, rt.group, name)
        manager = self._field_manager(call)
        return self._update(rt, live, body, manager=manager, subresource=target.subresource or "", dry=dry)

    def _update(
        self, rt: ResourceType, live: dict[str, Any], new: dict[str, Any], *, manager: str, subresource: str, dry: bool
    ) -> Reply:
        """An Update operation (PUT, merge/strategic/JSON patch): the manager owns what it changed."""
        meta = (new.get("metadata") or {}) if isinstance(new.get("metadata"), dict) else {}
        live_meta = live["metadata"]
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and wanted_rv != live_meta.get("resourceVersion"):
            raise e.stale_resource_version(rt.plural, rt.group, live_meta["name"])
        if meta.get("uid") and meta["uid"] != live_meta.get("uid"):
            raise e.conflict(
                rt.plural,
                rt.group,
                live_meta["name"],
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {live_meta.get('uid')}",
            )
        self._type_check(rt, new, apply=False)
        supplied = meta.get("managedFields")
        new = self._prepare_update(rt, live, new, subresource)
        if isinstance(supplied, list) and supplied and supplied != live_meta.get("managedFields"):
            # The request changed managedFields itself (how a tool takes over another's fields): the
            # server stores them as given and tracks nothing for this request. Unchanged ones (a patch
            # merged onto the live object carries them) mean ordinary tracking.
            given = _entries({"metadata": {"managedFields": supplied}})
            return self._commit(rt, live, new, given, dry, subresource)
        entries = _entries(live)
        stamp = now()
        diff = compare(_content(live), _content(new), rt.schema)
        changed = _strip_paths(diff.changed, rt, subresource)
        removed = _strip_paths(diff.removed, rt, subresource)
        mine = Entry(manager, "Update", rt.api_version, subresource)
        for key, entry in entries.items():
            if key != mine.key:
                entry.fields -= changed | removed
        if mine.key in entries:
            entries[mine.key].fields -= removed
        if changed:
            previous = entries.get(mine.key)
            mine.fields = ((previous.fields if previous else set()) - removed) | changed
            mine.time = stamp
            entries[mine.key] = mine
        return self._commit(rt, live, new, entries, dry, subresource)

    def _prepare_update(
        self, rt: ResourceType, live: dict[str, Any], new: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        """The object to store: system metadata from live, status reset per subresource, defaults, validation."""
        live_meta = live["metadata"]
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(live)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = copy.deepcopy(status)
        else:
            new = copy.deepcopy(new)
            if rt.status_subresource:
                if "status" in live:
                    new["status"] = copy.deepcopy(live["status"])
                else:
                    new.pop("status", None)
        new = _drop_nulls(new)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        meta = new.setdefault("metadata", {})
        meta.pop("managedFields", None)
        for key in (*SYSTEM_META, "name", "namespace"):
            if key in live_meta:
                meta[key] = copy.deepcopy(live_meta[key])
            else:
                meta.pop(key, None)
        new = self._structural(rt, new)
        if subresource != "status":
            apply_defaults(rt, new, live, self.allocator, creating=False)
            errs = validate(rt, new, live)
            if errs:
                raise e.invalid_object(rt.kind, rt.group, live_meta["name"], errs)
        return new

    def _commit(
        self,
        rt: ResourceType,
        live: dict[str, Any],
        new: dict[str, Any],
        entries: Entries,
        dry: bool,
        subresource: str,
    ) -> Reply:
        meta = new["metadata"]
        live_meta = live["metadata"]
        if rt.has_generation:
            generation = live_meta.get("generation", 1)
            if not same(_spec_part(live, rt), _spec_part(new, rt)):
                generation += 1
            meta["generation"] = generation
        meta["managedFields"] = _encode_entries(entries)
        key = self._key(rt, live_meta.get("namespace"), live_meta["name"])
        finalize = bool(live_meta.get("deletionTimestamp")) and not meta.get("finalizers")
        if same(live, new):
            return Reply(200, self.present(rt, live))
        if dry:
            return Reply(200, self.present(rt, new))
        meta["resourceVersion"] = self._next_rv()
        if finalize:
            self._drop(key, new)
            result = self.present(rt, new)
            self._after_remove(rt, new)
            return Reply(200, result)
        self._save(key, new)
        result = self.present(rt, new)
        self._after_write(rt, new, created=False, subresource=subresource)
        return Reply(200, result)

    # --- patch and server-side apply ---

    def _patch(self, call: Call, target: Target, dry: bool) -> Reply:
        rt, ns, name = target.rt, target.namespace, target.name
        assert name is not None
        content_type = call.content_type.split(";")[0].strip()
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_YAML] + ([STRATEGIC_PATCH] if rt.builtin else [])
        if content_type not in accepted:
            raise e.unsupported_media_type(content_type, accepted)
        if content_type == APPLY_YAML:
            return self._apply(call, target, dry)
        if call.param("force") is not None:
            raise KubeError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
                {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": []},
            )
        live = self.load(rt, ns, name)
        if live is None:
            raise e.not_found(rt.plural, rt.group, name)
        patch = self._json_body(call)
        current = self.present(rt, live)
        try:
            if content_type == JSON_PATCH:
                new = json_patch(current, patch)
            elif content_type == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise PatchError("merge patch must be an object")
                new = merge_patch(current, patch)
            else:
                if not isinstance(patch, dict):
                    raise PatchError("strategic merge patch must be an object")
                new = strategic_merge_patch(current, patch, rt.schema)
        except PatchError as exc:
            raise KubeError(422, "Invalid", str(exc), {}) from exc
        if not isinstance(new, dict):
            raise e.bad_request("the patch produced something that is not an object")
        self._check_names(rt, new, name, ns)
        if isinstance(patch, dict) and not (patch.get("metadata") or {}).get("resourceVersion"):
            new.setdefault("metadata", {})["resourceVersion"] = live["metadata"].get("resourceVersion")
        manager = self._field_manager(call)
        return self._update(rt, live, new, manager=manager, subresource=target.subresource or "", dry=dry)

    def _apply(self, call: Call, target: Target, dry: bool) -> Reply:
        rt, ns, name = target.rt, target.namespace, target.name
        assert name is not None
        subresource = target.subresource or ""
        manager = call.param("fieldManager")
        if not manager:
            raise KubeError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                {
                    "group": "meta.k8s.io",
                    "kind": "PatchOptions",
                    "causes": [
                        {
                            "reason": e.CAUSE_REQUIRED,
                            "message": "Required value: is required for apply patch",
                            "field": "fieldManager",
                        }
                    ],
                },
            )
        force = call.param("force") in ("true", "1")
        config = self._json_body(call)
        if not isinstance(config, dict):
            raise e.bad_request("the apply patch must be an object")
        if config.get("apiVersion") != rt.api_version:
            raise e.bad_request(
                "Incorrect version specified in apply patch. Specified patch version: "
                f"{config.get('apiVersion') or ''}, "
                f"expected: {rt.api_version}"
            )
        if config.get("kind") != rt.kind:
            raise e.bad_request(
                f"Incorrect kind specified in apply patch. Specified patch kind: {config.get('kind') or ''}, "
                f"expected: {rt.kind}"
            )
        meta = config.get("metadata")
        if meta is None:
            meta = config["metadata"] = {}
        if not isinstance(meta, dict):
            message = ".metadata: expected map, got " + type(meta).__name__
            raise e.plain_internal_error(self._typed_error(rt, config, message))
        if meta.get("managedFields") is not None:
            raise e.bad_request("metadata.managedFields must be nil")
        meta.setdefault("name", name)
        self._check_names(rt, config, name, ns)
        self._type_check(rt, config, apply=True)
        live = self.load(rt, ns, name)
        if subresource == "status":
            config = {
                "apiVersion": config["apiVersion"],
                "kind": config["kind"],
                "metadata": {k: v for k, v in meta.items() if k in ("name", "namespace")},
                **({"status": config["status"]} if "status" in config else {}),
            }
        elif rt.status_subresource:
            config.pop("status", None)
        config = self._structural(rt, config, defaults=False)
        try:
            config_set = field_set(config, rt.schema)
        except TypedError as exc:
            raise e.plain_internal_error(self._typed_error(rt, config, str(exc))) from exc
        wanted_rv = meta.get("resourceVersion")
        if live is None:
            if subresource == "status" or wanted_rv:
                raise e.not_found(rt.plural, rt.group, name)
            obj = _drop_nulls(copy.deepcopy(config))
            return self._create(rt, ns, obj, manager=manager, operation="Apply", dry=dry, apply_set=config_set)
        if wanted_rv and wanted_rv != live["metadata"].get("resourceVersion"):
            raise e.stale_resource_version(rt.plural, rt.group, name)
        live_content = _content(live)
        try:
            merged = merge(live_content, config, rt.schema)
        except TypedError as exc:
            raise e.plain_internal_error(self._typed_error(rt, config, str(exc))) from exc
        merged_meta = merged.setdefault("metadata", {})
        for system_key in SYSTEM_META:
            if system_key in live["metadata"]:
                merged_meta[system_key] = copy.deepcopy(live["metadata"][system_key])
            else:
                merged_meta.pop(system_key, None)
        entries = _entries(live)
        mine = Entry(manager, "Apply", rt.api_version, subresource, None, _strip_paths(config_set, rt, subresource))
        last = entries.get(mine.key)
        entries[mine.key] = mine
        if last is not None and last.fields:
            keep = set(config_set)
            for entry in entries.values():
                keep |= entry.fields
            merged = prune(merged, ensure_named(last.fields), ensure_named(keep), rt.schema)
        merged = _drop_nulls(merged)
        diff = compare(live_content, merged, rt.schema)
        changed = _strip_paths(diff.changed, rt, subresource)
        removed = _strip_paths(diff.removed, rt, subresource)
        conflicts: list[tuple[Entry, set[Path]]] = []
        for key, entry in entries.items():
            if key == mine.key:
                continue
            overlap = entry.fields & changed
            if overlap:
                conflicts.append((entry, overlap))
        if conflicts and not force:
            listed = [
                (entry.describe(), path_string(path))
                for entry, overlap in sorted(conflicts, key=lambda c: c[0].describe())
                for path in sorted(overlap)
            ]
            raise e.apply_conflict(listed)
        for key, entry in entries.items():
            if key != mine.key:
                entry.fields -= changed | removed
        mine.time = now() if not same(live_content, merged) or last is None else last.time
        new = self._prepare_update(rt, live, merged, subresource)
        return self._commit(rt, live, new, entries, dry, subresource)

    # --- deletes ---

    def _delete_request(self, call: Call, rt: ResourceType, ns: str | None, name: str, dry: bool) -> Reply:
        opts = self._json_body(call, required=False) or {}
        if not isinstance(opts, dict):
            raise e.bad_request("DeleteOptions must be an object")
        policy = call.param("propagationPolicy") or opts.get("propagationPolicy") or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise KubeError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan", "nil"',
                {"group": "meta.k8s.io", "kind": "DeleteOptions"},
            )
        live = self.load(rt, ns, name)
        if live is None:
            raise e.not_found(rt.plural, rt.group, name)
        pre = opts.get("preconditions") or {}
        live_meta = live["metadata"]
        if pre.get("uid") and pre["uid"] != live_meta.get("uid"):
            raise e.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {live_meta.get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != live_meta.get("resourceVersion"):
            raise e.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {live_meta.get('resourceVersion')}",
            )
        return self.delete(rt, live, policy, dry=dry)

    def delete(self, rt: ResourceType, live: dict[str, Any], policy: str = "Background", *, dry: bool = False) -> Reply:
        meta = live["metadata"]
        name = meta["name"]
        if rt.kind == "Namespace" and rt.group == "":
            if name in IMMORTAL_NAMESPACES:
                raise e.forbidden_error("namespaces", "", name, "this namespace may not be deleted")
            if meta.get("deletionTimestamp"):
                return Reply(200, self.present(rt, live))
            obj = copy.deepcopy(live)
            obj["metadata"]["deletionTimestamp"] = now()
            obj.setdefault("status", {})["phase"] = "Terminating"
            if dry:
                return Reply(200, self.present(rt, obj))
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._save(self._key(rt, None, name), obj)
            result = self.present(rt, obj)
            self.schedule(self.namespace_finalize_delay, lambda: self._finalize_namespace(name))
            return Reply(200, result)
        if meta.get("finalizers"):
            obj = copy.deepcopy(live)
            if not meta.get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = now()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                if rt.has_generation:
                    obj["metadata"]["generation"] = meta.get("generation", 1) + 1
                if dry:
                    return Reply(200, self.present(rt, obj))
                obj["metadata"]["resourceVersion"] = self._next_rv()
                self._save(self._key(rt, meta.get("namespace"), name), obj)
            return Reply(200, self.present(rt, obj))
        if dry:
            return Reply(200, self._deleted_reply_body(rt, live))
        if policy == "Orphan":
            self._orphan_dependents(meta["uid"])
        elif policy == "Foreground":
            self._delete_dependents(meta["uid"], "Foreground")
        self._drop(self._key(rt, meta.get("namespace"), name))
        body = self._deleted_reply_body(rt, live)
        self._after_remove(rt, live)
        return Reply(200, body)

    def _deleted_reply_body(self, rt: ResourceType, live: dict[str, Any]) -> dict[str, Any]:
        if rt.returns_deleted_object:
            return self.present(rt, live)
        meta = live["metadata"]
        details: dict[str, Any] = {"name": meta["name"]}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = meta.get("uid")
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _delete_collection(self, call: Call, rt: ResourceType, ns: str | None, dry: bool) -> Reply:
        labels = parse_label_selector(call.param("labelSelector"))
        fields_ = parse_field_selector(call.param("fieldSelector"))
        policy = call.param("propagationPolicy") or "Background"
        victims = [
            obj
            for key, obj in sorted(self.objects.items())
            if key[:2] == (rt.group, rt.plural)
            and (ns is None or key[2] == ns)
            and labels((obj.get("metadata") or {}).get("labels") or {})
            and fields_(obj)
        ]
        items = []
        for obj in victims:
            items.append(self.present(rt, obj, typed_meta=not rt.builtin))
            self.delete(rt, obj, policy, dry=dry)
        return Reply(
            200,
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.rv)},
                "items": items,
            },
        )

    def _rt_of(self, key: ObjectKey) -> ResourceType | None:
        for rt in self.registry.all():
            if (rt.group, rt.plural) == key[:2]:
                return rt
        return None

    def _dependents(self, owner_uid: str) -> Iterator[tuple[ObjectKey, dict[str, Any]]]:
        for key, obj in list(self.objects.items()):
            refs = (obj.get("metadata") or {}).get("ownerReferences") or []
            if any(isinstance(r, dict) and r.get("uid") == owner_uid for r in refs):
                yield key, obj

    def _orphan_dependents(self, owner_uid: str) -> None:
        for key, obj in self._dependents(owner_uid):
            updated = copy.deepcopy(obj)
            refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
            if refs:
                updated["metadata"]["ownerReferences"] = refs
            else:
                updated["metadata"].pop("ownerReferences", None)
            updated["metadata"]["resourceVersion"] = self._next_rv()
            self._save(key, updated)

    def _delete_dependents(self, owner_uid: str, policy: str) -> None:
        live_uids = {(o.get("metadata") or {}).get("uid") for o in self.objects.values()} - {owner_uid}
        for key, obj in self._dependents(owner_uid):
            refs = (obj.get("metadata") or {}).get("ownerReferences") or []
            if any(r.get("uid") in live_uids for r in refs if isinstance(r, dict)):
                continue  # another owner is still there
            rt = self._rt_of(key)
            if rt is not None and key in self.objects:
                self.delete(rt, obj, policy)

    def _after_remove(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self._delete_dependents(meta.get("uid", ""), "Background")
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            self._remove_crd(obj)
        namespace = meta.get("namespace")
        if namespace:
            ns_obj = self.objects.get(("", "namespaces", "", namespace))
            if ns_obj is not None and (ns_obj.get("metadata") or {}).get("deletionTimestamp"):
                self._finalize_namespace(namespace)

    def _finalize_namespace(self, name: str) -> None:
        ns_obj = self.objects.get(("", "namespaces", "", name))
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp") or name in self._finalizing:
            return
        self._finalizing.add(name)
        try:
            for key, obj in sorted(self.objects.items()):
                if key[2] != name or key not in self.objects or obj["metadata"].get("deletionTimestamp"):
                    continue
                rt = self._rt_of(key)
                if rt is not None and rt.namespaced:
                    self.delete(rt, self.objects[key], "Background")
        finally:
            self._finalizing.discard(name)
        if any(key[2] == name for key in self.objects):
            return
        ns_obj = self.objects.get(("", "namespaces", "", name))
        if ns_obj is not None and not ns_obj["metadata"].get("finalizers"):
            self._drop(("", "namespaces", "", name))

    # --- after writes: CRDs, namespaces, controllers ---

    def _after_write(self, rt: ResourceType, obj: dict[str, Any], *, created: bool, subresource: str | None) -> None:
        if subresource:
            return
        meta = obj["metadata"]
        if rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition":
            self._crd_written(obj, created)
        elif rt.group == "" and rt.kind == "Namespace" and created and self.namespace_defaults:
            self._namespace_defaults(meta["name"])
        if (rt.group, rt.kind) in CONTROLLER_KINDS:
            ns, name = meta.get("namespace"), meta["name"]
            self.schedule(self.controller_delay, lambda: self.reconcile(rt, ns, name))

    def _namespace_defaults(self, namespace: str) -> None:
        cm = self.registry.lookup("", "v1", "configmaps")
        sa = self.registry.lookup("", "v1", "serviceaccounts")
        assert cm is not None and sa is not None
        objects = (
            (
                cm,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": "kube-root-ca.crt",
                        "namespace": namespace,
                        "annotations": {"kubernetes.io/description": "Contains a CA bundle for the API server."},
                    },
                    "data": {"ca.crt": ROOT_CA},
                },
            ),
            (
                sa,
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}},
            ),
        )
        for rt, obj in objects:
            if self.load(rt, namespace, obj["metadata"]["name"]) is None:
                self._create(
                    rt, namespace, obj, manager="kube-controller-manager", operation="Update", dry=False, apply_set=None
                )

    def _crd_written(self, crd: dict[str, Any], created: bool) -> None:
        name = crd["metadata"]["name"]
        established = any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in (crd.get("status") or {}).get("conditions") or []
        )
        if established:
            self._register_crd(crd)
            return
        if self.crd_established_delay > 0:
            self._crd_status(name, established=False)
            self.schedule(self.crd_established_delay, lambda: self._establish(name))
        else:
            self._establish(name)

    def _establish(self, name: str) -> None:
        crd = self._crd(name)
        if crd is None or crd["metadata"].get("deletionTimestamp"):
            return
        self._register_crd(crd)
        self._crd_status(name, established=True)

    def _crd(self, name: str) -> dict[str, Any] | None:
        return self.objects.get(("apiextensions.k8s.io", "customresourcedefinitions", "", name))

    def _register_crd(self, crd: dict[str, Any]) -> None:
        self.registry.remove_crd(crd["metadata"]["name"])
        for rt in resource_types_from_crd(crd):
            self.registry.add(rt)

    def _crd_status(self, name: str, *, established: bool) -> None:
        crd = self._crd(name)
        assert crd is not None
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
        old = crd.get("status") or {}
        stamp = now()
        wanted = [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
            {
                "type": "Established",
                "status": "True" if established else "False",
                "reason": "InitialNamesAccepted" if established else "Installing",
                "message": "the initial names have been accepted",
            },
        ]
        stored = list(old.get("storedVersions") or [])
        for v in storage:
            if v not in stored:
                stored.append(v)
        status = {
            "conditions": conditions(old.get("conditions"), wanted, stamp),
            "acceptedNames": names,
            "storedVersions": stored,
        }
        rt = self.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert rt is not None
        self.write_status(rt, crd, status, manager="kube-apiserver")

    def _remove_crd(self, crd: dict[str, Any]) -> None:
        gone = self.registry.remove_crd(crd["metadata"]["name"])
        plurals = {(rt.group, rt.plural) for rt in gone}
        spec = crd.get("spec") or {}
        plurals.add((spec.get("group", ""), (spec.get("names") or {}).get("plural", "")))
        for key in [k for k in self.objects if k[:2] in plurals]:
            self._drop(key)

    def write_status(
        self, rt: ResourceType, live: dict[str, Any], status: dict[str, Any] | None, *, manager: str
    ) -> dict[str, Any]:
        """An Update of the status subresource by ``manager`` (a controller, or a test)."""
        new = copy.deepcopy(live)
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = copy.deepcopy(status)
        if not rt.status_subresource:
            reply = self._update(rt, live, new, manager=manager, subresource="", dry=False)
        else:
            reply = self._update(rt, live, new, manager=manager, subresource="status", dry=False)
        return reply.body  # type: ignore[no-any-return]

    def mode(self, rt: ResourceType, obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        explicit = self.modes.get((rt.kind, meta.get("namespace") or "", meta.get("name", "")))
        if explicit is not None:
            return explicit
        annotations = meta.get("annotations") or {}
        if FAIL_ANNOTATION in annotations:
            return FAIL, str(annotations[FAIL_ANNOTATION])
        if str(annotations.get(HOLD_ANNOTATION, "")).lower() == "true":
            return HOLD, ""
        return READY, ""

    def reconcile(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        """Run the simulated controller of one object now (a controller's failure is its own, never the client's)."""
        if not self.controllers_enabled:
            return
        try:
            self._reconcile(rt, namespace, name)
        except KubeError as err:
            self.controller_errors.append(f"{rt.kind} {namespace}/{name}: {err.message}")

    def _reconcile(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        obj = self.load(rt, namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        mode, reason = self.mode(rt, obj)
        manager = "kubelet" if rt.kind == "Pod" else "kube-controller-manager"
        if rt.kind == "PersistentVolumeClaim" and mode == READY and not (obj.get("spec") or {}).get("volumeName"):
            bound = copy.deepcopy(obj)
            bound["spec"]["volumeName"] = f"pvc-{obj['metadata']['uid']}"
            annotations = bound["metadata"].setdefault("annotations", {})
            annotations["pv.kubernetes.io/bind-completed"] = "yes"
            annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
            self._update(rt, obj, bound, manager=manager, subresource="", dry=False)
            obj = self.load(rt, namespace, name)
            assert obj is not None
        status = desired_status(obj, rt.group, rt.kind, mode, reason, now())
        if status is None:
            return
        if (obj.get("status") or {}) == status:
            return
        self.write_status(rt, obj, status, manager=manager)
