"""HTTP API and web UI: latency of the list API and the overview page with 1,000 Kustomizations and 10,000 events.

The store is filled straight through ``Store`` (as bootstrap and the reconcilers would): one GitRepository with an
artifact, ``--kustomizations`` Kustomizations with Flux-shaped statuses (Ready condition, ``lastAppliedRevision``,
an inventory of three objects; every 20th one failing, Ready=False with a message and one revision behind), and
``--events`` events spread over them; one viewer token.

The server runs in a second process (this script with ``--serve DATA``): ``create_app`` served by ``HttpServer``
(uvicorn inside one asyncio loop, 127.0.0.1, free port) over that store, with a ``RecordingTarget`` and a
``Reactor(idle_start=True)`` that is never run. The reconciler is quiet on purpose: what is measured is the serving
side alone, with nothing else on the server's loop (``gitferry up`` with every object reconciled at its interval
would add its own, variable, work to the same loop). Traffic goes to 127.0.0.1 only.

The load comes from this process: one ``httpx.AsyncClient`` per phase with keep-alive connections, a fixed number
of concurrent clients (each sends its next request when the last one is answered), ``--warmup`` requests not
counted, then ``--requests`` counted, stopped after ``--seconds`` whatever happens. Every endpoint is measured
alone, first with one client (the latency a user sees), then with ``--concurrency`` clients (behaviour under
load). Latency is from just before the request is sent until its whole body is read, on the client.

- ``GET /healthz``: no auth, no store: the floor (HTTP, uvicorn, FastAPI routing and the client itself);
- ``GET /api/v1/whoami``: the authenticated floor (token check against the store, one dependency);
- ``GET /api/v1/objects?kind=Kustomization``: the list API (target: p99 < 50 ms);
- ``GET /api/v1/objects/Kustomization/flux-system/ks-0500``: one object;
- ``GET /api/v1/events?limit=100``: the timeline's newest 100 events;
- ``GET /ui/``: the overview page (session cookie, as a browser sends it).

Nothing changes in the store while it is measured, so every answer of an endpoint must have the same size (a
second size is reported as a wrong answer), and an answer other than 200 counts as failed (the server's log is
summarised at the end). Server CPU per request is read from ``/proc/<pid>/stat`` around each phase, and the
server counts its full garbage collections. ``--profile`` then runs the list API and the overview
``--profile-requests`` times each (one client) with cProfile on in the server (main thread only: the auth
dependency, a plain function, runs in FastAPI's thread pool and is not in the profile; whoami shows its cost).

Two switches change the server process only, to measure a suggested fix (gitferry itself is not changed):
``--nodelay`` makes ``HttpServer``'s listening socket with ``IPPROTO_TCP``, so asyncio sets TCP_NODELAY on each
connection (as it is, Nagle holds a small body back until the client's delayed ACK, ~40 ms); ``--gc-freeze`` calls
``gc.freeze()`` once the server has started.

Run from the repository root::

    python benchmarks/http_api.py [--requests 400] [--concurrency 8] [--seconds 60] [--profile]
    python benchmarks/http_api.py --nodelay --gc-freeze   # the same with two of the suggested fixes
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import math
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import log, ok, table  # benchmarks/common.py: the scripts run from their own folder

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "flux-system"
SOURCE = "flux-system"
REVISION = "main@sha1:" + "4c1d" * 10
OLD_REVISION = "main@sha1:" + "9e3b" * 10
FAILING_EVERY = 20  # 5 % of the fleet fails, so the overview has its failing section
ADDRESS_FILE = "http-address"
PROFILE_ON, PROFILE_OFF = signal.SIGUSR1, signal.SIGUSR2
TARGET_MS = 50.0
LIST = "/api/v1/objects?kind=Kustomization"
OVERVIEW = "/ui/"


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    cookie: bool = False  # the session cookie, as a browser sends it, instead of the bearer header


ENDPOINTS = (
    Endpoint("healthz (floor)", "/healthz"),
    Endpoint("whoami (auth floor)", "/api/v1/whoami"),
    Endpoint("list Kustomizations", LIST),
    Endpoint("one Kustomization", "/api/v1/objects/Kustomization/flux-system/ks-0500"),
    Endpoint("events, newest 100", "/api/v1/events?limit=100"),
    Endpoint("overview page /ui/", OVERVIEW, cookie=True),
)


# ---------------------------------------------------------------------------------------------
# the store


def ks_name(i: int) -> str:
    return f"ks-{i:04d}"


def fill(data: Path, kustomizations: int, events: int) -> tuple[str, int]:
    """The store at ``data/state.db``; the viewer token and how many Kustomizations fail."""
    from gitferry.api.keys import ObjectKey
    from gitferry.api.tokens import Role
    from gitferry.controllers import statuses
    from gitferry.controllers.inventory import inventory_entries
    from gitferry.store.sqlite import BOOTSTRAP_OWNER, Store
    from gitferry.store.tokens import Tokens

    store = Store(data / "state.db")
    try:
        source = ObjectKey("GitRepository", NAMESPACE, SOURCE)
        store.put_object(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": SOURCE, "namespace": NAMESPACE},
                "spec": {"interval": "1m", "url": "https://git.example.com/fleet.git", "ref": {"branch": "main"}},
            },
            owner=BOOTSTRAP_OWNER,
            origin="bootstrap",
        )
        artifact = {
            "revision": REVISION,
            "digest": "sha256:" + "ab" * 32,
            "path": str(data / "artifacts" / "flux-system" / "4c1d.tar.gz"),
            "commit": REVISION.rsplit(":", 1)[-1],
            "message": "Bump web to 1.4.2",
            "author": "Bench <bench@example.com>",
            "lastUpdateTime": "2026-11-22T10:00:00Z",
        }
        message = f"stored artifact for revision '{REVISION}'"
        store.put_status(
            source,
            statuses.mark({}, ready=True, reason=statuses.SUCCEEDED, message=message, generation=1,
                          fields={"artifact": artifact}),
        )  # fmt: skip
        keys = [source]
        failing = 0
        for i in range(kustomizations):
            name = ks_name(i)
            key = ObjectKey("Kustomization", NAMESPACE, name)
            keys.append(key)
            app = f"app-{i:04d}"
            store.put_object(
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {
                        "interval": "10m",
                        "path": f"./apps/{app}",
                        "prune": True,
                        "sourceRef": {"kind": "GitRepository", "name": SOURCE},
                    },
                },
                owner=f"{NAMESPACE}/flux-system",
                origin=f"clusters/prod/{name}.yaml",
            )
            inventory = inventory_entries(
                [
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": app}},
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": app}},
                    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": app}},
                ]
            )
            if i % FAILING_EVERY == FAILING_EVERY // 2:
                failing += 1
                problem = statuses.naming(
                    key,
                    f"kustomize build failed: accumulating resources from './apps/{app}': "
                    f"'deployment.yaml': yaml: line 12: mapping values are not allowed in this context",
                )
                status = statuses.mark(
                    {}, ready=False, reason=statuses.BUILD_FAILED, generation=1,
                    message=f"{problem} (last applied revision '{OLD_REVISION}' keeps running)",
                    fields={"lastAttemptedRevision": REVISION, "lastAppliedRevision": OLD_REVISION,
                            "inventory": {"entries": inventory}},
                )  # fmt: skip
            else:
                status = statuses.mark(
                    {}, ready=True, reason=statuses.RECONCILIATION_SUCCEEDED, generation=1,
                    message=f"Applied revision: {REVISION}",
                    fields={"lastAttemptedRevision": REVISION, "lastAppliedRevision": REVISION,
                            "inventory": {"entries": inventory}},
                )  # fmt: skip
            store.put_status(key, status)
        for n in range(events):
            key = keys[n % len(keys)]
            if key.kind == "GitRepository":
                store.add_event(key, "Normal", "NewArtifact", f"{message}: Bump web to 1.4.{n}")
            elif int(key.name[3:]) % FAILING_EVERY == FAILING_EVERY // 2 and n % 3:
                store.add_event(key, "Warning", statuses.BUILD_FAILED, f"{key}: kustomize build failed")
            else:
                app = f"app-{key.name[3:]}"
                store.add_event(
                    key,
                    "Normal",
                    statuses.RECONCILIATION_SUCCEEDED,
                    f"ConfigMap/{app}/web configured\nDeployment/{app}/web configured (web-0: image changed)",
                )
        token = Tokens(store).create("bench", Role.VIEWER)
    finally:
        store.close()
    return token, failing


# ---------------------------------------------------------------------------------------------
# the server (the second process)


class _TcpSockets:
    """The ``socket`` module as ``gitferry.server.serving`` sees it with ``--nodelay``: its listening socket is made
    with ``IPPROTO_TCP``, so asyncio sets TCP_NODELAY on every connection it accepts (asyncio only does for sockets
    whose ``proto`` is ``IPPROTO_TCP``; ``socket.socket(AF_INET, SOCK_STREAM)`` has ``proto`` 0)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)

    @staticmethod
    def socket(family: int, kind: int, proto: int = 0) -> socket.socket:
        return socket.socket(family, kind, proto or socket.IPPROTO_TCP)


class GcClock:
    """Full (generation 2) garbage collections in this process: how many, and how long they took."""

    def __init__(self) -> None:
        self.started = 0.0
        self.durations: list[float] = []
        gc.callbacks.append(self.callback)

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.durations.append(time.perf_counter() - self.started)

    def line(self) -> str:
        if not self.durations:
            return "0 full collections"
        took = sorted(self.durations)
        return (
            f"{len(took)} full (generation 2) collections, {sum(took) * 1000:.0f} ms in all, median "
            f"{took[len(took) // 2] * 1000:.1f} ms, longest {took[-1] * 1000:.1f} ms"
        )


async def serve(data: Path, nodelay: bool, freeze: bool) -> None:
    """Serve ``data/state.db`` until SIGTERM; SIGUSR1 starts cProfile, SIGUSR2 stops it and writes
    ``data/profile-N.prof`` (N counts from 1); at exit, ``data/gc.txt`` says what garbage collection cost.
    ``nodelay``: the listening socket as ``_TcpSockets`` makes it; ``freeze``: ``gc.freeze()`` once started."""
    from gitferry.controllers.world import World
    from gitferry.reactor.loop import Reactor
    from gitferry.server import serving
    from gitferry.server.app import create_app
    from gitferry.server.serving import HttpServer
    from gitferry.store.sqlite import Store
    from gitferry.targets.memory import RecordingTarget

    if nodelay:
        serving.socket = _TcpSockets()  # type: ignore[attr-defined,assignment]
    store = Store(data / "state.db")
    world = World(store=store, target=RecordingTarget(), data_dir=data)
    reactor = Reactor(world, idle_start=True)  # never run: nothing reconciles while we measure
    http = HttpServer(create_app(reactor), 0)
    stop = asyncio.Event()
    profiles: list[cProfile.Profile] = []
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def profile_on() -> None:
        if not profiles:  # the collections of the measured phases, not of the profiled ones
            (data / "gc.txt").write_text(clock.line())
        profiles.append(cProfile.Profile())
        profiles[-1].enable()

    def profile_off() -> None:
        profiles[-1].disable()
        path = data / f"profile-{len(profiles)}.prof"
        profiles[-1].dump_stats(str(path) + ".part")
        os.replace(str(path) + ".part", path)

    loop.add_signal_handler(PROFILE_ON, profile_on)
    loop.add_signal_handler(PROFILE_OFF, profile_off)
    await http.start()
    if freeze:
        gc.freeze()  # what was made at start-up (modules, the app, its routes) leaves the collector's view
    clock = GcClock()
    proto = http._socket.proto  # what decides whether asyncio sets TCP_NODELAY on the connections
    (data / ADDRESS_FILE).write_text(f"{http.address} {int(proto == socket.IPPROTO_TCP)}\n")
    try:
        await stop.wait()
    finally:
        if not profiles:
            (data / "gc.txt").write_text(clock.line())
        await http.stop()
        store.close()


@dataclass
class Server:
    data: Path
    process: subprocess.Popen[bytes] | None = None
    nodelay: bool = False
    freeze: bool = False
    address: str = ""
    tcp_nodelay: bool = False  # whether the server's connections have TCP_NODELAY
    profiles: int = 0

    def start(self, timeout: float = 30) -> None:
        out = open(self.data / "server.log", "wb")  # noqa: SIM115 - closed when the process is
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve", str(self.data)]
        argv += ["--nodelay"] if self.nodelay else []
        argv += ["--gc-freeze"] if self.freeze else []
        self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        out.close()
        deadline = time.monotonic() + timeout
        address_file = self.data / ADDRESS_FILE
        while True:
            self.check()
            if address_file.exists() and address_file.read_text().endswith("\n"):
                address, nodelay = address_file.read_text().split()
                self.address, self.tcp_nodelay = address, nodelay == "1"
                try:
                    if httpx.get(self.address + "/healthz", timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer /healthz within {timeout:.0f}s; see {self.log_tail()}")
            time.sleep(0.05)

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise SystemExit(f"the server exited ({self.process.returncode}):\n{self.log_tail()}")

    def log_tail(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def cpu_seconds(self) -> float:
        """User + system CPU the server process used so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def profile_on(self) -> None:
        assert self.process is not None
        self.process.send_signal(PROFILE_ON)
        time.sleep(0.2)  # the loop handles the signal on its next turn

    def profile_off(self) -> Path:
        assert self.process is not None
        self.process.send_signal(PROFILE_OFF)
        self.profiles += 1
        path = self.data / f"profile-{self.profiles}.prof"
        deadline = time.monotonic() + 30
        while not path.exists():
            self.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"the server wrote no profile {path}")
            time.sleep(0.05)
        return path

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                log("warning: the server did not stop within 15 s of SIGTERM; killed")
                self.process.kill()
                self.process.wait()
        return self.process.returncode


# ---------------------------------------------------------------------------------------------
# the load


@dataclass
class Phase:
    endpoint: Endpoint
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    sizes: set[int] = field(default_factory=set)  # nothing changes while we measure: one size, or a wrong answer
    errors: list[str] = field(default_factory=list)
    cut: bool = False  # stopped by the time limit before all requests were sent
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def cpu_per_request(self) -> float:
        """Server CPU ms per request sent (a failed one costs too)."""
        return self.server_cpu / max(1, len(self.latencies) + len(self.errors)) * 1000

    def p(self, q: float) -> float:
        """The q-th percentile in ms, nearest rank; NaN when no request was answered."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000


def headers_for(endpoint: Endpoint, token: str) -> dict[str, str]:
    from gitferry.server.auth import COOKIE

    return {"Cookie": f"{COOKIE}={token}"} if endpoint.cookie else {"Authorization": f"Bearer {token}"}


async def send(
    client: httpx.AsyncClient, endpoint: Endpoint, headers: dict[str, str], count: int, concurrency: int,
    seconds: float, phase: Phase | None,
) -> None:  # fmt: skip
    """``count`` GETs from ``concurrency`` clients, each sending its next when the last is answered; recorded in
    ``phase`` (None: a warm-up). No new request starts after ``seconds``, and any still open are cancelled 10 s on."""
    remaining = count
    deadline = time.monotonic() + seconds

    async def client_loop() -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            start = time.perf_counter()
            try:
                response = await client.get(endpoint.path, headers=headers)
            except httpx.HTTPError as e:
                if phase is not None:
                    phase.errors.append(f"{type(e).__name__}: {e}")
                continue
            took = time.perf_counter() - start
            if phase is None:
                continue
            if response.status_code != 200:
                phase.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                continue
            phase.latencies.append(took)
            phase.sizes.add(len(response.content))

    tasks = [asyncio.ensure_future(client_loop()) for _ in range(concurrency)]
    done, pending = await asyncio.wait(tasks, timeout=seconds + 10)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
    if phase is not None and (remaining > 0 or pending):
        phase.cut = True


async def measure(server: Server, endpoint: Endpoint, token: str, concurrency: int, args: argparse.Namespace) -> Phase:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = headers_for(endpoint, token)
    phase = Phase(endpoint, concurrency)
    async with httpx.AsyncClient(base_url=server.address, limits=limits, timeout=30) as client:
        await send(client, endpoint, headers, args.warmup, concurrency, args.seconds, None)  # opens the connections
        cpu, client_cpu, start = server.cpu_seconds(), time.process_time(), time.perf_counter()
        await send(client, endpoint, headers, args.requests, concurrency, args.seconds, phase)
        phase.wall = time.perf_counter() - start
        phase.server_cpu, phase.client_cpu = server.cpu_seconds() - cpu, time.process_time() - client_cpu
    server.check()
    return phase


def check_answers(server: Server, token: str, kustomizations: int, failing: int, events: int) -> list[str]:
    """What the endpoints answer is what was stored: the figures mean nothing otherwise."""
    problems = []
    with httpx.Client(base_url=server.address, timeout=30) as client:
        bearer = headers_for(Endpoint("", ""), token)
        items = client.get(LIST, headers=bearer).json()
        failed = [i for i in items if i["state"] == "failed"]
        if len(items) != kustomizations or len(failed) != failing:
            problems.append(f"list: {len(items)} items, {len(failed)} failed; expected {kustomizations}, {failing}")
        if any(i["sync"] != ("out-of-sync" if i["state"] == "failed" else "synced") for i in items):
            problems.append("list: a Kustomization's sync is not what was stored")
        newest = client.get("/api/v1/events?limit=100", headers=bearer).json()
        if len(newest) != min(100, events):
            problems.append(f"events: {len(newest)} events, expected {min(100, events)}")
        page = client.get(OVERVIEW, headers=headers_for(Endpoint("", "", cookie=True), token))
        heading = f"{failing} of {kustomizations + 1} failing"
        if page.status_code != 200 or heading not in page.text:
            problems.append(f"overview: HTTP {page.status_code}, no '{heading}' in the page")
    return problems


# ---------------------------------------------------------------------------------------------
# output


def figures(phase: Phase, floor: Phase | None) -> list[str]:
    n = len(phase.latencies)
    cells = [
        phase.endpoint.label,
        f"{n}" + (" (cut)" if phase.cut else ""),
        f"{len(phase.errors)}",
        f"{phase.concurrency}",
        *(f"{phase.p(q):.1f}" for q in (50, 90, 99)),
        f"{phase.p(100):.1f}",
        f"{n / phase.wall:.0f}",
        (kib(max(phase.sizes)) if phase.sizes else "-")
        + (f" ({len(phase.sizes)} sizes!)" if len(phase.sizes) > 1 else ""),
        f"{phase.cpu_per_request():.2f}",
        f"{phase.client_cpu / max(1, n + len(phase.errors)) * 1000:.2f}",
    ]
    if floor is None or floor is phase:
        return [*cells, "", ""]
    return [*cells, f"{phase.p(50) - floor.p(50):+.1f}", f"{phase.p(99) - floor.p(99):+.1f}"]


def kib(size: int) -> str:
    return f"{size} B" if size < 10_000 else f"{size / 1024:.0f} KiB"


def print_phases(title: str, phases: Sequence[Phase]) -> None:
    print(title)
    floor = phases[0]
    headers = ["endpoint", "answered", "failed", "clients", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s", "size",
               "server cpu ms/req", "client cpu ms/req", "p50 - floor", "p99 - floor"]  # fmt: skip
    table(headers, [figures(p, floor) for p in phases])
    for p in phases:
        if p.errors:
            first = p.errors[0].splitlines()[0][:150]
            print(f"  {p.endpoint.path}, {p.concurrency} clients: {len(p.errors)} requests failed, e.g. {first}")
        if len(p.sizes) > 1:
            print(f"  {p.endpoint.path}, {p.concurrency} clients: answers of {len(p.sizes)} different sizes although "
                  f"nothing changed: {', '.join(str(n) for n in sorted(p.sizes))} bytes")  # fmt: skip
    if any(p.errors or len(p.sizes) > 1 for p in phases):
        print()


def log_errors(text: str, data: Path) -> list[str]:
    """What the server's log says failed: each request it answered with 500 ("GET /path failed", with its
    trace), and the distinct exceptions the traces end in (the last line of each), with how often each came."""
    found: dict[str, int] = {}
    for line in text.replace(str(data), "DATA").splitlines():
        if re.match(r"^(GET|POST) \S+ failed$", line) or re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", line):
            found[line] = found.get(line, 0) + 1
    return [f"{n} x {line}" for line, n in sorted(found.items(), key=lambda item: -item[1])]


def print_profile(path: Path, title: str, requests: int) -> None:
    """Own time over everything; cumulative time only for gitferry's functions and what they call that costs
    (the ASGI layers above the endpoint each show the whole request and say nothing)."""
    where = r"gitferry/|json/(decoder|encoder|__init__)|jinja2/environment.py.*render|templating|responses.py.*render"
    for order, count, restriction in (("tottime", 15, ""), ("cumulative", 25, where)):
        out = io.StringIO()
        stats = pstats.Stats(str(path), stream=out)
        total = stats.total_tt  # type: ignore[attr-defined]
        idle = sum(v[2] for k, v in stats.stats.items() if k[2] == "<method 'poll' of 'select.epoll' objects>")  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(*((restriction,) if restriction else ()), count)
        what = "own time" if order == "tottime" else f"cumulative time matching {restriction!r}"
        busy = (total - idle) / requests * 1000
        print(f"\n{title}: {requests} requests (1 client), {total:.2f} s in the server's main thread under cProfile, "
              f"{idle:.2f} s of it waiting in epoll: {busy:.1f} ms busy per request; the {count} functions with the "
              f"most {what}")  # fmt: skip
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print("\n".join(shorten(line) for line in lines[start:] if line.strip()))


def shorten(line: str) -> str:
    for prefix in sorted({str(ROOT) + "/", *(p + "/" for p in sys.path if p.endswith("-packages"))}, key=len)[::-1]:
        line = line.replace(prefix, "")
    return line.replace(sys.base_prefix + "/lib/python" + sys.version[:4] + "/", "")


# ---------------------------------------------------------------------------------------------


async def run_all(server: Server, token: str, args: argparse.Namespace) -> tuple[list[Phase], list[Phase]]:
    single = []
    for endpoint in ENDPOINTS:
        single.append(await measure(server, endpoint, token, 1, args))
        log(f"  1 client:  {endpoint.path}: p50 {single[-1].p(50):.1f} ms, p99 {single[-1].p(99):.1f} ms")
    loaded = []
    for endpoint in ENDPOINTS:
        loaded.append(await measure(server, endpoint, token, args.concurrency, args))
        log(f"  {args.concurrency} clients: {endpoint.path}: p50 {loaded[-1].p(50):.1f} ms, "
            f"p99 {loaded[-1].p(99):.1f} ms")  # fmt: skip
    return single, loaded


async def profile_endpoint(server: Server, endpoint: Endpoint, token: str, args: argparse.Namespace) -> Path:
    async with httpx.AsyncClient(base_url=server.address, timeout=30) as client:
        headers = headers_for(endpoint, token)
        await send(client, endpoint, headers, args.warmup, 1, args.seconds, None)
        server.profile_on()
        phase = Phase(endpoint, 1)
        await send(client, endpoint, headers, args.profile_requests, 1, args.seconds, phase)
        path = server.profile_off()
    log(f"  profiled {len(phase.latencies)} x {endpoint.path}: p50 {phase.p(50):.1f} ms with the profiler on")
    return path


def revision() -> str:
    """The commit gitferry is at, and how many of its files differ from it (what was measured)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    changed = subprocess.run(["git", "status", "--porcelain", "gitferry"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        return "gitferry (not a git checkout)"
    dirty = len(changed.stdout.splitlines())
    return f"gitferry at {head.stdout.strip()}" + (f" with {dirty} files under gitferry/ changed" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description="HTTP API and overview page latency over a large store.")
    parser.add_argument("--kustomizations", type=int, default=1000, help="Kustomizations in the store (1000)")
    parser.add_argument("--events", type=int, default=10_000, help="events in the store (10000)")
    parser.add_argument("--requests", type=int, default=400, help="requests counted per endpoint and phase (400)")
    parser.add_argument("--warmup", type=int, default=20, help="requests not counted before each phase (20)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients in the load phase (8)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per endpoint and phase (60)")
    parser.add_argument("--profile", action="store_true", help="then the list API and overview under cProfile")
    parser.add_argument("--profile-requests", type=int, default=200, help="requests per profiled endpoint (200)")
    parser.add_argument(
        "--nodelay", action="store_true", help="serve with TCP_NODELAY on (the fix suggested for HttpServer's socket)"
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() in the server once started (the fix suggested for up)"
    )
    parser.add_argument("--serve", type=Path, metavar="DATA", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.nodelay, args.gc_freeze))
        return 0
    if args.requests < 1 or args.concurrency < 1 or args.kustomizations < 501 or args.warmup < 0:
        parser.error("--requests and --concurrency must be at least 1, --kustomizations at least 501 (ks-0500)")

    began = time.monotonic()
    log(
        f"gitferry HTTP API benchmark, {revision()}; {os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    data = Path(tempfile.mkdtemp(prefix="gitferry-bench-http-"))
    server = Server(data, nodelay=args.nodelay, freeze=args.gc_freeze)
    profiles: list[tuple[Endpoint, Path]] = []
    try:
        t0 = time.monotonic()
        token, failing = fill(data, args.kustomizations, args.events)
        size = (data / "state.db").stat().st_size + sum(p.stat().st_size for p in data.glob("state.db-*"))
        log(
            f"store: 1 GitRepository, {args.kustomizations} Kustomizations ({failing} failing), {args.events} events, "
            f"1 viewer token; {size / 1e6:.1f} MB, made in {time.monotonic() - t0:.1f}s"
        )
        server.start()
        assert server.process is not None
        log(
            f"server: a second process (pid {server.process.pid}) serving create_app() with HttpServer (uvicorn in "
            f"one asyncio loop) on {server.address}; RecordingTarget; Reactor(idle_start=True) never run: a quiet "
            f"reconciler, so only serving is measured; gc.freeze() after start-up: {ok(args.gc_freeze).lower()}"
        )
        log(
            f"server connections have TCP_NODELAY: {'yes' if server.tcp_nodelay else 'no'} ("
            + ("--nodelay: HttpServer's listening socket made with IPPROTO_TCP)" if args.nodelay else
               "HttpServer as it is: its listening socket has proto 0, so asyncio leaves Nagle on; --nodelay changes "
               "that in the server process)")
        )  # fmt: skip
        log(
            f"client: this process, httpx.AsyncClient with keep-alive; per endpoint and phase {args.warmup} "
            f"warm-up requests, then {args.requests} counted (at most {args.seconds:.0f}s); 1 client, then "
            f"{args.concurrency}; the server and the client share the {os.cpu_count()} cores"
        )
        problems = check_answers(server, token, args.kustomizations, failing, args.events)
        if problems:
            raise SystemExit("wrong answers: " + "; ".join(problems))
        single, loaded = asyncio.run(run_all(server, token, args))
        if args.profile:
            for endpoint in (ENDPOINTS[2], ENDPOINTS[5]):
                profiles.append((endpoint, asyncio.run(profile_endpoint(server, endpoint, token, args))))
        code = server.stop()
        server_log = (data / "server.log").read_text(errors="replace").strip()

        print()
        print_phases("one client: the latency a user sees (ms; 'floor' = /healthz in the same phase)", single)
        print_phases(
            f"{args.concurrency} concurrent clients: behaviour under load (the server is one asyncio process: "
            f"requests queue behind each other)",
            loaded,
        )
        lists = {p.concurrency: p for p in (single[2], loaded[2])}
        table(
            ["target", "measured ms", "target ms", "ok"],
            [[f"list API p99, {c} client{'s' if c > 1 else ''}", f"{p.p(99):.1f}", f"< {TARGET_MS:.0f}",
              ok(p.p(99) < TARGET_MS)] for c, p in sorted(lists.items(), reverse=True)],
        )  # fmt: skip
        list_cpu = loaded[2].cpu_per_request()
        print(
            f"list API: server CPU {list_cpu:.1f} ms/request, so one server process answers at most "
            f"~{1000 / list_cpu:.0f}/s; with {args.concurrency} clients each request waits behind up to "
            f"{args.concurrency - 1} others"
        )
        errors = log_errors(server_log, data)
        gc_file = data / "gc.txt"
        freeze = "gc.freeze() after start-up" if args.gc_freeze else "no gc.freeze(), as in gitferry up"
        print(
            f"server garbage collection in the measured phases ({freeze}): "
            + (gc_file.read_text() if gc_file.exists() else "not known")
        )
        print(f"server exit code {code}; its log: {len(server_log.splitlines())} lines", end="")
        if errors:
            print(", with these failures, warm-ups included (a trace names its error twice: cause and StoreError):")
            print("  " + "\n  ".join(errors))
        else:
            print()
        print()
        for endpoint, path in profiles:
            print_profile(path, f"profile of {endpoint.path}", args.profile_requests)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
        log(f"cleaned up {data}")
    print(f"took {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
