"""Steady-state cost of reconciling many Kustomizations when nothing changed.

Real git (a file:// repository), real kustomize and the real reconcilers and reactor; the target is
the in-memory ``RecordingTarget``, so what is measured is gitferry itself. One GitRepository and
N Kustomizations (one folder of M objects each: ConfigMaps and Deployments) are put straight into
a Store, as bootstrap and a parent Kustomization would.

1. warm-up: the GitRepository is fetched and every Kustomization renders and applies once.
2. requested rounds (what the brief asks): ``reactor.request(key)`` for every Kustomization,
   then ``run_until_idle()``; repeated ``--rounds`` times.
3. interval rounds (what ``gitferry up`` does each interval): the fake clock moves past the
   Kustomizations' interval and ``run_until_idle()`` runs everything that fell due.
4. one requested round again under cProfile: the top functions by cumulative time.

Nothing changed, so the target must not be written to: ``RecordingTarget.calls["apply.write"]``
is checked after every round. Run from the repository root::

    python benchmarks/steady_state.py [--kustomizations 500 --objects 20]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import git  # benchmarks/common.py: the scripts run from their own folder

from gitferry.api.meta import ObjectKey
from gitferry.clock import FakeClock
from gitferry.controllers import statuses
from gitferry.controllers.world import World
from gitferry.reactor.loop import Reactor
from gitferry.store.sqlite import BOOTSTRAP_OWNER, Store
from gitferry.targets.memory import RecordingTarget

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "flux-system"
SOURCE = ObjectKey("GitRepository", NAMESPACE, "flux-system")
KS_INTERVAL = 600.0  # 10m: the interval rounds move the fake clock past it
GIT_INTERVAL = "24h"  # the source does not fall due during the interval rounds
TARGET_RATE = 200.0  # reconciles per second
TARGET_RSS_MB = 300.0


# ---------------------------------------------------------------------------------------------
# the GitOps repository


def configmap(index: int) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{index:02d}
  labels:
    app: web-{index:02d}
data:
  message: "hello from ${{APP}}, object {index}"
  level: info
"""


def deployment(index: int, config: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{index:02d}
  labels:
    app: web-{index:02d}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web-{index:02d}
  template:
    metadata:
      labels:
        app: web-{index:02d}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: localhost/gitferry-bench/web:1
          command: ["/bin/sh", "-c"]
          args: ["exec httpd -f -p 8080 -h /"]
          env:
            - name: MESSAGE
              valueFrom:
                configMapKeyRef:
                  name: config-{config:02d}
                  key: message
          ports:
            - containerPort: 8080
"""


def folder_files(objects: int, layout: str) -> dict[str, str]:
    """``objects`` manifests, ConfigMaps and Deployments alternating, in one file or one file each."""
    files: dict[str, str] = {}
    configs = [i for i in range(objects) if i % 2 == 0] or [0]
    for i in range(objects):
        if i % 2 == 0:
            files[f"configmap-{i:02d}.yaml"] = configmap(i)
        else:
            files[f"deployment-{i:02d}.yaml"] = deployment(i, configs[(i // 2) % len(configs)])
    if layout == "folder":
        files = {"objects.yaml": "---\n".join(files.values())}
    resources = "".join(f"  - {name}\n" for name in files)
    header = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    return {**files, "kustomization.yaml": f"{header}resources:\n{resources}"}


def make_repository(root: Path, kustomizations: int, objects: int, layout: str) -> tuple[str, int]:
    """A bare repository with ``apps/app-NNN/`` folders pushed from a work clone: its file:// URL, its file count."""
    bare, work = root / "gitops.git", root / "work"
    git(root, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    git(root, "clone", "-q", str(bare), str(work))
    files = folder_files(objects, layout)
    for n in range(kustomizations):
        folder = work / "apps" / f"app-{n:03d}"
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"{kustomizations} apps of {objects} objects")
    git(work, "push", "-q", "origin", "HEAD:main")
    return f"file://{bare}", kustomizations * len(files)


def source_object(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": SOURCE.name, "namespace": NAMESPACE},
        "spec": {"interval": GIT_INTERVAL, "ref": {"branch": "main"}, "url": url},
    }


def kustomization_object(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": f"app-{n:03d}", "namespace": NAMESPACE},
        "spec": {
            "interval": "10m",
            "path": f"./apps/app-{n:03d}",
            "prune": True,
            "targetNamespace": f"app-{n:03d}",
            "sourceRef": {"kind": "GitRepository", "name": SOURCE.name},
            "postBuild": {"substitute": {"APP": f"app-{n:03d}"}},
        },
    }


# ---------------------------------------------------------------------------------------------
# measuring


@dataclass
class Round:
    seconds: float
    reconciles: int
    store_rows: int  # rows the store changed during the round

    @property
    def rate(self) -> float:
        return self.reconciles / self.seconds if self.seconds else float("inf")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def not_ready(store: Store, keys: Sequence[ObjectKey]) -> list[str]:
    out = []
    for key in keys:
        status = store.get_status(key)
        if statuses.ready_of(status) is not True:
            out.append(f"{key}: {(statuses.condition_of(status) or {}).get('message', 'no status')}")
    return out


async def requested_round(reactor: Reactor, keys: Sequence[ObjectKey]) -> int:
    """``request`` every key, then run until idle; the number of reconciles that ran."""
    before = reactor.reconciles
    futures = [reactor.request(key) for key in keys]
    await reactor.run_until_idle()
    bad = [f.result().message for f in futures if f.result().ready is not True]
    if bad:
        raise SystemExit(f"steady-state reconcile not Ready: {bad[0]}")
    return reactor.reconciles - before


async def interval_round(reactor: Reactor, clock: FakeClock) -> int:
    """Move past the interval, as the daemon's clock does, and run everything that fell due."""
    before = reactor.reconciles
    clock.advance(KS_INTERVAL + 1)
    await reactor.run_until_idle()
    return reactor.reconciles - before


def row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(row(header, widths))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(row(r, widths))


def summary(label: str, results: Sequence[Round]) -> list[str]:
    rates = [r.rate for r in results]
    per_ms = [1000 * r.seconds / r.reconciles for r in results if r.reconciles]
    return [
        label,
        str(results[0].reconciles),
        f"{statistics.median(r.seconds for r in results):.2f}",
        f"{statistics.median(rates):.0f}",
        f"{min(rates):.0f}-{max(rates):.0f}",
        f"{statistics.mean(per_ms):.2f}",
        str(results[0].store_rows),
    ]


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Steady-state reconcile rate, per-reconcile time and peak RSS against the in-memory target.",
    )
    parser.add_argument("--kustomizations", type=int, default=500, help="Kustomizations, one folder each (500)")
    parser.add_argument("--objects", type=int, default=20, help="objects per folder, ConfigMaps and Deployments (20)")
    parser.add_argument(
        "--layout",
        choices=["folder", "object"],
        default="folder",
        help="one multi-document file per folder (default), or one file per object: slow warm-up, see README",
    )
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds of each kind (5)")
    parser.add_argument("--concurrency", type=int, default=4, help="reactor concurrency, as 'gitferry up' (4)")
    parser.add_argument("--top", type=int, default=15, help="profile lines to print (15)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile round")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (for inspection)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="gitferry-bench-steady-"))
    try:
        return asyncio.run(run(args, root))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
            print(f"cleaned up {root}")


def store_changes(store: Store) -> int:
    """Rows the store's connection has inserted, updated or deleted so far (sqlite3 total_changes)."""
    connection = getattr(store, "_db", None)
    return int(connection.total_changes) if isinstance(connection, sqlite3.Connection) else -1


async def run(args: argparse.Namespace, root: Path) -> int:
    print(
        f"gitferry steady state: {args.kustomizations} Kustomizations x {args.objects} objects "
        f"(layout: {args.layout}), concurrency {args.concurrency}; {os.cpu_count()} cores, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    started = time.perf_counter()
    url, files = make_repository(root, args.kustomizations, args.objects, args.layout)
    print(f"repository: {files} files committed and pushed in {time.perf_counter() - started:.1f}s")

    store = Store(root / "data" / "state.db")
    store.put_object(source_object(url), owner=BOOTSTRAP_OWNER, origin="bench")
    keys = []
    for n in range(args.kustomizations):
        obj = kustomization_object(n)
        store.put_object(obj, owner=BOOTSTRAP_OWNER, origin="bench")
        keys.append(ObjectKey("Kustomization", NAMESPACE, obj["metadata"]["name"]))
    target = RecordingTarget()
    clock = FakeClock()
    world = World(store=store, target=target, data_dir=root / "data", clock=clock)
    reactor = Reactor(world, concurrency=args.concurrency, idle_start=True)

    # 1. warm-up: fetch, then every Kustomization renders (real kustomize) and applies once.
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    fetched = reactor.request(SOURCE)
    await reactor.run_until_idle(max_rounds=1000)
    warm = time.perf_counter() - started
    if fetched.result().ready is not True:
        raise SystemExit(f"fetch failed: {fetched.result().message}")
    failing = not_ready(store, keys)
    if failing:
        raise SystemExit(f"{len(failing)} Kustomizations not Ready after warm-up, first: {failing[0]}")
    writes = target.calls["apply.write"]
    expected = args.kustomizations * args.objects
    if writes != expected:
        raise SystemExit(f"warm-up wrote {writes} objects, expected {expected}")
    renders = reactor.reconciles - 1
    print(
        f"warm-up: 1 fetch + {renders} Kustomizations rendered with kustomize and applied in {warm:.1f}s "
        f"({warm / max(1, renders) * 1000:.0f} ms each, {renders / warm:.1f}/s); {writes} objects written; "
        f"peak RSS {peak_rss_mb():.0f} MB (at start: {rss_before:.0f} MB)"
    )

    # 2. and 3.: nothing changed
    requested: list[Round] = []
    interval: list[Round] = []
    for kind, results in (("requested", requested), ("interval", interval)):
        for _ in range(args.rounds):
            changes = store_changes(store)
            t = time.perf_counter()
            if kind == "requested":
                count = await requested_round(reactor, keys)
            else:
                count = await interval_round(reactor, clock)
            results.append(Round(time.perf_counter() - t, count, store_changes(store) - changes))
            check_writes(kind, target, writes)
    rss = peak_rss_mb()

    print()
    print(f"nothing changed ({args.rounds} rounds of each kind; no kustomize run, nothing written to the target):")
    print_table(
        ["round", "reconciles", "median s", "reconciles/s", "min-max /s", "ms/reconcile", "store rows written"],
        [
            summary("requested: request(key) x N + run_until_idle", requested),
            summary("interval: clock past 10m + run_until_idle (as up)", interval),
        ],
    )
    rate = statistics.median(r.rate for r in requested)
    print()
    print_table(
        ["check", "measured", "target", "ok"],
        [
            ["reconciles/s (requested, median)", f"{rate:.0f}", f">= {TARGET_RATE:.0f}", yes(rate >= TARGET_RATE)],
            ["peak RSS (MB)", f"{rss:.0f}", f"< {TARGET_RSS_MB:.0f}", yes(rss < TARGET_RSS_MB)],
            ["target apply.write after warm-up", str(writes), str(expected), yes(writes == expected)],
            [
                "target apply.write after all rounds",
                str(target.calls["apply.write"]),
                str(writes),
                yes(target.calls["apply.write"] == writes),
            ],
        ],
    )
    print("target.calls:", ", ".join(f"{k}={v}" for k, v in sorted(target.calls.items())))

    if not args.no_profile:
        profiler = cProfile.Profile()
        profiler.enable()
        t = time.perf_counter()
        count = await requested_round(reactor, keys)
        elapsed = time.perf_counter() - t
        profiler.disable()
        check_writes("profiled", target, writes)
        print()
        print(
            f"where the time goes: one requested round under cProfile ({count} reconciles in {elapsed:.2f}s "
            f"with the profiler on), top {args.top} by cumulative time:"
        )
        print(profile_text(profiler, "cumulative", args.top))
        print()
        print(f"and top {min(10, args.top)} by own time (tottime):")
        print(profile_text(profiler, "tottime", min(10, args.top)))
    return 0


def check_writes(label: str, target: RecordingTarget, writes: int) -> None:
    if target.calls["apply.write"] != writes:
        raise SystemExit(
            f"{label}: the target was written in the steady state: "
            f"apply.write went from {writes} to {target.calls['apply.write']}"
        )


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def profile_text(profiler: cProfile.Profile, order: str, top: int) -> str:
    """pstats lines without the preamble, paths shortened to the package or stdlib module."""
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    prefixes = sorted({str(Path(p)) + "/" for p in [*sys.path, str(REPO)] if p}, key=len, reverse=True)
    kept = []
    for line in lines[start:]:
        if line.strip():
            for prefix in prefixes:
                line = line.replace(prefix, "")
            kept.append(line)
    return "\n".join(kept)


if __name__ == "__main__":
    sys.exit(main())
