"""One asyncio loop running every object's reconcile: serial per object, parallel across objects.

Scheduling rules, all with an injectable clock:
- each object comes back after its interval (or retryInterval / back-off on failure);
- a source with something new (a GitRepository's artifact, an ImageRepository's tags) wakes the
  objects that read it at once, and they wait while it is fetching;
- a Kustomization that becomes Ready wakes the ones that depend on it;
- a reconcile can wake other objects by name (an applied child, the automations of a policy);
- a request (``gitferry reconcile``) runs the object at once and answers when it is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gitferry.api.keys import ObjectKey
from gitferry.controllers import (
    gitrepository,
    imagepolicy,
    imagerepository,
    imageupdate,
    kustomization,
    receiver,
    repository,
)
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.store.sqlite import StoredObject

log = logging.getLogger("gitferry.reactor")

Reconciler = Callable[..., Awaitable[Outcome]]
RECONCILERS: dict[str, Reconciler] = {
    "GitRepository": gitrepository.reconcile,
    "Kustomization": kustomization.reconcile,
    "ImageRepository": imagerepository.reconcile,
    "ImagePolicy": imagepolicy.reconcile,
    "ImageUpdateAutomation": imageupdate.reconcile,
    "Repository": repository.reconcile,
    "Receiver": receiver.reconcile,
}
# Sources run before the objects that read them when both are due.
KIND_ORDER = {"GitRepository": 0, "ImageRepository": 0, "Repository": 0, "Kustomization": 1, "ImagePolicy": 1}
SourceOf = Callable[[StoredObject], ObjectKey | None]
# The source each kind reads: its readers run when it has something new, and wait while it runs.
SOURCE_OF: dict[str, SourceOf] = {"Kustomization": kustomization.source_of, "ImagePolicy": imagepolicy.source_of}
SOURCE_KINDS = frozenset({"GitRepository", "ImageRepository"})


def source_of(stored: StoredObject) -> ObjectKey | None:
    read = SOURCE_OF.get(stored.key.kind)
    return read(stored) if read is not None else None


@dataclass
class _State:
    due: float
    failures: int = 0
    running: bool = False
    again: bool = False
    waiters: list[asyncio.Future[Outcome]] = field(default_factory=list)
    last: Outcome | None = None


class Reactor:
    def __init__(self, world: World, *, concurrency: int = 4, idle_start: bool = False) -> None:
        """``idle_start``: objects wait for a request instead of running at once (one-shot CLI use)."""
        self.world = world
        world.wake = self.nudge
        self._idle_start = idle_start
        self.states: dict[ObjectKey, _State] = {}
        self._objects: dict[ObjectKey, StoredObject] = {}
        self._readers: dict[ObjectKey, list[ObjectKey]] = {}
        self._dependants: dict[ObjectKey, list[ObjectKey]] = {}
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.reconciles = 0

    # what the outside calls

    def request(self, key: ObjectKey) -> asyncio.Future[Outcome]:
        """Reconcile ``key`` now (or right after the run in progress); the future holds the outcome."""
        if key not in self.states:
            self.refresh()
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        state = self.states.get(key)
        if state is None:
            future.set_exception(KeyError(f"{key} not found"))
            return future
        state.waiters.append(future)
        self._make_due(key)
        return future

    def nudge(self, key: ObjectKey) -> bool:
        """Reconcile ``key`` soon, without waiting for it (a webhook); False when there is no such object."""
        if key not in self.states:
            self.refresh()
        if key not in self.states:
            return False
        self._make_due(key)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        self.refresh()
        while not stop.is_set():
            await self._finalize_deleted()
            self._dispatch_due()
            timeout = self._seconds_to_next()
            self._wake.clear()
            stop_wait = asyncio.ensure_future(stop.wait())
            wake_wait = asyncio.ensure_future(self._wake.wait())
            sleep = asyncio.ensure_future(self.world.clock.sleep(timeout))
            await asyncio.wait({stop_wait, wake_wait, sleep}, return_when=asyncio.FIRST_COMPLETED)
            for pending in (stop_wait, wake_wait, sleep):
                pending.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_until_idle(self, max_rounds: int = 100) -> None:
        """Run everything due now and everything it wakes, then return (one-shot CLI use and tests)."""
        self.refresh()
        for _ in range(max_rounds):
            await self._finalize_deleted()
            started = self._dispatch_due()
            if not started and not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # scheduling

    def refresh(self) -> None:
        """Pick up objects added to or removed from the store (by bootstrap or by an apply)."""
        now = self.world.clock.monotonic()
        current = {s.key: s for s in self.world.store.list_objects(include_deleted=True) if s.key.kind in RECONCILERS}
        for key in current:
            if key not in self.states:
                self.states[key] = _State(due=float("inf") if self._idle_start else now)
        for key in list(self.states):
            if key not in current and not self.states[key].running:
                del self.states[key]
        self._objects = current
        # Reverse indexes, so waking the readers of a source or the dependants of a Kustomization
        # does not scan every object after every reconcile.
        self._readers, self._dependants = {}, {}
        for stored in current.values():
            source = source_of(stored)
            if source is not None:
                self._readers.setdefault(source, []).append(stored.key)
            for dependency in kustomization.dependencies_of(stored) if stored.key.kind == "Kustomization" else []:
                self._dependants.setdefault(dependency, []).append(stored.key)

    def _make_due(self, key: ObjectKey) -> None:
        state = self.states.get(key)
        if state is None:
            return
        if state.running:
            state.again = True
        else:
            state.due = min(state.due, self.world.clock.monotonic())
        self._wake.set()

    def _seconds_to_next(self) -> float:
        now = self.world.clock.monotonic()
        waiting = [s.due for s in self.states.values() if not s.running]
        return min(3600.0, max(0.0, min(waiting) - now)) if waiting else 3600.0

    def _dispatch_due(self) -> int:
        now = self.world.clock.monotonic()
        due = [k for k, s in self.states.items() if not s.running and s.due <= now and not self._objects[k].deleted]
        # A reader waits while its source is fetching, so it reads the new artifact, not the old.
        fetching = {k for k, s in self.states.items() if k.kind in SOURCE_KINDS and (s.running or k in due)}
        due = [k for k in due if source_of(self._objects[k]) not in fetching]
        due.sort(key=lambda k: (KIND_ORDER.get(k.kind, 9), k))
        for key in due:
            state = self.states[key]
            state.running = True
            task = asyncio.ensure_future(self._reconcile(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(due)

    async def _reconcile(self, key: ObjectKey) -> None:
        state = self.states[key]
        async with self._limit:
            stored = self.world.store.get_object(key)
            try:
                if stored is None or stored.deleted:
                    outcome = Outcome(requeue_after=3600.0, ready=None, message="deleted")
                else:
                    outcome = await RECONCILERS[key.kind](stored, self.world, failures=state.failures)
            except Exception as e:  # a bug, not a user error: keep the loop alive and say where
                log.exception("%s: reconcile crashed", key)
                outcome = Outcome(requeue_after=30.0, ready=False, message=f"internal error: {e}")
        self.reconciles += 1
        state.failures = 0 if outcome.ready is not False else state.failures + 1
        state.last = outcome
        state.running = False
        state.due = self.world.clock.monotonic() + outcome.requeue_after
        for future in state.waiters:
            if not future.done():
                future.set_result(outcome)
        state.waiters.clear()
        if state.again:
            state.again = False
            state.due = self.world.clock.monotonic()
        self._after(key, outcome)
        self._wake.set()

    def _after(self, key: ObjectKey, outcome: Outcome) -> None:
        if outcome.wake:
            self.refresh()
            for changed in outcome.wake:
                self._make_due(changed)
        if outcome.new_artifact:
            for reader in self._readers.get(key, []):
                self._make_due(reader)
        # A Kustomization that applied: the ones waiting on it (dependsOn) try again now.
        if outcome.ready is True:
            for dependant in self._dependants.get(key, []):
                waiting = self.states.get(dependant)
                if waiting is not None and waiting.last is not None and waiting.last.ready is not True:
                    self._make_due(dependant)

    async def _finalize_deleted(self) -> None:
        for key, stored in list(self._objects.items()):
            state = self.states.get(key)
            if not stored.deleted or (state is not None and state.running):
                continue
            if key.kind == "Kustomization":
                await kustomization.finalize(stored, self.world)
            else:
                self.world.store.remove_object(key)
            log.info("%s removed from Git: finalized", key)
            self.states.pop(key, None)
            self._objects.pop(key, None)
            self.refresh()
