"""The test API server over HTTP: a Starlette app served by uvicorn in a background thread.

with serve_kube_api() as api:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    ...                       # a client (lightkube, kubectl) talks to api.url with the token
    api.get("Deployment", "web", "default")   # read the store directly
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .controllers import FAIL, HOLD
from .errors import KubeError
from .resources import ResourceType
from .store import APPLY_YAML, MERGE_PATCH, Call, Cluster, Failure, Request, Watch

__all__ = ["KubeAPI", "serve_kube_api"]


def _app(cluster: Cluster) -> Starlette:
    async def endpoint(request: HTTPRequest) -> Response:
        body = await request.body()
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        call = Call(
            method=request.method,
            path=request.url.path,
            query=query,
            content_type=request.headers.get("content-type", ""),
            body=body,
            user_agent=request.headers.get("user-agent", ""),
            authorization=request.headers.get("authorization"),
            impersonate_user=request.headers.get("impersonate-user"),
        )
        reply = cluster.handle(call)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.watch is not None:
            return StreamingResponse(_stream(cluster, reply.watch), media_type="application/json")
        if reply.text is not None:
            return Response(reply.text, status_code=reply.code, media_type="text/plain")
        content = json.dumps(reply.body, separators=(",", ":"), ensure_ascii=False)
        return Response(content, status_code=reply.code, media_type="application/json")

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/", endpoint, methods=methods), Route("/{path:path}", endpoint, methods=methods)])


async def _stream(cluster: Cluster, watch: Watch) -> AsyncIterator[bytes]:
    """Watch events as JSON lines, until the timeout, the client leaves, or the server stops."""
    epoch = cluster.serving_epoch
    deadline = time.monotonic() + watch.timeout if watch.timeout is not None else None
    for event in watch.initial:
        yield (json.dumps(event, separators=(",", ":")) + "\n").encode()
    while cluster.serving_epoch == epoch and not watch.expired:
        if deadline is not None and time.monotonic() >= deadline:
            return
        for event in cluster.events_since(watch):
            yield (json.dumps(event, separators=(",", ":")) + "\n").encode()
        await asyncio.sleep(0.02)


class _ServerThread:
    def __init__(self, app: Starlette, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test API server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class KubeAPI:
    """A running test API server: its URL, a kubeconfig for it, its store, and knobs for tests."""

    def __init__(self, token: str | None = "test-token") -> None:
        self.cluster = Cluster(token)
        self._app = _app(self.cluster)
        self._server: _ServerThread | None = None
        self.port = 0

    # --- lifecycle ---

    def start(self) -> None:
        """Serve (again) on the same port; the store is kept across stop/start."""
        if self._server is not None:
            return
        self._server = _ServerThread(self._app, self.port)
        self.port = self._server.port
        self.cluster.server_address = f"127.0.0.1:{self.port}"
        self._server.start()

    def stop(self) -> None:
        """Stop listening: clients get connection refused, as from an unreachable server."""
        self.cluster.serving_epoch += 1  # ends open watches
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        self.stop()
        self.cluster.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- credentials ---

    @property
    def token(self) -> str | None:
        """The bearer token the server accepts; set another (or None for no auth) to expire credentials."""
        return self.cluster.token

    @token.setter
    def token(self, value: str | None) -> None:
        with self.cluster.lock:
            self.cluster.token = value

    def write_kubeconfig(
        self, path: Path, token: str | None = None, *, namespace: str | None = None, context: str = "kubeapi-test"
    ) -> Path:
        """A kubeconfig with this server (plain http), a bearer-token user and one current context."""
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token if token is not None else (self.token or "")}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def http(self, token: str | None = None) -> httpx.Client:
        """A plain httpx client for raw requests, authenticated like the kubeconfig."""
        bearer = token if token is not None else (self.token or "")
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)

    # --- the request log ---

    @property
    def requests(self) -> list[Request]:
        with self.cluster.lock:
            return list(self.cluster.requests)

    def writes(self) -> list[Request]:
        """Requests that would change state: POST, PUT, PATCH, DELETE without dryRun."""
        return [r for r in self.requests if r.is_write]

    def clear_requests(self) -> None:
        with self.cluster.lock:
            self.cluster.requests.clear()

    # --- failure injection ---

    def fail_next(
        self,
        method: str | None = None,
        kind: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        *,
        status: int = 500,
        message: str = "injected failure",
        reason: str | None = None,
        times: int | None = 1,
        dry_run: bool | None = None,
        subresource: str | None = None,
        path: str | None = None,
        delay: float = 0.0,
    ) -> Failure:
        """Answer the next ``times`` matching requests (None: all of them) with ``status`` instead.

        ``kind`` matches a Kind, plural or short name; ``dry_run`` True/False narrows to dry-run or real
        writes; ``path`` matches a substring of the URL path (e.g. ``"/apis"`` for discovery); ``delay``
        holds the response that long.
        """
        failure = Failure(
            method=method,
            kind=kind,
            name=name,
            namespace=namespace,
            subresource=subresource,
            dry_run=dry_run,
            path=path,
            status=status,
            message=message,
            reason=reason,
            times=times,
            delay=delay,
        )
        with self.cluster.lock:
            self.cluster.failures.append(failure)
        return failure

    def fail_always(
        self, method: str | None = None, kind: str | None = None, name: str | None = None, **kw: Any
    ) -> Failure:
        return self.fail_next(method, kind, name, times=None, **kw)

    def clear_failures(self) -> None:
        with self.cluster.lock:
            self.cluster.failures.clear()

    # --- the store, directly ---

    def resource(self, kind: str, api_version: str | None = None) -> ResourceType:
        with self.cluster.lock:
            return self.cluster.registry.find(kind, api_version)

    def get(
        self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None
    ) -> dict[str, Any] | None:
        """The stored object (a copy), or None. ``kind`` is a Kind, plural or short name."""
        with self.cluster.lock:
            rt = self.cluster.registry.find(kind, api_version)
            obj = self.cluster.load(rt, namespace, name)
            return None if obj is None else self.cluster.present(rt, obj)

    def list(self, kind: str, namespace: str | None = None, *, api_version: str | None = None) -> list[dict[str, Any]]:
        with self.cluster.lock:
            rt = self.cluster.registry.find(kind, api_version)
            return [
                self.cluster.present(rt, obj)
                for key, obj in sorted(self.cluster.objects.items())
                if key[:2] == (rt.group, rt.plural) and (namespace is None or key[2] == namespace)
            ]

    @property
    def resource_version(self) -> int:
        with self.cluster.lock:
            return self.cluster.rv

    def _call(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json", **query: str
    ) -> dict[str, Any]:
        raw = b"" if body is None else json.dumps(body).encode()
        call = Call(
            method=method,
            path=path,
            query={k: [v] for k, v in query.items()},
            content_type=content_type,
            body=raw,
            user_agent="kubeapi-test",
            authorization=f"Bearer {self.cluster.token}",
        )
        reply = self.cluster.handle(call, record=False)
        if reply.code >= 400:
            status = reply.body
            raise KubeError(reply.code, status.get("reason", ""), status.get("message", ""), status.get("details"))
        return reply.body  # type: ignore[no-any-return]

    def _path(self, obj: dict[str, Any]) -> tuple[ResourceType, str]:
        rt = self.resource(obj["kind"], obj.get("apiVersion"))
        namespace = (obj.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else None)
        return rt, rt.base_path(namespace)

    def create(self, obj: dict[str, Any], field_manager: str = "kubectl-create") -> dict[str, Any]:
        """Create as a client's POST would (an Update manager owns every field)."""
        _, base = self._path(obj)
        return self._call("POST", base, obj, fieldManager=field_manager)

    def apply(self, obj: dict[str, Any], field_manager: str = "kubectl", *, force: bool = False) -> dict[str, Any]:
        """Server-side apply as another manager would (e.g. to set up a conflict)."""
        _, base = self._path(obj)
        query = {"fieldManager": field_manager}
        if force:
            query["force"] = "true"
        return self._call("PATCH", f"{base}/{obj['metadata']['name']}", obj, content_type=APPLY_YAML, **query)

    def edit(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
        field_manager: str = "kubectl-edit",
        *,
        api_version: str | None = None,
    ) -> dict[str, Any]:
        """A manual change (JSON merge patch, an Update by ``field_manager``): what drift looks like."""
        rt = self.resource(kind, api_version)
        return self._call(
            "PATCH", f"{rt.base_path(namespace)}/{name}", patch, content_type=MERGE_PATCH, fieldManager=field_manager
        )

    def delete(self, kind: str, name: str, namespace: str | None = None, *, api_version: str | None = None) -> None:
        rt = self.resource(kind, api_version)
        self._call("DELETE", f"{rt.base_path(namespace)}/{name}")

    def set_status(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        status: dict[str, Any] | None = None,
        *,
        merge: bool = False,
        api_version: str | None = None,
        field_manager: str = "kubeapi-test",
    ) -> dict[str, Any]:
        """Write an object's status (through the status subresource when it has one); ``merge`` keeps other keys."""
        with self.cluster.lock:
            rt = self.cluster.registry.find(kind, api_version)
            live = self.cluster.load(rt, namespace, name)
            if live is None:
                raise KeyError(f"{rt.kind} {namespace}/{name} not found")
            new_status = copy.deepcopy(status) if status is not None else None
            if merge and new_status is not None:
                new_status = {**(live.get("status") or {}), **new_status}
            return self.cluster.write_status(rt, live, new_status, manager=field_manager)

    # --- simulated controllers ---

    @property
    def controllers(self) -> bool:
        """Whether the simulated controllers write status at all (default True)."""
        return self.cluster.controllers_enabled

    @controllers.setter
    def controllers(self, value: bool) -> None:
        with self.cluster.lock:
            self.cluster.controllers_enabled = value

    @property
    def controller_delay(self) -> float:
        """Seconds between a write and the controller's status (default 0: at once, before the response)."""
        return self.cluster.controller_delay

    @controller_delay.setter
    def controller_delay(self, value: float) -> None:
        with self.cluster.lock:
            self.cluster.controller_delay = value

    @property
    def crd_established_delay(self) -> float:
        """Seconds before a new CustomResourceDefinition is Established and served (default 0)."""
        return self.cluster.crd_established_delay

    @crd_established_delay.setter
    def crd_established_delay(self, value: float) -> None:
        with self.cluster.lock:
            self.cluster.crd_established_delay = value

    @property
    def namespace_finalize_delay(self) -> float:
        """Seconds a deleted Namespace stays Terminating before its contents go (default 0)."""
        return self.cluster.namespace_finalize_delay

    @namespace_finalize_delay.setter
    def namespace_finalize_delay(self, value: float) -> None:
        with self.cluster.lock:
            self.cluster.namespace_finalize_delay = value

    @property
    def namespace_defaults(self) -> bool:
        """Whether new namespaces get ConfigMap kube-root-ca.crt and ServiceAccount default (default True, as real)."""
        return self.cluster.namespace_defaults

    @namespace_defaults.setter
    def namespace_defaults(self, value: bool) -> None:
        with self.cluster.lock:
            self.cluster.namespace_defaults = value

    def hold(self, kind: str, name: str, namespace: str | None = None) -> None:
        """Keep an object (existing or future) not ready, as the annotation ``kubeapi.test/hold: "true"`` does."""
        self._set_mode(kind, name, namespace, (HOLD, ""))

    def fail(
        self, kind: str, name: str, namespace: str | None = None, reason: str = "injected rollout failure"
    ) -> None:
        """Make an object's rollout fail, as the annotation ``kubeapi.test/fail: <reason>`` does."""
        self._set_mode(kind, name, namespace, (FAIL, reason))

    def release(self, kind: str, name: str, namespace: str | None = None) -> None:
        """Drop a hold or failure set with ``hold``/``fail`` and let the controller converge now."""
        self._set_mode(kind, name, namespace, None)

    def reconcile(self, kind: str, name: str, namespace: str | None = None) -> None:
        """Run an object's simulated controller now."""
        with self.cluster.lock:
            rt = self.cluster.registry.find(kind)
            self.cluster.reconcile(rt, namespace, name)

    def _set_mode(self, kind: str, name: str, namespace: str | None, mode: tuple[str, str] | None) -> None:
        with self.cluster.lock:
            rt = self.cluster.registry.find(kind)
            key = (rt.kind, namespace or "", name)
            if mode is None:
                self.cluster.modes.pop(key, None)
            else:
                self.cluster.modes[key] = mode
            self.cluster.reconcile(rt, namespace, name)


@contextmanager
def serve_kube_api(token: str | None = "test-token") -> Iterator[KubeAPI]:
    """A test API server on 127.0.0.1 (random free port, plain HTTP) for the duration of the block.

    ``token=None`` turns authentication off (client-go and kubectl never send a token over plain HTTP).
    """
    api = KubeAPI(token)
    api.start()
    try:
        yield api
    finally:
        api.close()
