"""Reconcile an ImageRepository: list the registry's tags, drop the excluded ones, store them.

Policies read the stored tags, so one scan serves every policy of the repository. A registry
that is down, refuses the credentials or answers garbage fails the scan and nothing else: the
tags of the last good scan stay in the store and the policies keep their latest image.
"""

from __future__ import annotations

import re
from typing import Any

from gitferry.api.images import ImageRepository, parse_image_repository
from gitferry.api.keys import timestamp
from gitferry.controllers import statuses
from gitferry.controllers.failures import report_failure
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.errors import GitferryError, InvalidObjectError, RegistryError
from gitferry.images import gosyntax
from gitferry.registry import RegistryClient, parse_image
from gitferry.store.sqlite import StoredObject

KIND = "ImageRepository"
SCAN_FAILED = "ScanFailed"  # not a Flux reason name: Flux says ReconciliationFailed with the error
# Flux shows this many of the newest tags (reverse string order) in status.lastScanResult.
LATEST_TAGS_SHOWN = 10
DOCKERCONFIG_KEY = ".dockerconfigjson"


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    key, old, generation = stored.key, world.store.get_status(stored.key), stored.generation
    try:
        repo = parse_image_repository(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        return report_failure(
            world, stored, old, e, transient_reason=SCAN_FAILED, interval=60.0, failures=failures, kept=_kept(old)
        )
    interval = repo.spec.interval_seconds
    if repo.spec.suspend or stored.suspended:
        return Outcome(requeue_after=interval, ready=statuses.ready_of(old), message="suspended")
    try:
        canonical, exclusions = _checked(repo)
        async with client_for(repo, world) as client:
            listed = await client.list_tags(repo.spec.image)
    except GitferryError as e:
        return report_failure(
            world, stored, old, e, transient_reason=SCAN_FAILED, interval=interval, failures=failures, kept=_kept(old)
        )
    tags = [tag for tag in listed if not any(p.search(tag) for p in exclusions)]
    changed = world.store.get_tags(key) != tags
    if changed:
        world.store.put_tags(key, tags)
    message = f"successful scan: found {len(tags)} tags"
    new = statuses.mark(
        old,
        ready=True,
        reason=statuses.SUCCEEDED,
        message=message,
        generation=generation,
        fields={
            "canonicalImageName": canonical,
            "observedExclusionList": list(repo.spec.exclusion_list),
            "lastScanResult": {
                "tagCount": len(tags),
                "scanTime": timestamp(),
                "latestTags": sorted(tags, reverse=True)[:LATEST_TAGS_SHOWN],
            },
        },
    )
    world.store.put_status(key, new)
    if changed or statuses.ready_of(old) is not True:
        world.store.add_event(key, "Normal", statuses.SUCCEEDED, message)
    # Policies run again when there is something new for them: other tags, or a repository back from failing.
    return Outcome(
        requeue_after=interval,
        ready=True,
        message=message,
        new_artifact=changed or statuses.ready_of(old) is not True,
    )


def _checked(repo: ImageRepository) -> tuple[str, list[re.Pattern[str]]]:
    """The canonical image name and the compiled exclusion list; InvalidObjectError quotes a bad value."""
    try:
        canonical = str(parse_image(repo.spec.image))
    except RegistryError as e:
        raise InvalidObjectError(f"field spec.image: {e}") from e
    unsupported = repo.unsupported_fields()
    if unsupported:
        raise InvalidObjectError(f"not supported yet: {', '.join(unsupported)}")
    patterns = []
    for index, text in enumerate(repo.spec.exclusion_list):
        try:
            patterns.append(gosyntax.compile_pattern(text))
        except ValueError as e:
            raise InvalidObjectError(
                f"field spec.exclusionList[{index}]: '{text}' is not a valid regular expression: {e}"
            ) from e
    return canonical, patterns


def client_for(repo: ImageRepository, world: World) -> RegistryClient:
    """A client with the repository's credentials, transport security and timeout."""
    return RegistryClient(
        dockerconfig_json=_dockerconfig(repo, world),
        secret_name=repo.spec.secret_ref.name if repo.spec.secret_ref else None,
        insecure=repo.spec.insecure,
        timeout=repo.spec.timeout_seconds,
    )


def _dockerconfig(repo: ImageRepository, world: World) -> str | None:
    ref = repo.spec.secret_ref
    if ref is None:
        return None
    namespace = repo.metadata.namespace
    data = world.lookup_data("Secret", namespace, ref.name)
    if data is None:
        raise RegistryError(f"field spec.secretRef.name: Secret '{namespace}/{ref.name}' not found")
    if DOCKERCONFIG_KEY not in data:
        raise InvalidObjectError(
            f"field spec.secretRef.name: Secret '{namespace}/{ref.name}' has no '{DOCKERCONFIG_KEY}' key"
            " (a Secret of type kubernetes.io/dockerconfigjson holds it)"
        )
    return data[DOCKERCONFIG_KEY]


def _kept(old: dict[str, Any]) -> str:
    scanned = (old.get("lastScanResult") or {}).get("scanTime")
    return f"policies keep the tags of the last good scan at {scanned}" if scanned else ""
