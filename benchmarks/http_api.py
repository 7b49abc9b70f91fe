"""HTTP API and web UI: latency of the list API and the overview page with 1,000 Kustomizations and 10,000 events.

Why: the list API should answer in p99 < 50 ms for one user and under load, and a wrong token should get its 401 in
the time a right one gets its 200 (nothing to learn from the timing).

What: the store is filled straight through ``Store``: one GitRepository with an artifact, ``--kustomizations``
Kustomizations with Flux-shaped statuses (Ready condition, ``lastAppliedRevision``, an inventory of three objects;
every 20th one failing, one revision behind), ``--events`` events over them, one viewer token. A second process (this
script with ``--serve DATA``) serves it as ``gitferry up`` does: ``create_app`` in ``HttpServer`` (uvicorn in one
asyncio loop, 127.0.0.1, TCP_NODELAY), ``gc.freeze()`` once started. Its ``Reactor(idle_start=True)`` never runs, so
only serving is measured and the store's change mark stays put (token 'last used' is written once a minute at most):
the cached summaries and overview are served, as on a quiet fleet (but for the last phase). Measured, each alone:

- ``GET /healthz``: no auth, no store: the floor (HTTP, uvicorn, FastAPI routing, the client itself);
- ``GET /api/v1/whoami``: the authenticated floor (the token check, an ``async`` dependency on the loop);
- ``GET /api/v1/objects?kind=Kustomization``: the list API; ``.../objects/Kustomization/flux-system/ks-0500``: one;
- ``GET /api/v1/events?limit=100``: the timeline's newest 100 events; ``GET /ui/``: the overview (session cookie);
- ``whoami`` with the right token (200) and a wrong one of the same length and prefix (401), alternated, 1 client;
- store changing, 1 client: ``/healthz`` (the floor), the list API and the overview, each request preceded by one
  event written into the store through this process's own ``Store`` connection. That moves the server's
  ``data_version``, so every request misses the cache and computes the summaries (and renders the overview) again:
  what the first request after a write pays on a busy ``gitferry up`` (statuses, events). The write is not timed.

How: httpx.AsyncClient with keep-alive; each client sends its next request when the last is answered; ``--warmup``
requests not counted, then ``--requests`` counted within ``--seconds``; 1 client, then ``--concurrency``. Latency runs
from just before a request is sent until its body is read (after the write, in the store-changing phase; req/s leaves
the writes out too). The answers are checked against the store before timing; an endpoint's answers then have one
size (events are not in the list or on the overview; only the overview page, which carries the change mark, may
grow by a byte while the store changes), and any status but the expected one is a failed request (the server's log
is summarised at the end). Server CPU per request comes from ``/proc/<pid>/stat``.

Run from the repository root::

    python benchmarks/http_api.py [--kustomizations 1000] [--events 10000] [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import Daemon, git, log, ok, table  # benchmarks/common.py: the scripts run from their own folder

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = SOURCE = "flux-system"
REVISION = "main@sha1:" + "4c1d" * 10
OLD_REVISION = "main@sha1:" + "9e3b" * 10
FAILING_EVERY = 20  # 5 % of the fleet fails, so the overview has its failing section
TARGET_MS = 50.0
LIST, WHOAMI, OVERVIEW = "/api/v1/objects?kind=Kustomization", "/api/v1/whoami", "/ui/"
Write = Callable[[], None]  # one write into the store, before each request of the store-changing phase


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    cookie: bool = False  # the session cookie, as a browser sends it, instead of the bearer header
    wrong: bool = False  # a wrong token (same length and prefix): the answer expected is 401


ENDPOINTS = (
    Endpoint("healthz (floor)", "/healthz"),
    Endpoint("whoami (auth floor)", WHOAMI),
    Endpoint("list Kustomizations", LIST),
    Endpoint("one Kustomization", "/api/v1/objects/Kustomization/flux-system/ks-0500"),
    Endpoint("events, newest 100", "/api/v1/events?limit=100"),
    Endpoint("overview page /ui/", OVERVIEW, cookie=True),
)
RIGHT, WRONG = Endpoint("whoami, right token", WHOAMI), Endpoint("whoami, wrong token", WHOAMI, wrong=True)
CHANGING = (ENDPOINTS[0], ENDPOINTS[2], ENDPOINTS[-1])  # the floor, the list API, the overview


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
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
             "metadata": {"name": SOURCE, "namespace": NAMESPACE},
             "spec": {"interval": "1m", "url": "https://git.example.com/fleet.git", "ref": {"branch": "main"}}},
            owner=BOOTSTRAP_OWNER, origin="bootstrap",
        )  # fmt: skip
        artifact = {
            "revision": REVISION, "digest": "sha256:" + "ab" * 32, "commit": REVISION.rsplit(":", 1)[-1],
            "path": str(data / "artifacts" / "flux-system" / "4c1d.tar.gz"), "message": "Bump web to 1.4.2",
            "author": "Bench <bench@example.com>", "lastUpdateTime": "2026-11-22T10:00:00Z",
        }  # fmt: skip
        stored = f"stored artifact for revision '{REVISION}'"
        store.put_status(source, statuses.mark({}, ready=True, reason=statuses.SUCCEEDED, message=stored,
                                                generation=1, fields={"artifact": artifact}))  # fmt: skip
        keys, failing = [source], 0
        for i in range(kustomizations):
            key, app = ObjectKey("Kustomization", NAMESPACE, f"ks-{i:04d}"), f"app-{i:04d}"
            keys.append(key)
            store.put_object(
                {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                 "metadata": {"name": key.name, "namespace": NAMESPACE},
                 "spec": {"interval": "10m", "path": f"./apps/{app}", "prune": True,
                          "sourceRef": {"kind": "GitRepository", "name": SOURCE}}},
                owner=f"{NAMESPACE}/flux-system", origin=f"clusters/prod/{key.name}.yaml",
            )  # fmt: skip
            inventory = inventory_entries(
                [{"apiVersion": version, "kind": kind, "metadata": {"name": "web", "namespace": app}}
                 for version, kind in (("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"))]
            )  # fmt: skip
            fields = {
                "lastAttemptedRevision": REVISION,
                "lastAppliedRevision": REVISION,
                "inventory": {"entries": inventory},
            }
            if i % FAILING_EVERY == FAILING_EVERY // 2:
                failing += 1
                problem = statuses.naming(
                    key, f"kustomize build failed: accumulating resources from './apps/{app}': "
                    f"'deployment.yaml': yaml: line 12: mapping values are not allowed in this context",
                )  # fmt: skip
                status = statuses.mark(
                    {}, ready=False, reason=statuses.BUILD_FAILED, generation=1,
                    message=f"{problem} (last applied revision '{OLD_REVISION}' keeps running)",
                    fields={**fields, "lastAppliedRevision": OLD_REVISION},
                )  # fmt: skip
            else:
                status = statuses.mark({}, ready=True, reason=statuses.RECONCILIATION_SUCCEEDED, generation=1,
                                       message=f"Applied revision: {REVISION}", fields=fields)  # fmt: skip
            store.put_status(key, status)
        for n in range(events):
            key = keys[n % len(keys)]
            if key.kind == "GitRepository":
                store.add_event(key, "Normal", "NewArtifact", f"{stored}: Bump web to 1.4.{n}")
            elif int(key.name[3:]) % FAILING_EVERY == FAILING_EVERY // 2 and n % 3:
                store.add_event(key, "Warning", statuses.BUILD_FAILED, f"{key}: kustomize build failed")
            else:
                app = f"app-{key.name[3:]}"
                message = f"ConfigMap/{app}/web configured\nDeployment/{app}/web configured (web-0: image changed)"
                store.add_event(key, "Normal", statuses.RECONCILIATION_SUCCEEDED, message)
        token = Tokens(store).create("bench", Role.VIEWER)
    finally:
        store.close()
    return token, failing


async def serve(data: Path) -> None:
    """The server process: ``data/state.db`` served as ``gitferry up`` serves it, until SIGTERM; its address goes to
    ``data/http-address``, and at exit ``data/gc.txt`` gets the full collections made while serving."""
    from gitferry.controllers.world import World
    from gitferry.reactor.loop import Reactor
    from gitferry.server.app import create_app
    from gitferry.server.serving import HttpServer
    from gitferry.store.sqlite import Store
    from gitferry.targets.memory import RecordingTarget

    store = Store(data / "state.db")
    reactor = Reactor(World(store=store, target=RecordingTarget(), data_dir=data), idle_start=True)  # never run
    http = HttpServer(create_app(reactor), 0)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await http.start()
    gc.freeze()  # as gitferry up does right after http.start()
    full = gc.get_stats()[2]["collections"]
    (data / "http-address").write_text(http.address + "\n")
    try:
        await stop.wait()
    finally:
        (data / "gc.txt").write_text(str(gc.get_stats()[2]["collections"] - full))
        await http.stop()
        store.close()


@dataclass
class Server(Daemon):
    """The server process, started, checked and stopped as ``common.Daemon`` does ``gitferry up`` (its log is
    ``up_log``, its messages say 'gitferry up')."""

    address: str = ""

    def start(self, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve", str(self.data)]
        with open(self.up_log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        self.wait_for("the server to answer /healthz", self.answers, timeout=30, interval=0.05)

    def answers(self) -> bool:
        written = self.data / "http-address"
        if not written.exists() or not written.read_text().endswith("\n"):
            return False
        self.address = written.read_text().strip()
        try:
            return httpx.get(self.address + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def cpu_seconds(self) -> float:
        """User + system CPU the server process used so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    endpoint: Endpoint
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    changing: bool = False  # an event written before each request
    sizes: set[int] = field(default_factory=set)  # one size, or a wrong answer (see one_size)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0  # the writes left out
    writing: float = 0.0
    cut: bool = False  # stopped by the time limit before all requests were sent
    server_cpu: float = 0.0

    @property
    def one_size(self) -> bool:
        """Whether the answers must all have one size: not a page while the store changes (base.html puts the
        change mark into it, and its digits grow); events are not in the list API or on the overview."""
        return not (self.changing and self.endpoint.cookie)

    def p(self, q: float) -> float:
        """The q-th percentile in ms, nearest rank; NaN when no request was answered."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000


def headers_for(endpoint: Endpoint, token: str) -> dict[str, str]:
    from gitferry.server.auth import COOKIE

    if endpoint.wrong:  # same prefix ("gf_") and length, the last character changed
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    return {"Cookie": f"{COOKIE}={token}"} if endpoint.cookie else {"Authorization": f"Bearer {token}"}


async def get(client: httpx.AsyncClient, endpoint: Endpoint, headers: dict[str, str], phase: Phase | None,
              write: Write | None = None) -> None:  # fmt: skip
    """One GET, recorded in ``phase`` (None: a warm-up), after ``write`` (not timed)."""
    if write is not None:
        wrote = time.perf_counter()
        write()
        if phase is not None:
            phase.writing += time.perf_counter() - wrote
    start = time.perf_counter()
    try:
        response = await client.get(endpoint.path, headers=headers)
        took = time.perf_counter() - start
    except httpx.HTTPError as e:
        response, took = None, 0.0
        error = f"{type(e).__name__}: {e}"
    if phase is None:
        return
    if response is not None and response.status_code == (401 if endpoint.wrong else 200):
        phase.latencies.append(took)
        phase.sizes.add(len(response.content))
    else:
        phase.errors.append(error if response is None else f"HTTP {response.status_code}: {response.text[:200]}")


async def send(client: httpx.AsyncClient, endpoint: Endpoint, headers: dict[str, str], count: int,
               concurrency: int, seconds: float, phase: Phase | None, write: Write | None = None) -> None:  # fmt: skip
    """``count`` GETs from ``concurrency`` clients, each sending its next when the last is answered; none started
    after ``seconds`` (a request times out after 30 s)."""
    remaining, deadline = count, time.monotonic() + seconds

    async def one_client() -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            await get(client, endpoint, headers, phase, write)

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    if phase is not None:
        phase.cut = remaining > 0


async def measure(server: Server, endpoint: Endpoint, token: str, concurrency: int, args: argparse.Namespace,
                  write: Write | None = None) -> Phase:  # fmt: skip
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers, phase = headers_for(endpoint, token), Phase(endpoint, concurrency, changing=write is not None)
    async with httpx.AsyncClient(base_url=server.address, limits=limits, timeout=30) as client:
        await send(client, endpoint, headers, args.warmup, concurrency, args.seconds, None, write)  # opens them
        cpu, start = server.cpu_seconds(), time.perf_counter()
        await send(client, endpoint, headers, args.requests, concurrency, args.seconds, phase, write)
        phase.wall = time.perf_counter() - start - phase.writing
        phase.server_cpu = server.cpu_seconds() - cpu
    server.check()
    log(f"  {concurrency} client(s): {endpoint.path}: p50 {phase.p(50):.1f} ms, p99 {phase.p(99):.1f} ms")
    return phase


async def token_timing(server: Server, token: str, args: argparse.Namespace) -> list[Phase]:
    """Right and wrong token alternated on one connection (1 client), so both see the same conditions; their
    time and server CPU are not told apart (``wall`` and ``server_cpu`` stay 0)."""
    pairs = [(Phase(endpoint, 1), headers_for(endpoint, token)) for endpoint in (RIGHT, WRONG)]
    async with httpx.AsyncClient(base_url=server.address, timeout=30) as client:
        for n in range(-args.warmup, args.requests):
            for phase, headers in pairs if n % 2 else pairs[::-1]:
                await get(client, phase.endpoint, headers, phase if n >= 0 else None)
    server.check()
    return [phase for phase, _ in pairs]


def check_answers(server: Server, token: str, kustomizations: int, failing: int, events: int) -> list[str]:
    """What the endpoints answer is what was stored: the figures mean nothing otherwise."""
    problems = []
    with httpx.Client(base_url=server.address, timeout=30) as client:
        bearer = headers_for(RIGHT, token)
        items = client.get(LIST, headers=bearer).json()
        failed = [i for i in items if i["state"] == "failed"]
        if len(items) != kustomizations or len(failed) != failing:
            problems.append(f"list: {len(items)} items, {len(failed)} failed; expected {kustomizations}, {failing}")
        if any(i["sync"] != ("out-of-sync" if i["state"] == "failed" else "synced") for i in items):
            problems.append("list: a Kustomization's sync is not what was stored")
        newest = client.get("/api/v1/events?limit=100", headers=bearer).json()
        if len(newest) != min(100, events):
            problems.append(f"events: {len(newest)} events, expected {min(100, events)}")
        page = client.get(OVERVIEW, headers=headers_for(ENDPOINTS[-1], token))
        heading = f"{failing} of {kustomizations + 1} failing"
        if page.status_code != 200 or heading not in page.text:
            problems.append(f"overview: HTTP {page.status_code}, no '{heading}' in the page")
        me, stranger = client.get(WHOAMI, headers=bearer), client.get(WHOAMI, headers=headers_for(WRONG, token))
        if me.status_code != 200 or me.json().get("name") != "bench" or stranger.status_code != 401:
            problems.append(f"whoami: HTTP {me.status_code} {me.text[:80]} right, {stranger.status_code} wrong")
    return problems


def figures(phase: Phase, floor: Phase) -> list[str]:
    n, sizes = len(phase.latencies), sorted(phase.sizes)
    size = "-" if not sizes else f"{sizes[-1]} B" if sizes[-1] < 10_000 else f"{sizes[-1] / 1024:.0f} KiB"
    cells = [
        phase.endpoint.label, f"{n}" + (" (cut)" if phase.cut else ""), f"{len(phase.errors)}", f"{phase.concurrency}",
        *(f"{phase.p(q):.1f}" for q in (50, 90, 99, 100)), f"{n / phase.wall:.0f}" if phase.wall else "-",
        size + (f" ({len(sizes)} sizes!)" if len(sizes) > 1 and phase.one_size else ""),
        f"{phase.server_cpu / max(1, n + len(phase.errors)) * 1000:.2f}" if phase.wall else "-",
    ]  # fmt: skip
    if floor is phase:
        return [*cells, "", ""]
    return [*cells, f"{phase.p(50) - floor.p(50):+.1f}", f"{phase.p(99) - floor.p(99):+.1f}"]


def print_phases(title: str, phases: Sequence[Phase]) -> None:
    print(title)
    floor = phases[0]
    headers = "endpoint,answered,failed,clients,p50 ms,p90 ms,p99 ms,max ms,req/s,size,server cpu ms/req"
    table([*headers.split(","), "p50 - floor", "p99 - floor"], [figures(p, floor) for p in phases])
    for p in phases:
        where = f"  {p.endpoint.label}, {p.concurrency} client(s)"
        if p.errors:
            print(f"{where}: {len(p.errors)} requests failed, e.g. {p.errors[0].splitlines()[0][:150]}")
        if len(p.sizes) > 1 and p.one_size:
            print(f"{where}: answers of {len(p.sizes)} sizes although they should not change: {sorted(p.sizes)} B")
    if any(p.errors or (len(p.sizes) > 1 and p.one_size) for p in phases):
        print()


def log_errors(text: str, data: Path) -> list[str]:
    """What the server's log says failed: each request answered with 500 ("GET /path failed") and the exceptions
    its traces end in, each with how often it came."""
    found: dict[str, int] = {}
    for line in text.replace(str(data), "DATA").splitlines():
        if re.match(r"^(GET|POST) \S+ failed$", line) or re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", line):
            found[line] = found.get(line, 0) + 1
    return [f"{n} x {line}" for line, n in sorted(found.items(), key=lambda item: -item[1])]


async def run_all(server: Server, token: str, args: argparse.Namespace) -> list[list[Phase]]:
    """The phases: 1 client, ``--concurrency`` clients, the token check, then (last, as it adds events) 1 client
    with an event written through this process's own connection before each request."""
    from gitferry.api.keys import ObjectKey
    from gitferry.store.sqlite import Store

    single = [await measure(server, endpoint, token, 1, args) for endpoint in ENDPOINTS]
    loaded = [await measure(server, endpoint, token, args.concurrency, args) for endpoint in ENDPOINTS]
    tokens = await token_timing(server, token, args)
    store, tick = Store(server.data / "state.db"), ObjectKey("Kustomization", NAMESPACE, "ks-0001")

    def write() -> None:
        store.add_event(tick, "Normal", "Bench", "tick")

    try:
        changing = [await measure(server, endpoint, token, 1, args, write) for endpoint in CHANGING]
    finally:
        store.close()
    return [single, loaded, changing, tokens]


def revision() -> str:
    """The commit gitferry is at, and how many of its files differ from it (what was measured)."""
    dirty = len(git(ROOT, "status", "--porcelain", "gitferry").splitlines())
    return f"gitferry at {git(ROOT, 'rev-parse', '--short', 'HEAD').strip()}, {dirty} files under gitferry/ changed"


def main() -> int:
    parser = argparse.ArgumentParser(description="HTTP API and overview page latency over a large store.")
    parser.add_argument("--kustomizations", type=int, default=1000, help="Kustomizations in the store (1000)")
    parser.add_argument("--events", type=int, default=10_000, help="events in the store (10000)")
    parser.add_argument("--requests", type=int, default=400, help="requests counted per endpoint and phase (400)")
    parser.add_argument("--warmup", type=int, default=20, help="requests not counted before each phase (20)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients in the load phase (8)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per endpoint and phase (60)")
    parser.add_argument("--serve", type=Path, metavar="DATA", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        return 0
    if args.requests < 1 or args.concurrency < 1 or args.kustomizations < 501 or args.warmup < 0:
        parser.error("--requests and --concurrency must be at least 1, --kustomizations at least 501 (ks-0500)")

    began = time.monotonic()
    log(
        f"gitferry HTTP API benchmark, {revision()}; {os.cpu_count()} cores, {platform.platform()}, Python "
        f"{platform.python_version()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    data = Path(tempfile.mkdtemp(prefix="gitferry-bench-http-"))
    server = Server(script=Path(__file__), data=data, up_log=data / "server.log")
    try:
        t0 = time.monotonic()
        token, failing = fill(data, args.kustomizations, args.events)
        size = sum(p.stat().st_size for p in data.glob("state.db*"))
        log(
            f"store: 1 GitRepository, {args.kustomizations} Kustomizations ({failing} failing), {args.events} events, "
            f"1 viewer token; {size / 1e6:.1f} MB, made in {time.monotonic() - t0:.1f}s"
        )
        server.start()
        assert server.process is not None
        log(
            f"server: pid {server.process.pid}, as gitferry up serves (gc.freeze() after start), on {server.address}; "
            f"client: this process; per endpoint and phase {args.warmup} warm-up requests, then {args.requests} "
            f"(at most {args.seconds:.0f}s), 1 client, then {args.concurrency}; both share the {os.cpu_count()} cores"
        )
        problems = check_answers(server, token, args.kustomizations, failing, args.events)
        if problems:
            raise SystemExit("wrong answers: " + "; ".join(problems))
        log("answers checked: the list, events, overview and whoami (right and wrong token) say what was stored")
        single, loaded, changing, (right, wrong) = asyncio.run(run_all(server, token, args))
        code = server.stop()
        server_log = server.up_log.read_text(errors="replace").strip()

        print()
        print_phases("one client: the latency a user sees (ms; 'floor' = /healthz in the same phase)", single)
        print_phases(f"{args.concurrency} concurrent clients: under load (one asyncio process: requests queue)", loaded)
        print_phases("store changing before every request (cache missed every time), 1 client", changing)
        print_phases("token check: right vs wrong token, alternated on 1 connection ('floor' = right)", (right, wrong))
        gap = (wrong.p(50) - right.p(50)) * 1000
        print(
            f"token check: median wrong - right = {gap:+.0f} µs (p50 {right.p(50):.2f} vs {wrong.p(50):.2f} ms, "
            f"p99 {right.p(99):.2f} vs {wrong.p(99):.2f} ms)\n"
        )
        table(
            ["target", "measured ms", "target ms", "ok"],
            [[f"list API p99, {p.concurrency} client{'s' if p.concurrency > 1 else ''}{when}", f"{p.p(99):.1f}",
              f"< {TARGET_MS:.0f}", ok(p.p(99) < TARGET_MS)]
             for p, when in ((single[2], ""), (loaded[2], ""), (changing[1], ", store changing"))],
        )  # fmt: skip
        gc_file = data / "gc.txt"
        errors = log_errors(server_log, data)
        print(
            f"server: {gc_file.read_text() if gc_file.exists() else 'unknown'} full garbage collections while "
            f"serving (after gc.freeze()); exit code {code}; log: {len(server_log.splitlines())} lines"
            + (", with these failures (warm-ups included):\n  " + "\n  ".join(errors) if errors else "")
        )
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
        log(f"cleaned up {data}")
    print(f"took {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
