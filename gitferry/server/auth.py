"""Who is asking, and what they may do.

A request carries its token as ``Authorization: Bearer <token>`` (the API) or in the session
cookie the login page sets (the web pages: HttpOnly, SameSite=Strict, so another site can neither
read it nor send it). Viewers read; admins also act. Every outcome other than success is an
``AuthError``: 401 for no token or a wrong one, 403 for a viewer who tries to act or a cross-site
form post.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request

from gitferry.api.keys import now, timestamp
from gitferry.api.tokens import Role
from gitferry.store.sqlite import Store
from gitferry.store.tokens import Tokens

COOKIE = "gitferry_session"
# 'last used' is kept to the minute: a write per request would also move the store's change mark,
# which the live pages and the list cache follow.
TOUCH_EVERY = timedelta(minutes=1)
_BEARER = "bearer "


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    def __str__(self) -> str:
        return f"token '{self.name}' ({self.role})"


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _presented(request: Request) -> tuple[str, bool]:
    """The token in the request and whether it came from the cookie ('' when none)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith(_BEARER):
        return header[len(_BEARER) :].strip(), False
    return request.cookies.get(COOKIE, ""), True


def _same_origin(request: Request) -> bool:
    """A browser says where a form post came from; a post from another site is refused."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def authenticate(store: Store, request: Request, *, act: bool = False) -> Principal:
    """The principal behind ``request``; ``act`` asks for the admin role."""
    value, from_cookie = _presented(request)
    # Verified even when empty, so a missing token costs what a wrong one does.
    record = Tokens(store).verify(value)
    if record is None:
        what = "no token" if not value else "this token is not valid (revoked, or never created here)"
        raise AuthError(401, f"{what}: send 'Authorization: Bearer <token>' from 'gitferry token create'")
    if record.last_used < timestamp(now() - TOUCH_EVERY):
        Tokens(store).touch(record.name)
    principal = Principal(record.name, record.role)
    if act:
        if not record.role.can_act:
            raise AuthError(403, f"{principal} may only read: actions need an admin token")
        if from_cookie and not _same_origin(request):
            raise AuthError(403, "refused: the form was posted from another site")
    return principal


def requires(store: Store, *, act: bool = False) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: any valid token, or with ``act`` an admin token (and, from a browser, a
    same-site post). A coroutine, so FastAPI runs it on the loop, where the store is used, and not in
    its thread pool (one SQLite connection shared by threads breaks transactions)."""

    async def dependency(request: Request) -> Principal:
        return authenticate(store, request, act=act)

    return dependency
