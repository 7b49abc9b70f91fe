"""Reconcile a Flux ``Receiver``: read its token and publish its webhook path in status.

The requests themselves are answered by ``gitferry up``'s HTTP server (``gitferry/server/``); it
reads the token again on each request through ``token_of``, so a rotated token works as soon as it
is stored, and a Receiver whose Secret is missing answers nothing.
"""

from __future__ import annotations

from gitferry.api.meta import parse_duration
from gitferry.api.receivers import TOKEN_KEY, Receiver, parse_receiver, webhook_path
from gitferry.controllers import statuses
from gitferry.controllers.failures import report_failure
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World, lookup_data
from gitferry.errors import DependencyNotReadyError, GitferryError, InvalidObjectError
from gitferry.store.sqlite import Store, StoredObject

KIND = "Receiver"
DEFAULT_INTERVAL_SECONDS = 600.0  # Flux's default: how often the Secret is read again
TOKEN_MISSING = "TokenNotFound"


def token_of(receiver: Receiver, store: Store) -> str:
    """The token in the Receiver's Secret; DependencyNotReadyError naming the Secret and key."""
    name = receiver.spec.secret_ref.name
    data = lookup_data(store, "Secret", receiver.metadata.namespace, name)
    where = f"Secret {receiver.metadata.namespace}/{name} (spec.secretRef)"
    if data is None:
        raise DependencyNotReadyError(
            f"{where} not found; create it with 'gitferry create secret receiver {name} --token-env VAR'"
        )
    token = data.get(TOKEN_KEY, "")
    if not token:
        raise DependencyNotReadyError(f"{where} has no '{TOKEN_KEY}' key")
    return token


def receivers(store: Store) -> list[Receiver]:
    """Every valid, stored Receiver (an invalid one is reported by its own reconcile)."""
    out = []
    for stored in store.list_objects(KIND):
        try:
            out.append(parse_receiver(stored.manifest, stored.origin))
        except InvalidObjectError:
            continue
    return out


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    old = world.store.get_status(stored.key)
    try:
        receiver = parse_receiver(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        return report_failure(
            world, stored, old, e, transient_reason=TOKEN_MISSING, interval=DEFAULT_INTERVAL_SECONDS, failures=failures
        )
    interval = parse_duration(receiver.spec.interval) if receiver.spec.interval else DEFAULT_INTERVAL_SECONDS
    if stored.suspended or receiver.spec.suspend:
        return Outcome(requeue_after=interval, ready=statuses.ready_of(old), message="suspended")
    try:
        token = token_of(receiver, world.store)
    except GitferryError as e:
        return report_failure(
            world, stored, old, e, transient_reason=TOKEN_MISSING, interval=interval, failures=failures,
            fields={"webhookPath": None},
        )  # fmt: skip
    path = webhook_path(token, receiver.metadata.name, receiver.metadata.namespace)
    message = f"Receiver initialized for path: {path}"
    if world.http_address:
        message += f" (POST {world.http_address}{path})"
    new = statuses.mark(
        old, ready=True, reason=statuses.SUCCEEDED, message=message, generation=stored.generation,
        fields={"webhookPath": path},
    )  # fmt: skip
    if not statuses.same_apart_from_times(old, new):
        world.store.put_status(stored.key, new)
    return Outcome(requeue_after=interval, ready=True, message=message)
