"""A small client for the Kubernetes API: discovery, get, list, server-side apply, delete.

lightkube reads the kubeconfig (file, context, ``KUBECONFIG``, the in-cluster service account,
exec plugins, client certificates) and makes the authenticated httpx connection; the requests are
plain REST on that connection, so any kind the cluster serves, custom resources included, goes
through one path. Every failure becomes a GitferryError naming the object: 400/422 a
RejectedObjectError (only Git can fix it), anything else a KubernetesError (retried).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource, load_documents
from gitferry.errors import InvalidObjectError, KubernetesError, RejectedObjectError

FIELD_MANAGER = "gitferry"
APPLY_PATCH = "application/apply-patch+yaml"  # the body may be JSON: JSON is YAML


@dataclass(frozen=True)
class ApiResource:
    """One kind the server serves: where its objects live and whether they are namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        where = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{where}/{self.plural}" + (f"/{name}" if name else "")


def load_config(kubeconfig: Path | None = None, context: str | None = None, text: str | None = None) -> SingleConfig:
    """The connection settings: ``text`` (a kubeConfig Secret's value), ``kubeconfig``, or the
    environment (``KUBECONFIG``, ``~/.kube/config``, the in-cluster service account)."""
    try:
        if text is not None:
            documents = load_documents(text, "kubeconfig")
            config = KubeConfig.from_dict(documents[0] if documents else {})
        elif kubeconfig is not None:
            config = KubeConfig.from_file(kubeconfig)
        else:
            config = KubeConfig.from_env()
        single = config.get(context)
    except (ConfigError, OSError, ValueError, KeyError, InvalidObjectError) as e:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "the kubeconfig"
        raise KubernetesError(f"cannot read {where}{f' (context {context})' if context else ''}: {e}") from e
    if single is None:
        missing = f"no context {context!r} in the kubeconfig" if context else "the kubeconfig has no current context"
        raise KubernetesError(missing)
    return single


class KubeClient:
    """Requests to one API server. ``http`` is the seam: tests may pass any httpx client."""

    def __init__(self, http: httpx.AsyncClient, server: str, config: SingleConfig | None = None) -> None:
        self.http, self.server, self.config = http, server, config
        self._resources: dict[tuple[str, str], ApiResource] | None = None
        # How many requests were sent, and how many of them could change the cluster (not dry runs).
        self.requests = 0
        self.writes = 0

    @classmethod
    def connect(cls, config: SingleConfig, timeout: float = 30.0, impersonate: str | None = None) -> KubeClient:
        """A client for ``config``'s cluster; ``impersonate`` acts as that user (a service account's
        ``system:serviceaccount:NS:NAME``), so the cluster's RBAC limits what is applied."""
        params = client_adapter.ConnectionParams(timeout=httpx.Timeout(timeout))
        http = client_adapter.AsyncClient(config, params)
        if impersonate:
            http.headers["Impersonate-User"] = impersonate
        return cls(http, config.cluster.server, config)

    async def close(self) -> None:
        await self.http.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        self.requests += 1
        if method != "GET" and not (params or {}).get("dryRun"):
            self.writes += 1
        try:
            response = await self.http.request(
                method,
                path,
                params=params,
                content=None if body is None else json.dumps(body).encode(),
                headers={"Content-Type": content_type} if body is not None else None,
            )
        except httpx.HTTPError as e:
            raise KubernetesError(f"{what}: the API server {self.server} is unreachable: {e!s}") from e
        return response

    # discovery

    async def resources(self, refresh: bool = False) -> dict[tuple[str, str], ApiResource]:
        """(apiVersion, kind) -> resource, for every kind the server serves (cached until refresh)."""
        if self._resources is not None and not refresh:
            return self._resources
        found: dict[tuple[str, str], ApiResource] = {}
        versions = [("", v) for v in (await self._get_json("/api", "discovery")).get("versions", [])]
        for group in (await self._get_json("/apis", "discovery")).get("groups", []):
            versions += [(group["name"], v["version"]) for v in group.get("versions", [])]
        for group_name, version in versions:
            path = f"/apis/{group_name}/{version}" if group_name else f"/api/{version}"
            listing = await self._get_json(path, "discovery")
            for item in listing.get("resources", []):
                if "/" in item["name"]:  # subresources such as deployments/status
                    continue
                res = ApiResource(group_name, version, item["kind"], item["name"], bool(item.get("namespaced")))
                found.setdefault((res.api_version, res.kind), res)
        self._resources = found
        return found

    async def resource_for(self, api_version: str, kind: str) -> ApiResource | None:
        """The resource serving ``kind``; discovery is read again once when it is not known."""
        known = await self.resources()
        if (api_version, kind) not in known:
            known = await self.resources(refresh=True)
        return known.get((api_version, kind))

    async def _get_json(self, path: str, what: str) -> dict[str, Any]:
        response = await self._send("GET", path, what=what)
        _raise_for(response, what)
        return dict(response.json())

    # objects

    async def get(self, res: ApiResource, namespace: str, name: str) -> Resource | None:
        what = _describe(res, namespace, name)
        response = await self._send("GET", res.path(namespace, name), what=what)
        if response.status_code == 404:
            return None
        _raise_for(response, what)
        return dict(response.json())

    async def list(self, res: ApiResource, namespace: str, selector: str) -> list[Resource]:
        what = f"{res.kind} list" + (f" in {namespace}" if namespace else "")
        response = await self._send("GET", res.path(namespace), what=what, params={"labelSelector": selector})
        if response.status_code == 404:  # the namespace is not there (yet): nothing of ours in it
            return []
        _raise_for(response, what)
        # A list's items of built-in kinds come without kind and apiVersion; give them back, as client-go does.
        items = [dict(item) for item in response.json().get("items", [])]
        for item in items:
            item.setdefault("kind", res.kind)
            item.setdefault("apiVersion", res.api_version)
        return items

    async def apply(
        self, res: ApiResource, obj: Resource, *, force: bool, dry_run: bool = False
    ) -> tuple[Resource, bool]:
        """Server-side apply of ``obj`` as field manager ``gitferry``: the object as the server has it,
        and whether this created it (201)."""
        key = ObjectKey.of(obj)
        params = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        what = _describe(res, key.namespace, key.name)
        path = res.path(key.namespace, key.name)
        response = await self._send("PATCH", path, what=what, params=params, body=obj, content_type=APPLY_PATCH)
        _raise_for(response, what)
        return dict(response.json()), response.status_code == 201

    async def set_managed_fields(self, res: ApiResource, live: Resource, managed: Sequence[Resource]) -> None:
        """Replace ``live``'s managedFields (a merge patch, refused if the object moved since it was read)."""
        meta = live.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name"))
        what = _describe(res, namespace, name)
        body = {"metadata": {"managedFields": [*managed], "resourceVersion": meta.get("resourceVersion")}}
        path = res.path(namespace, name)
        response = await self._send(
            "PATCH", path, what=what, params={"fieldManager": FIELD_MANAGER}, body=body,
            content_type="application/merge-patch+json",
        )  # fmt: skip
        _raise_for(response, what)

    async def delete(self, res: ApiResource, namespace: str, name: str, propagation: str = "Background") -> bool:
        """Delete an object; False when it was already gone."""
        what = _describe(res, namespace, name)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        response = await self._send("DELETE", res.path(namespace, name), what=what, body=body)
        if response.status_code == 404:
            return False
        _raise_for(response, what)
        return True


def _describe(res: ApiResource, namespace: str, name: str) -> str:
    return f"{res.kind}/{namespace}/{name}" if res.namespaced and namespace else f"{res.kind}/{name}"


def _raise_for(response: httpx.Response, what: str) -> None:
    """Map an error answer (a Kubernetes Status, or anything else) to the exception tree."""
    if response.is_success:
        return
    try:
        status = response.json()
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    message = str(status.get("message") or response.text[:300] or response.reason_phrase)
    reason = str(status.get("reason") or "")
    causes = (status.get("details") or {}).get("causes") or []
    fields = [str(c.get("field")) for c in causes if isinstance(c, dict) and c.get("field")]
    where = f" (field {', '.join(fields)})" if fields and not all(f in message for f in fields) else ""
    text = f"{what}: {message}{where}"
    code = response.status_code
    # Server-side apply answers a field of the wrong type with a 500 "failed to create typed patch
    # object": it is the object that is wrong, not the server.
    if code in (400, 422) or (code == 500 and "typed patch object" in message):
        immutable = "immutable" in message or any("immutable" in str(c.get("message", "")) for c in causes)
        raise RejectedObjectError(text, immutable=immutable)
    if code in (401, 403):
        raise KubernetesError(f"{text} (HTTP {code}: check the kubeconfig's credentials)", code=code, reason=reason)
    raise KubernetesError(f"{text} (HTTP {code} {reason})".rstrip(), code=code, reason=reason)
