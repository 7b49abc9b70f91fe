"""Whether a webhook request may trigger its Receiver: each sender type's check, as Flux makes it.

Pure: headers (any case) and the raw body in, a verdict out. Digests are compared in constant
time, so an answer's timing says nothing about how much of a signature was right.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from gitferry.api.receivers import Receiver

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class Verdict:
    """``status`` is the HTTP answer: 200 (``trigger`` says whether anything runs) or 401."""

    status: int
    message: str
    event: str | None = None
    trigger: bool = False


def _denied(message: str) -> Verdict:
    return Verdict(401, message)


def _signed(header: str, name: str, token: str, body: bytes) -> Verdict | None:
    """None when ``header`` (``algo=hexdigest``) is the HMAC of ``body`` with ``token``, else why not."""
    algorithm, _, digest = header.partition("=")
    make = _ALGORITHMS.get(algorithm.lower())
    if make is None or not digest:
        return _denied(f"{name} must be sha1=, sha256= or sha512= and a hex digest")
    expected = hmac.new(token.encode(), body, make).hexdigest()
    if not hmac.compare_digest(expected, digest.lower()):
        return _denied(f"{name} does not match the body signed with the Receiver's token")
    return None


def check(receiver: Receiver, token: str, headers: Mapping[str, str], body: bytes) -> Verdict:
    """Verify a request to ``receiver`` (whose path already matched) and decide whether it triggers."""
    lower = {k.lower(): v for k, v in headers.items()}
    kind = receiver.spec.type
    event: str | None = None
    if kind == "generic-hmac":
        header = lower.get("x-signature")
        problem = _signed(header, "X-Signature", token, body) if header else _denied("no X-Signature header")
    elif kind == "github":
        event = lower.get("x-github-event")
        if "x-hub-signature-256" in lower:
            problem = _signed(lower["x-hub-signature-256"], "X-Hub-Signature-256", token, body)
        elif "x-hub-signature" in lower:
            problem = _signed(lower["x-hub-signature"], "X-Hub-Signature", token, body)
        else:
            problem = _denied("no X-Hub-Signature-256 header (set the webhook's secret to the Receiver's token)")
    elif kind == "gitlab":
        event = lower.get("x-gitlab-event")
        given = lower.get("x-gitlab-token")
        if given is None:
            problem = _denied("no X-Gitlab-Token header (set the webhook's secret token to the Receiver's token)")
        elif not hmac.compare_digest(given.encode(), token.encode()):
            problem = _denied("X-Gitlab-Token is not the Receiver's token")
        else:
            problem = None
    else:  # generic: knowing the path, which holds the token's digest, is the check
        problem = None
    if problem is not None:
        return problem
    if not receiver.handles(event):
        return Verdict(200, f"event {event!r} is not in spec.events {receiver.spec.events}: ignored", event)
    return Verdict(200, f"{event or 'generic'} event accepted", event, trigger=True)
