"""Image automation (issue 3): ImagePolicy selection over many tags, and scanning a registry's tags.

1. Policy evaluation. Tag lists are built deterministically (``random.Random(1)``): ``--tags`` mixed tags
   (semver with and without ``v``, pre-releases, build metadata, ``main-<sha>-<unix time>``,
   ``RELEASE.2023-01-31T08-42-01Z``, plain numbers and junk such as ``latest`` or ``1.2``), as many
   strict versions, and as many numeric tags. Each policy is an ``ImagePolicySpec`` compiled once with
   ``gitferry.images.policy.compile_policy`` (the compile is timed once, cold); then ``.select(tags)``
   is timed ``--runs`` times after one warm-up call. Median and p90 in ms, and the tag selected, so a
   reader can see it does the real work. Target: p90 < 20 ms per policy.
2. Scan. A real CNCF Distribution registry (Debian's ``docker-registry``) on loopback, started with
   ``tests/registry.py``; one repository with ``--scan-tags`` tags (one tiny image, many tags). Timed:
   ``RegistryClient(insecure=True, page_size=100).list_tags`` with a new client per scan and with one
   client reused, and ``skopeo list-tags --tls-verify=false`` (a process per scan, which is the
   floor: the usual tool doing the same read), one warm-up then median of ``--scan-runs``, on the
   same repository in the same run. One extra scan goes through a counting transport to show how
   many HTTP requests (pages) were really made: Debian's registry ignores ``n=`` and answers one page.
   Last, the same scan in a fresh Python process (``--cold-runs`` times): interpreter start, imports,
   first client (which builds the TLS context, cached per process), first and second ``list_tags``.

Run from the repository root::

    python benchmarks/image_scan_and_policy.py [--tags 10000 --scan-tags 2000 --runs 21 --skip-scan]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gitferry.api.images import ImagePolicySpec
from gitferry.images.policy import CompiledPolicy, NoTagSelectedError, compile_policy

REPO = Path(__file__).resolve().parent.parent
TARGET_SELECT_MS = 20.0
SEMVER_RANGE = ">=1.0.0 <2.0.0"
MAIN_PATTERN = "^main-[a-f0-9]+-(?P<ts>[0-9]+)"
PAGE_SIZE = 100
REPOSITORY = "bench/app"


# ---------------------------------------------------------------------------------------------
# tag lists (deterministic: one random.Random(1) for all three, in a fixed order)


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 3)}.{rng.randint(0, 30)}.{rng.randint(0, 60)}"


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choices("0123456789abcdef", k=length))


def _release(rng: random.Random) -> str:
    # MinIO style: RELEASE.2023-01-31T08-42-01Z
    return (
        f"RELEASE.{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        f"T{rng.randint(0, 23):02d}-{rng.randint(0, 59):02d}-{rng.randint(0, 59):02d}Z"
    )


def _junk(rng: random.Random) -> str:
    word = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))
    return rng.choice(
        [
            "latest",
            "stable",
            "edge",
            f"sha-{_hex(rng, 12)}",
            f"pr-{rng.randint(1, 5000)}",
            f"{word}_{rng.randint(0, 99)}",
            f"{rng.randint(0, 9)}.{rng.randint(0, 30)}",  # partial version: not strict semver
            f"0{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",  # leading zero
            f"v{_version(rng)}.{rng.randint(0, 9)}",  # four parts
            f"{_version(rng)}-alpine",
            word,
        ]
    )


MIXED_KINDS: list[tuple[str, int, Callable[[random.Random], str]]] = [
    # name, weight, maker
    ("semver", 20, _version),
    ("v-semver", 15, lambda r: "v" + _version(r)),
    ("pre-release", 10, lambda r: f"{_version(r)}-{r.choice(['rc', 'beta', 'alpha'])}.{r.randint(0, 9)}"),
    ("build metadata", 3, lambda r: f"{_version(r)}+build.{r.randint(1, 999)}"),
    ("main-<sha>-<ts>", 20, lambda r: f"main-{_hex(r, 7)}-{r.randint(1_600_000_000, 1_760_000_000)}"),
    ("dev-<sha>-<ts>", 5, lambda r: f"dev-{_hex(r, 7)}-{r.randint(1_600_000_000, 1_760_000_000)}"),
    ("RELEASE.<date>", 10, _release),
    ("number", 7, lambda r: str(r.randint(0, 100_000))),
    ("junk", 10, _junk),
]


def _strict_version(rng: random.Random) -> str:
    """Valid semver: a third with ``v``, one in ten a release candidate."""
    prefix = "v" if rng.random() < 0.3 else ""
    version = f"{prefix}{rng.randint(0, 4)}.{rng.randint(0, 60)}.{rng.randint(0, 60)}"
    return version + (f"-rc.{rng.randint(0, 5)}" if rng.random() < 0.1 else "")


def _number(rng: random.Random) -> str:
    """A build number or a unix time."""
    return str(rng.randint(0, 1_000_000) if rng.random() < 0.5 else rng.randint(1_600_000_000, 1_760_000_000))


def unique(count: int, make: Callable[[], str]) -> list[str]:
    """``count`` distinct tags in the order made, as a registry lists each tag once."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen[make()] = None
    return list(seen)


def tag_lists(count: int) -> dict[str, list[str]]:
    rng = random.Random(1)
    names = [name for name, _, _ in MIXED_KINDS]
    weights = [weight for _, weight, _ in MIXED_KINDS]
    makers = {name: maker for name, _, maker in MIXED_KINDS}
    mixed = unique(count, lambda: makers[rng.choices(names, weights)[0]](rng))
    versions = unique(count, lambda: _strict_version(rng))
    numbers = unique(count, lambda: _number(rng))
    return {"mixed": mixed, "versions": versions, "numbers": numbers}


# ---------------------------------------------------------------------------------------------
# part 1: policies


@dataclass(frozen=True)
class PolicyCase:
    label: str
    tags: str  # key into tag_lists()
    policy: dict[str, Any]
    filter_tags: dict[str, str] | None = None

    def spec(self) -> ImagePolicySpec:
        raw: dict[str, Any] = {"imageRepositoryRef": {"name": "app"}, "policy": self.policy}
        if self.filter_tags is not None:
            raw["filterTags"] = self.filter_tags
        return ImagePolicySpec.model_validate(raw)


CASES = [
    PolicyCase(f"semver '{SEMVER_RANGE}'", "mixed", {"semver": {"range": SEMVER_RANGE}}),
    PolicyCase(f"semver '{SEMVER_RANGE}'", "versions", {"semver": {"range": SEMVER_RANGE}}),
    PolicyCase("alphabetical asc", "mixed", {"alphabetical": {"order": "asc"}}),
    PolicyCase("numerical asc", "numbers", {"numerical": {"order": "asc"}}),
    PolicyCase(
        "filterTags main-<sha>-<ts>, extract $ts, numerical asc",
        "mixed",
        {"numerical": {"order": "asc"}},
        {"pattern": MAIN_PATTERN, "extract": "$ts"},
    ),
]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p90 of 21 runs is the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


def time_select(compiled: CompiledPolicy, tags: list[str], runs: int) -> tuple[list[float], str]:
    selection = compiled.select(tags)  # warm-up, and the answer to print
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        compiled.select(tags)
        times.append((time.perf_counter() - start) * 1000)
    shown = selection.tag if selection.value == selection.tag else f"{selection.tag} (value {selection.value})"
    return times, shown


def run_policies(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    lists = tag_lists(args.tags)
    print(
        f"part 1: policy evaluation, {args.tags} tags per list, median and p90 of {args.runs} runs after one warm-up "
        f"(lists built in {time.perf_counter() - started:.2f}s)"
    )
    rng = random.Random(1)
    print("  mixed list, a sample:", ", ".join(rng.sample(lists["mixed"], 8)))
    print()
    rows = []
    for case in CASES:
        tags = lists[case.tags]
        spec = case.spec()
        start = time.perf_counter()
        compiled = compile_policy(spec)
        compile_ms = (time.perf_counter() - start) * 1000
        candidates = len(compiled.filtered(tags))
        try:
            times, shown = time_select(compiled, tags, args.runs)
        except NoTagSelectedError as e:
            raise SystemExit(f"{case.label}: no tag selected ({e}); the tag lists are wrong") from e
        p90 = percentile(times, 0.9)
        rows.append(
            [
                case.label,
                f"{case.tags} ({len(tags)})",
                str(candidates),
                f"{compile_ms:.2f}",
                f"{statistics.median(times):.2f}",
                f"{p90:.2f}",
                f"< {TARGET_SELECT_MS:.0f}",
                yes(p90 < TARGET_SELECT_MS),
                shown,
            ]
        )
    header = ["policy", "tags", "after filter", "compile ms", "select median ms", "p90 ms", "target", "ok", "selected"]
    print_table(header, rows, left=(0, 1, len(header) - 1))


# ---------------------------------------------------------------------------------------------
# part 2: scan on a loopback registry


class CountingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that records every request URL before passing it on."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


COLD_SCAN = """
import time
t0 = time.perf_counter()
import asyncio, json, sys
from gitferry.registry.client import RegistryClient
t1 = time.perf_counter()

async def main():
    out = {"import_ms": (t1 - t0) * 1000}
    for which in ("first", "second"):
        start = time.perf_counter()
        client = RegistryClient(insecure=True, page_size=int(sys.argv[2]))
        built = time.perf_counter()
        tags = await client.list_tags(sys.argv[1])
        listed = time.perf_counter()
        await client.aclose()
        out[which + "_client_ms"] = (built - start) * 1000
        out[which + "_list_ms"] = (listed - built) * 1000
        out["tags"] = len(tags)
    print(json.dumps(out))

asyncio.run(main())
"""


async def scan_new_clients(image: str, runs: int) -> list[float]:
    """Build a client, scan, close: the whole cost, ``runs`` times (after one warm-up)."""
    from gitferry.registry.client import RegistryClient

    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        async with RegistryClient(insecure=True, page_size=PAGE_SIZE) as client:
            await client.list_tags(image)
        times.append((time.perf_counter() - start) * 1000)
    return times[1:]


async def scan_one_client(image: str, runs: int, expected: int) -> list[float]:
    """How a reconciler scans: one long-lived client, connections kept between scans."""
    from gitferry.registry.client import RegistryClient

    times = []
    async with RegistryClient(insecure=True, page_size=PAGE_SIZE) as client:
        for _ in range(runs + 1):
            start = time.perf_counter()
            count = len(await client.list_tags(image))
            times.append((time.perf_counter() - start) * 1000)
            if count != expected:
                raise SystemExit(f"list_tags returned {count} tags, expected {expected}")
    return times[1:]


async def counted_scan(image: str) -> tuple[int, list[str]]:
    from gitferry.registry.client import RegistryClient

    transport = CountingTransport()
    async with RegistryClient(insecure=True, page_size=PAGE_SIZE, transport=transport) as client:
        count = len(await client.list_tags(image))
    return count, transport.urls


def scan_with_skopeo(image: str, runs: int, expected: int) -> list[float]:
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(
            ["skopeo", "list-tags", "--tls-verify=false", f"docker://{image}"], capture_output=True, check=True
        )
        times.append((time.perf_counter() - start) * 1000)
        if len(json.loads(done.stdout)["Tags"]) != expected:
            raise SystemExit("skopeo listed a different number of tags")
    return times[1:]


def scan_in_fresh_process(image: str, runs: int) -> tuple[list[float], list[dict[str, float]]]:
    """Wall time of a new interpreter doing two scans, and the times it measured inside."""
    walls, inside = [], []
    for _ in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", COLD_SCAN, image, str(PAGE_SIZE)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        walls.append((time.perf_counter() - start) * 1000)
        inside.append(json.loads(done.stdout))
    return walls[1:], inside[1:]


def probe_paging(base_url: str, repository: str) -> str:
    """What one request with n=PAGE_SIZE gets back: the registry's own paging, or none."""
    answer = httpx.get(f"{base_url}/v2/{repository}/tags/list", params={"n": PAGE_SIZE}, timeout=30)
    answer.raise_for_status()
    listed = len(answer.json()["tags"])
    link = answer.headers.get("Link")
    if listed > PAGE_SIZE:
        return f"a GET with n={PAGE_SIZE} returned {listed} tags and Link {link!r}: this registry ignores n= (one page)"
    return f"a GET with n={PAGE_SIZE} returned {listed} tags and Link {link!r}: this registry pages"


def run_scan(args: argparse.Namespace, workdir: Path) -> None:
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (apt-get install skopeo), or use --skip-scan")
    sys.path.insert(0, str(REPO))  # tests/registry.py: the loopback registry the tests use
    from tests.registry import add_tags, serve_registry, upload_tiny_image

    runs = args.scan_runs
    with serve_registry(workdir / "registry") as registry:
        started = time.perf_counter()
        upload_tiny_image(registry, REPOSITORY, "0.0.0")
        add_tags(registry, REPOSITORY, "0.0.0", [f"1.{i // 100}.{i % 100}" for i in range(args.scan_tags - 1)])
        image = registry.image(REPOSITORY)
        print(
            f"part 2: scan of {image} ({args.scan_tags} tags, filled in {time.perf_counter() - started:.1f}s), "
            f"page size {PAGE_SIZE}; one warm-up, then median of {runs}"
        )
        print(f"  {probe_paging(registry.base_url, REPOSITORY)}")
        count, urls = asyncio.run(counted_scan(image))
        if count != args.scan_tags:
            raise SystemExit(f"list_tags returned {count} tags, expected {args.scan_tags}")
        print(f"  gitferry list_tags made {len(urls)} request(s) for {count} tags: {', '.join(urls[:3])}")
        print()

        new_clients = asyncio.run(scan_new_clients(image, runs))
        one_client = asyncio.run(scan_one_client(image, runs, args.scan_tags))
        skopeo = scan_with_skopeo(image, runs, args.scan_tags)
        cold = None if args.cold_runs <= 0 else scan_in_fresh_process(image, args.cold_runs)

    floor = statistics.median(skopeo)
    rows = []
    for label, times in [
        ("gitferry list_tags, new client per scan", new_clients),
        ("gitferry list_tags, one client reused", one_client),
        ("skopeo list-tags, process per scan (floor)", skopeo),
        *([("gitferry in a fresh python process (wall)", cold[0])] if cold else []),
    ]:
        median = statistics.median(times)
        rows.append([label, f"{median:.1f}", f"{min(times):.1f}", f"{max(times):.1f}", f"{floor / median:.1f}x"])
    print_table(["scan", "median ms", "min ms", "max ms", "skopeo / this"], rows)

    if cold:
        walls, inside = cold
        print()
        print(f"fresh python process (python -c, median of {len(walls)} after one warm-up), measured inside it:")
        parts = [
            ("python start and exit, asyncio.run (wall - the rest)", None),
            ("import gitferry.registry.client (and httpx)", "import_ms"),
            ("first RegistryClient() (builds the TLS context)", "first_client_ms"),
            ("first list_tags (new connection)", "first_list_ms"),
            ("second RegistryClient() (TLS context cached)", "second_client_ms"),
            ("second list_tags (new client, new connection)", "second_list_ms"),
        ]
        inside_total = statistics.median(sum(v for k, v in d.items() if k.endswith("_ms")) for d in inside)
        cold_rows = []
        for label, key in parts:
            if key is None:
                value = statistics.median(walls) - inside_total
            else:
                value = statistics.median(d[key] for d in inside)
            cold_rows.append([label, f"{value:.1f}"])
        print_table(["step", "median ms"], cold_rows)


# ---------------------------------------------------------------------------------------------


def row(cells: Sequence[str], widths: Sequence[int], left: frozenset[int]) -> str:
    return "  ".join(
        c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (0,)) -> None:
    """Columns in ``left`` (labels, tags) are left-aligned, the rest (numbers) right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(row(header, widths, frozenset(left)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(row(r, widths, frozenset(left)))


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ImagePolicy selection time and registry tag-scan time (issue 3).")
    parser.add_argument("--tags", type=int, default=10000, help="tags per list for the policies (10000)")
    parser.add_argument("--runs", type=int, default=21, help="timed select() calls per policy (21)")
    parser.add_argument("--scan-tags", type=int, default=2000, help="tags in the registry repository (2000)")
    parser.add_argument("--scan-runs", type=int, default=5, help="timed scans of each kind (5)")
    parser.add_argument("--cold-runs", type=int, default=5, help="scans in a fresh python process, 0 to skip (5)")
    parser.add_argument("--skip-scan", action="store_true", help="only the policies: no registry, no skopeo")
    args = parser.parse_args(argv)

    print(
        f"gitferry image automation benchmark; {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    run_policies(args)
    if args.skip_scan:
        return 0
    print()
    workdir = Path(tempfile.mkdtemp(prefix="gitferry-bench-images-"))
    try:
        run_scan(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"cleaned up {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
