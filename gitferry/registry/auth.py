"""Registry authentication: credentials from a dockerconfigjson, challenges, the bearer-token flow.

The flow is a pure generator (``RegistryAuth.auth_flow``) in httpx's ``Auth`` shape: it yields
requests and receives responses, so tests drive it by hand with made-up responses and httpx
drives it over the network. No I/O happens here.

The bearer flow is the one the distribution spec's token authentication describes: a 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...``, a GET of the realm with service and
scope (and basic credentials, when there are any), then the original request again with
``Authorization: Bearer <token>``. Tokens are cached per scope until shortly before they expire.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from gitferry.errors import RegistryError
from gitferry.registry.references import DOCKER_HUB_ALIASES

# The spec's default when a token response does not say how long it lives.
DEFAULT_TOKEN_SECONDS = 60.0
# Renew this long before expiry, so a token does not lapse between the cache check and its use.
EXPIRY_MARGIN_SECONDS = 5.0

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)')
_REPOSITORY_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:tags/list|manifests/[^/]+|blobs/[^/]+)$")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic_header(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge: the scheme in lower case and its parameters."""

    scheme: str
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``).

    Returns None for an empty or unreadable header. Only the first challenge is read: registries
    send one, and a second scheme would begin with a token that is not ``name=value``.
    """
    scheme, _, rest = header.strip().partition(" ")
    if not scheme or "=" in scheme:
        return None
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None:
            break
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        position = match.end()
    return Challenge(scheme.lower(), params)


def scope_for(path: str) -> str | None:
    """The pull scope a request path needs: ``/v2/team/app/tags/list`` -> ``repository:team/app:pull``."""
    match = _REPOSITORY_PATH.match(path)
    return f"repository:{match.group('name')}:pull" if match else None


def normalize_host(key: str) -> str:
    """Reduce a dockerconfigjson key or a registry host to the form Docker compares them in.

    ``docker login`` writes Docker Hub under the legacy ``https://index.docker.io/v1/`` key, so
    scheme and path go, and every Docker Hub alias becomes ``docker.io``.
    """
    host = key.strip().lower()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return "docker.io" if host in DOCKER_HUB_ALIASES else host


def credentials_for(host: str, dockerconfig_json: str | bytes) -> Credentials | None:
    """The credentials a ``.dockerconfigjson`` holds for ``host``, or None when it has none.

    An entry gives either ``auth`` (base64 of ``user:password``) or ``username`` and ``password``.
    Keys match with or without a scheme or path, and Docker Hub's names are one registry.
    """
    try:
        config = json.loads(dockerconfig_json)
    except (ValueError, UnicodeDecodeError) as e:
        raise RegistryError(f"the .dockerconfigjson is not valid JSON: {e}") from e
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        raise RegistryError('the .dockerconfigjson has no "auths" object')
    wanted = normalize_host(host)
    # An exact key wins over one that only normalizes to the same host, as in Docker.
    entry = auths.get(host)
    if entry is None:
        entry = next((value for key, value in auths.items() if normalize_host(key) == wanted), None)
    return None if entry is None else _entry_credentials(host, entry)


def _entry_credentials(host: str, entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        raise RegistryError(f"the .dockerconfigjson entry for {host} is not an object")
    if entry.get("auth"):
        try:
            pair = base64.b64decode(str(entry["auth"]), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as e:
            raise RegistryError(f'the .dockerconfigjson "auth" for {host} is not base64 of user:password') from e
        username, colon, password = pair.partition(":")
        if not colon:
            raise RegistryError(f'the .dockerconfigjson "auth" for {host} has no ":" between user and password')
        return Credentials(username, password)
    if entry.get("username") is not None:
        return Credentials(str(entry["username"]), str(entry.get("password") or ""))
    return None


def token_from_response(realm: str, response: httpx.Response) -> tuple[str, float]:
    """Read ``token`` (or the OAuth2 ``access_token``) and its lifetime from a token response."""
    try:
        body = response.json()
    except ValueError as e:
        raise RegistryError(f"the token service {realm} sent a body that is not JSON") from e
    token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"the token service {realm} sent no token")
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else DEFAULT_TOKEN_SECONDS
    return token, lifetime


class RegistryAuth(httpx.Auth):
    """Authenticates requests to one registry host: anonymous, basic or bearer, as it asks."""

    requires_response_body = True  # the token response must be read inside the flow

    def __init__(self, credentials: Credentials | None, clock: Callable[[], float]) -> None:
        self._credentials = credentials
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expires at)
        self._basic_asked = False  # once the registry asked for basic, send it up front

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        scope = scope_for(request.url.path) or ""
        self._authorize(request, scope)
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            if self._credentials is None or "Authorization" in request.headers:
                return  # nothing to offer, or the credentials were already refused
            self._basic_asked = True
            request.headers["Authorization"] = self._credentials.basic_header()
            yield request
        elif challenge.scheme == "bearer" and challenge.params.get("realm"):
            realm = challenge.params["realm"]
            token_response = yield self._token_request(realm, challenge, scope)
            if token_response.status_code != 200:
                return  # the caller sees the token service's refusal and reports it
            token, lifetime = token_from_response(realm, token_response)
            self._tokens[scope] = (token, self._clock() + lifetime - EXPIRY_MARGIN_SECONDS)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _authorize(self, request: httpx.Request, scope: str) -> None:
        cached = self._tokens.get(scope)
        if cached is not None and cached[1] > self._clock():
            request.headers["Authorization"] = f"Bearer {cached[0]}"
        elif self._basic_asked and self._credentials is not None:
            request.headers["Authorization"] = self._credentials.basic_header()

    def _token_request(self, realm: str, challenge: Challenge, scope: str) -> httpx.Request:
        params = {"service": challenge.params.get("service", "")}
        # The challenge's scope is what the registry wants; ours is the fallback when it omits it.
        wanted_scope = challenge.params.get("scope") or scope
        if wanted_scope:
            params["scope"] = wanted_scope
        headers = {"Authorization": self._credentials.basic_header()} if self._credentials else {}
        return httpx.Request("GET", httpx.URL(realm).copy_merge_params(params), headers=headers)
