"""An in-memory Target twin that records what it is asked to do: for tests of the layers above.

It behaves like the podman target where the callers can see it: the same kinds are skipped and
the same unknown kinds raise, objects belong to the owner that applied them, ``unchanged`` means
the object is identical to the one applied before, prune only removes what the owner applied,
and absent objects are ``NotFound``. It starts nothing, so a benchmark can drive thousands of
objects through it. Objects are stored as canonical JSON: callers may mutate what they passed.

Drift and failures are injected by hand: ``delete`` removes an object as if someone had deleted
it, ``set_health`` overrides a health verdict, and every key in ``fail_on`` makes apply raise
(after applying the objects before it, as a real target does).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource
from gitferry.errors import CommandError, GitferryError
from gitferry.targets import podman_ignored, podman_translate
from gitferry.targets.base import Applied, ApplyOptions, Health, HealthStatus, Owner


class RecordingTarget:
    name = "memory"

    def __init__(self, *, fail_on: Iterable[ObjectKey] = (), failure: type[GitferryError] = CommandError) -> None:
        self.fail_on: set[ObjectKey] = set(fail_on)
        self.failure = failure
        self.calls: Counter[str] = Counter()
        self.applied: dict[ObjectKey, str] = {}  # canonical JSON of what runs
        self.owners: dict[ObjectKey, Owner] = {}
        self.health_overrides: dict[ObjectKey, Health] = {}
        self.last_applied: dict[Owner, list[Applied]] = {}

    def unsupported_reason(self, obj: Resource) -> str | None:
        return podman_translate.unsupported_reason(obj)

    async def apply(self, owner: Owner, objects: Sequence[Resource], options: ApplyOptions) -> list[Applied]:
        self.calls["apply"] += 1
        results: list[Applied] = []
        for obj in objects:
            key = ObjectKey.of(obj)
            reason = podman_translate.unsupported_reason(obj)  # raises for unknown kinds, as podman does
            if reason is not None:
                results.append(Applied(key, "skipped", reason))
                continue
            if key in self.fail_on:
                self.calls["apply.failed"] += 1
                self.last_applied[owner] = results
                raise self.failure(f"{key}: injected failure")
            other = self.owners.get(key)
            if other is not None and other != owner:
                raise self.failure(f"{key} is already applied by {other}, not {owner}")
            text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
            before = self.applied.get(key)
            ignored = podman_ignored.ignored_fields(obj) if obj.get("kind") in ("Pod", "Deployment") else []
            detail = "podman ignores " + ", ".join(ignored) if ignored else ""
            if before == text and not options.force:
                results.append(Applied(key, "unchanged", detail))
                continue
            self.applied[key], self.owners[key] = text, owner
            self.calls["apply.write"] += 1
            results.append(Applied(key, "created" if before is None else "configured", detail))
        self.last_applied[owner] = results
        return results

    async def prune(self, owner: Owner, keys: Sequence[ObjectKey]) -> list[ObjectKey]:
        self.calls["prune"] += 1
        removed = [key for key in keys if self.owners.get(key) == owner]
        for key in removed:
            del self.applied[key], self.owners[key]
        return removed

    async def preview(self, owner: Owner, objects: Sequence[Resource]) -> dict[ObjectKey, Resource]:
        return {}  # no dry-run here: diff compares the fields Git sets with what runs

    async def live(self, owner: Owner, keys: Sequence[ObjectKey]) -> dict[ObjectKey, Resource | None]:
        self.calls["live"] += 1
        return {key: self.get(key) if self.owners.get(key) == owner else None for key in keys}

    async def health(self, owner: Owner, keys: Sequence[ObjectKey]) -> list[Health]:
        self.calls["health"] += 1
        out = []
        for key in keys:
            if key in self.health_overrides:
                out.append(self.health_overrides[key])
            elif key in self.applied or key.kind in podman_translate.SKIPPED_KINDS:
                out.append(Health(key, "Current"))
            else:
                out.append(Health(key, "NotFound", f"{key} has not been applied"))
        return out

    def get(self, key: ObjectKey) -> Resource | None:
        """A copy of the object as applied, or None."""
        text = self.applied.get(key)
        return None if text is None else dict(json.loads(text))

    def delete(self, key: ObjectKey) -> None:
        """Remove an object behind gitferry's back (drift): the next apply creates it again."""
        self.applied.pop(key, None)
        self.owners.pop(key, None)

    def set_health(self, key: ObjectKey, status: HealthStatus, message: str = "") -> None:
        self.health_overrides[key] = Health(key, status, message)

    def clear_health(self, key: ObjectKey) -> None:
        self.health_overrides.pop(key, None)
