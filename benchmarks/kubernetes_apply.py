"""Kubernetes target (issue 5): apply of 1,000 objects to the test API server, and what each reconcile sends.

The test API server of ``tests/kubeapi`` (``serve_kube_api()``: a uvicorn thread in this process, plain HTTP
on loopback) holds ``--namespaces`` namespaces, made directly in its store for each run. Git holds
``--per-namespace`` objects in each (10 x 100 = 1,000): apps of five objects, a ServiceAccount, a ConfigMap,
a Secret, a Service and a Deployment. Each phase is one reconcile as ``gitferry up`` runs it: a new
``KubeClient.connect(load_config(kubeconfig))`` (discovery included, closed at the end) and a
``KubernetesTarget`` on a state dir kept between reconciles, owner ``flux-system/bench``. Each run (``--runs``,
after one warm-up run) has fresh namespaces and a fresh state dir, and runs every phase once:

1. first apply of the 1,000 objects (target: 1,000 writes);
2. no-change reconcile (target: no write), then 2b. again: the steady state;
3. 10 objects changed in Git, 5 ConfigMaps' data and 5 Deployments' image (target: 10 writes);
4. 10 other objects drifted, edited by hand with ``api.edit`` (ConfigMap data, Deployment replicas);
5. health of the 1,000 (what a Kustomization with ``wait: true`` asks after its apply);
6. 100 objects removed from Git: apply of the other 900, then prune of the 100 (target: 100 deletes).

Wall time includes the client's start, discovery and close. The server shares the process, so CPU is split:
the main thread (gitferry, httpx, asyncio) and the rest (the server thread). Requests are counted in the
server's log (discovery, GET, LIST, dry-run, writes = POST/PUT/PATCH/DELETE without ``dryRun``) and by the
client's own counters ``requests``/``writes``, which must agree.

Floor, same run, on other namespaces: a plain ``httpx.AsyncClient`` with the token sends the bare requests
one after another: 1,000 server-side apply PATCHes of the same labelled objects (no reads), one LIST per kind
and namespace with the owner's label selector (what a no-change reconcile or a health check must read), the
10 changed PATCHes, and 100 DELETEs. ``--profile`` adds one run (not counted) with each gitferry phase under
cProfile (main thread only) and prints the functions that took the most time.

Run from the repository root::

    python benchmarks/kubernetes_apply.py [--runs 3] [--namespaces 10] [--per-namespace 100] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from common import log, ok, table  # benchmarks/common.py: the scripts run from their own folder

from gitferry.api.keys import ObjectKey
from gitferry.targets import kube_plan
from gitferry.targets.base import ApplyOptions, Owner
from gitferry.targets.kube_client import APPLY_PATCH, FIELD_MANAGER, KubeClient, load_config
from gitferry.targets.kubernetes import KubernetesTarget

ROOT = Path(__file__).resolve().parent.parent
OWNER = Owner("flux-system", "bench")
KINDS = ("ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment")
CHANGED = 10
PRUNED_PER_NAMESPACE = 10
Obj = dict[str, Any]


def make(kind: str, ns: str, app: str) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": app, "namespace": ns, "labels": {"app": app}}}
    if kind == "ConfigMap":
        obj["data"] = {"LOG_LEVEL": "info", "version": "1", "app.properties": f"name={app}\nport=8080\n"}
    elif kind == "Secret":
        obj.update(type="Opaque", data={"password": base64.b64encode(f"{ns}-{app}".encode()).decode()})
    elif kind == "Service":
        obj["spec"] = {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    elif kind == "Deployment":
        container = {
            "name": "web",
            "image": "registry.example/web:1.0.0",
            "ports": [{"name": "http", "containerPort": 8080}],
            "envFrom": [{"configMapRef": {"name": app}}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        }
        pod = {"metadata": {"labels": {"app": app}}, "spec": {"serviceAccountName": app, "containers": [container]}}
        obj.update(
            apiVersion="apps/v1", spec={"replicas": 2, "selector": {"matchLabels": {"app": app}}, "template": pod}
        )
    return obj


def build(namespaces: list[str], per_namespace: int) -> list[Obj]:
    return [make(KINDS[i % 5], ns, f"app{i // 5}") for ns in namespaces for i in range(per_namespace)]


def picks(objects: list[Obj], offset: int) -> list[int]:
    """5 ConfigMaps and 5 Deployments spread over the namespaces (offset 0: changed in Git, 1: drifted)."""
    candidates = [i for i, o in enumerate(objects) if o["kind"] in ("ConfigMap", "Deployment")]
    step = len(candidates) // CHANGED
    return [candidates[k * step + (k + offset) % 2] for k in range(CHANGED)]


def changed_in_git(objects: list[Obj]) -> list[Obj]:
    out = list(objects)
    for i in picks(objects, 0):
        out[i] = obj = copy.deepcopy(objects[i])
        if obj["kind"] == "ConfigMap":
            obj["data"]["version"] = "2"
        else:
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/web:1.0.1"
    return out


def count(api: Any) -> dict[str, Any]:
    """The server's request log since the last ``clear_requests``."""
    logged = api.requests
    reads = [r for r in logged if r.method == "GET" and r.resource is not None]
    return {
        "requests": len(logged),
        "discovery": sum(r.resource is None for r in logged),
        "GET": sum(r.name is not None for r in reads),
        "LIST": sum(r.name is None for r in reads),
        "dry-run": sum(r.dry_run for r in logged),
        "writes": sum(r.is_write for r in logged),
    }


class Bench:
    def __init__(self, api: Any, config: Any, profile: bool) -> None:
        self.api, self.config, self.profile = api, config, profile
        self.samples: dict[str, list[tuple[float, float, float]]] = {}  # label: (wall, client cpu, server cpu)
        self.counts: dict[str, dict[str, Any]] = {}
        self.expected: dict[str, int] = {}

    async def timed(self, label: str, work: Callable[[], Awaitable[Any]]) -> Any:
        self.api.clear_requests()
        profiler = cProfile.Profile() if self.profile else None
        wall, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
        if profiler:
            profiler.enable()
        result = await work()
        if profiler:
            profiler.disable()
        wall, cpu, process = time.perf_counter() - wall, time.thread_time() - cpu, time.process_time() - process
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
            log(f"--- profile: {label} ({wall:.2f} s under cProfile)\n" + out.getvalue().split("\n\n", 2)[-1])
        else:
            self.samples.setdefault(label, []).append((wall, cpu, process - cpu))
            self.counts[label] = count(self.api)
        return result

    async def reconcile(
        self, label: str, state: Path, use: Callable[[KubernetesTarget], Awaitable[Any]], writes: int
    ) -> Any:
        """One reconcile as ``gitferry up`` runs it: a new client (discovery included), the kept state dir."""
        clients: list[KubeClient] = []

        async def work() -> Any:
            clients.append(KubeClient.connect(self.config))
            try:
                return await use(KubernetesTarget(clients[0], state))
            finally:
                await clients[0].close()

        result = await self.timed(label, work)
        self.expected[label] = writes
        if not self.profile:
            self.counts[label]["client"] = f"{clients[0].requests}/{clients[0].writes}"
        return result

    def namespaces(self, prefix: str, n: int) -> list[str]:
        names = [f"{prefix}-{i}" for i in range(n)]
        for name in names:
            self.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return names

    async def gitferry(self, run: str, args: argparse.Namespace, work: Path) -> None:
        names = self.namespaces(f"bench{run}", args.namespaces)
        git = build(names, args.per_namespace)
        state, options, total = work / f"state{run}", ApplyOptions(timeout=30), len(git)

        def apply(objects: list[Obj]) -> Callable[[KubernetesTarget], Awaitable[Any]]:
            return lambda t: t.apply(OWNER, objects, options)

        def actions(applied: list[Any]) -> dict[str, int]:
            return {a: sum(x.action == a for x in applied) for a in sorted({x.action for x in applied})}

        done = await self.reconcile(f"1. first apply of {total}", state, apply(git), total)
        assert actions(done) == {"created": total}, actions(done)
        for label in ("2. no-change reconcile", "2b. no-change again (steady state)"):
            done = await self.reconcile(label, state, apply(git), 0)
            assert actions(done) == {"unchanged": total}, actions(done)
        git = changed_in_git(git)
        done = await self.reconcile(f"3. {CHANGED} changed in Git", state, apply(git), CHANGED)
        assert actions(done) == {"configured": CHANGED, "unchanged": total - CHANGED}, actions(done)
        for i in picks(git, 1):
            obj = git[i]
            drift = {"data": {"LOG_LEVEL": "debug"}} if obj["kind"] == "ConfigMap" else {"spec": {"replicas": 5}}
            self.api.edit(obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"], drift)
        done = await self.reconcile(f"4. {CHANGED} drifted (edited by hand)", state, apply(git), CHANGED)
        assert sum(a.cause.startswith("drift: ") for a in done) == CHANGED, [a.cause for a in done if a.cause]
        keys = [ObjectKey.of(o) for o in git]
        health = await self.reconcile(f"5. health of {total}", state, lambda t: t.health(OWNER, keys), 0)
        assert {h.status for h in health} == {"Current"}, {h.status for h in health}
        removed = {i for i in range(total) if i % args.per_namespace >= args.per_namespace - PRUNED_PER_NAMESPACE}
        keep, gone = [o for i, o in enumerate(git) if i not in removed], [keys[i] for i in sorted(removed)]

        async def prune(t: KubernetesTarget) -> list[ObjectKey]:
            await t.apply(OWNER, keep, options)
            return await t.prune(OWNER, gone)

        pruned = await self.reconcile(f"6. {len(gone)} removed: apply {len(keep)} + prune", state, prune, len(gone))
        assert len(pruned) == len(gone)
        for name in names:
            self.api.delete("Namespace", name)

    async def floor(self, run: str, args: argparse.Namespace) -> None:
        names = self.namespaces(f"floor{run}", args.namespaces)
        git = [kube_plan.owned(o, OWNER.namespace, OWNER.name) for o in build(names, args.per_namespace)]
        paths = {k: f"/api/v1/namespaces/{{}}/{k.lower()}s" for k in KINDS}
        paths["Deployment"] = "/apis/apps/v1/namespaces/{}/deployments"

        def path(obj: Obj) -> str:
            return paths[obj["kind"]].format(obj["metadata"]["namespace"]) + "/" + obj["metadata"]["name"]

        headers = {"Authorization": f"Bearer {self.api.token}"}
        async with httpx.AsyncClient(base_url=self.api.url, headers=headers, timeout=30) as http:

            async def patch(objects: list[Obj]) -> None:
                params, content_type = {"fieldManager": FIELD_MANAGER, "force": "true"}, {"Content-Type": APPLY_PATCH}
                for obj in objects:
                    sent = await http.patch(path(obj), params=params, content=json.dumps(obj), headers=content_type)
                    sent.raise_for_status()

            async def lists() -> None:
                selector = {"labelSelector": kube_plan.owner_selector(OWNER.namespace, OWNER.name)}
                for ns in names:
                    for kind in KINDS:
                        (await http.get(paths[kind].format(ns), params=selector)).raise_for_status()

            async def delete(objects: list[Obj]) -> None:
                for obj in objects:
                    (await http.delete(path(obj))).raise_for_status()

            await self.timed(f"floor: {len(git)} apply PATCHes, no reads", lambda: patch(git))
            await self.timed(f"floor: {len(names) * len(KINDS)} LISTs (kind x namespace)", lists)
            changed = [o for i, o in enumerate(changed_in_git(git)) if i in picks(git, 0)]
            await self.timed(f"floor: {CHANGED} apply PATCHes", lambda: patch(changed))
            await self.timed(f"floor: {len(git) // 10} DELETEs", lambda: delete(git[::10]))
        for name in names:
            self.api.delete("Namespace", name)


async def run_all(api: Any, args: argparse.Namespace, work: Path) -> Bench:
    config = load_config(api.write_kubeconfig(work / "kubeconfig"))
    bench = Bench(api, config, profile=False)
    for run in range(args.runs + 1):  # run 0: warm-up (imports, first connections), not counted
        started = time.perf_counter()
        await bench.gitferry(str(run), args, work)
        await bench.floor(str(run), args)
        if run == 0:
            bench.samples.clear()
        log(f"run {run}{' (warm-up)' if run == 0 else ''}: {time.perf_counter() - started:.1f} s")
    if args.profile:
        await Bench(api, config, profile=True).gitferry("p", args, work)
    return bench


def report(bench: Bench) -> None:
    rows = []
    for label, samples in bench.samples.items():
        walls, c, expected = [s[0] for s in samples], bench.counts[label], bench.expected.get(label)
        rows.append(
            [
                label,
                *(f"{f(walls):.3f}" for f in (statistics.median, min, max)),
                *(f"{statistics.median(s[i] for s in samples):.2f}" for i in (1, 2)),
                *(str(c[k]) for k in ("requests", "discovery", "GET", "LIST", "dry-run", "writes")),
                c.get("client", ""),
                "" if expected is None else f"{expected}: {ok(c['writes'] == expected)}",
            ]
        )
    header = ["phase", "median s", "min s", "max s", "client cpu s", "server cpu s", "requests", "discovery"]
    table([*header, "GET", "LIST", "dry-run", "writes", "client req/writes", "target writes: ok"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description="Kubernetes target: apply, reconcile, drift, health and prune.")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of every phase, after one warm-up (3)")
    parser.add_argument("--namespaces", type=int, default=10, help="namespaces (10)")
    parser.add_argument("--per-namespace", type=int, default=100, help="objects per namespace, apps of 5 (100)")
    parser.add_argument("--profile", action="store_true", help="one more run with each phase under cProfile")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # tests/kubeapi: the test API server the tests use
    from tests.kubeapi import serve_kube_api

    log(
        f"gitferry Kubernetes target benchmark; {os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}; {args.namespaces} namespaces x {args.per_namespace} objects"
    )
    work = Path(tempfile.mkdtemp(prefix="gitferry-bench-kube-"))
    try:
        with serve_kube_api() as api:
            bench = asyncio.run(run_all(api, args, work))
        log(f"\n{args.runs} runs after one warm-up; each phase one reconcile per run, with a new client")
        report(bench)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        log(f"cleaned up {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
