"""API tokens: what a token is, how it is made and how it is kept. Pure (no I/O).

A token is 32 random bytes, printed once; only its SHA-256 is stored. A slow password hash buys
nothing for 256 random bits and would make every request slow, so a plain digest it is (as
GitHub and GitLab store their personal access tokens).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from enum import StrEnum

PREFIX = "gf_"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$")


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything but Secrets' values
    ADMIN = "admin"  # and acts: reconcile, suspend, resume, cancel a run

    @property
    def can_act(self) -> bool:
        return self is Role.ADMIN


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """A token's name is who acted in the audit trail: short, plain, and unique."""
    if not _NAME.match(name):
        raise ValueError(
            f"token name {name!r}: use 1-63 lower-case letters, digits, '-', '_' or '.',"
            " starting and ending with a letter or digit"
        )
    return name
