"""The registry client: pure parsing and auth flow by tables, the HTTP paths against a real registry.

The real registry is Debian's docker-registry (CNCF Distribution 2.8) on 127.0.0.1, see
tests/registry.py. It ignores ``n=`` on tag lists (pagination of tags came in Distribution 3),
so multi-page listing is checked with ``httpx.MockTransport`` pages shaped like the spec's;
so are the bearer-token flow, 5xx retries and garbage answers, which a local registry cannot make.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import tests.registry as local
from gitferry.clock import FakeClock
from gitferry.errors import RegistryError
from gitferry.registry import auth, client, references

Handler = Callable[[httpx.Request], httpx.Response]
T = TypeVar("T")


def run_client(handler: Handler, call: Callable[[client.RegistryClient], Awaitable[T]], **options: Any) -> T:
    """Run one client call against a MockTransport, with a fake clock so back-off takes no time."""

    async def go() -> T:
        transport = httpx.MockTransport(handler)
        async with client.RegistryClient(transport=transport, clock=FakeClock(), **options) as c:
            return await call(c)

    return asyncio.run(go())


# --- image references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "registry", "host", "name"),
    [
        ("app", "docker.io", "registry-1.docker.io", "library/app"),
        ("team/app", "docker.io", "registry-1.docker.io", "team/app"),
        ("docker.io/app", "docker.io", "registry-1.docker.io", "library/app"),
        ("index.docker.io/team/app", "docker.io", "registry-1.docker.io", "team/app"),
        ("ghcr.io/team/sub/app", "ghcr.io", "ghcr.io", "team/sub/app"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "127.0.0.1:5000", "app"),
        ("localhost/app", "localhost", "localhost", "app"),
        ("localhost:5000/a.b_c__d-e--f", "localhost:5000", "localhost:5000", "a.b_c__d-e--f"),
    ],
)
def test_parse_image(image: str, registry: str, host: str, name: str) -> None:
    ref = references.parse_image(image)
    assert (ref.registry, ref.host, ref.name) == (registry, host, name)


@pytest.mark.parametrize(
    ("image", "says"),
    [
        ("ghcr.io/team/app:1.0.0", "has a tag"),
        ("127.0.0.1:5000/app:latest", "drop ':latest'"),
        ("app@sha256:" + "a" * 64, "has a digest"),
        ("localhost:5000", "has a tag"),  # Docker reads this as image 'localhost', tag '5000'
        ("https://ghcr.io/app", "URL scheme"),
        ("ghcr.io/Team/app", "invalid path component 'Team'"),
        ("ghcr.io/team//app", "invalid path component ''"),
        ("", "empty"),
    ],
)
def test_parse_image_rejects(image: str, says: str) -> None:
    with pytest.raises(RegistryError) as caught:
        references.parse_image(image)
    assert says in str(caught.value)


@pytest.mark.parametrize("tag", ["1.0.0", "v1_rc.2-x", "sha256:" + "0" * 64])
def test_check_tag_accepts(tag: str) -> None:
    assert references.check_tag("app", tag) == tag


@pytest.mark.parametrize("tag", ["", "../../v2/x", "-lead", "a" * 129, "1.0?x=1"])
def test_check_tag_rejects(tag: str) -> None:
    with pytest.raises(RegistryError, match="not a valid tag"):
        references.check_tag("app", tag)


# --- credentials and challenges --------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DOCKERCONFIG = json.dumps(
    {
        "auths": {
            "https://index.docker.io/v1/": {"auth": _b64("hubuser:hub:pass")},
            "ghcr.io": {"username": "gh", "password": "ghpass"},
            "http://127.0.0.1:5000": {"auth": _b64("local:pw")},
        }
    }
)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("docker.io", ("hubuser", "hub:pass")),  # the password keeps its own colons
        ("registry-1.docker.io", ("hubuser", "hub:pass")),
        ("index.docker.io", ("hubuser", "hub:pass")),
        ("ghcr.io", ("gh", "ghpass")),
        ("https://ghcr.io/v2/", ("gh", "ghpass")),
        ("127.0.0.1:5000", ("local", "pw")),
        ("127.0.0.1:5001", None),
        ("quay.io", None),
    ],
)
def test_credentials_for(host: str, expected: tuple[str, str] | None) -> None:
    found = auth.credentials_for(host, DOCKERCONFIG)
    assert (None if found is None else (found.username, found.password)) == expected


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("{not json", "not valid JSON"),
        ('{"credHelpers": {}}', 'no "auths"'),
        ('{"auths": {"ghcr.io": {"auth": "%%%"}}}', "not base64"),
        ('{"auths": {"ghcr.io": {"auth": "' + _b64("nocolon") + '"}}}', 'no ":"'),
    ],
)
def test_credentials_for_rejects(config: str, says: str) -> None:
    with pytest.raises(RegistryError) as caught:
        auth.credentials_for("ghcr.io", config)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/busybox:pull"',
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/busybox:pull",
            },
        ),
        (
            'Bearer realm="https://r/t", scope="repository:a:pull,push"',
            "bearer",
            {"realm": "https://r/t", "scope": "repository:a:pull,push"},
        ),
        ('Basic realm="test"', "basic", {"realm": "test"}),
        ("basic realm=bare", "basic", {"realm": "bare"}),
        ('Bearer realm="a \\"quoted\\" realm"', "bearer", {"realm": 'a "quoted" realm'}),
        ("Bearer", "bearer", {}),
    ],
)
def test_parse_challenge(header: str, scheme: str, params: dict[str, str]) -> None:
    assert auth.parse_challenge(header) == auth.Challenge(scheme, params)


@pytest.mark.parametrize("header", ["", "   ", "realm=x"])
def test_parse_challenge_unreadable(header: str) -> None:
    assert auth.parse_challenge(header) is None


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/v2/app/tags/list", "repository:app:pull"),
        ("/v2/team/sub/app/manifests/1.0", "repository:team/sub/app:pull"),
        ("/v2/", None),
    ],
)
def test_scope_for(path: str, scope: str | None) -> None:
    assert auth.scope_for(path) == scope


CHALLENGE = 'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:app:pull"'


def test_bearer_flow_step_by_step() -> None:
    """The pure generator: challenge -> token request -> retry with the token -> token reused."""
    now = [100.0]
    flow_auth = auth.RegistryAuth(auth.Credentials("u", "p"), lambda: now[0])
    flow = flow_auth.auth_flow(httpx.Request("GET", "https://reg.example/v2/app/tags/list"))
    first = next(flow)
    assert "Authorization" not in first.headers
    token_request = flow.send(httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE}))
    assert token_request.url.host == "auth.example"
    assert dict(token_request.url.params) == {"service": "reg.example", "scope": "repository:app:pull"}
    assert token_request.headers["Authorization"] == auth.Credentials("u", "p").basic_header()
    retried = flow.send(httpx.Response(200, json={"access_token": "t1", "expires_in": 300}))
    assert retried.headers["Authorization"] == "Bearer t1"
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200))
    # The next request for the same scope carries the cached token at once...
    again = auth.RegistryAuth.auth_flow(flow_auth, httpx.Request("GET", "https://reg.example/v2/app/manifests/1"))
    assert next(again).headers["Authorization"] == "Bearer t1"
    # ...until it is about to expire.
    now[0] += 296
    late = flow_auth.auth_flow(httpx.Request("GET", "https://reg.example/v2/app/manifests/1"))
    assert "Authorization" not in next(late).headers


def test_bearer_flow_stops_when_token_service_refuses() -> None:
    flow = auth.RegistryAuth(None, lambda: 0.0).auth_flow(httpx.Request("GET", "https://reg.example/v2/app/tags/list"))
    next(flow)
    token_request = flow.send(httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE}))
    assert "Authorization" not in token_request.headers  # anonymous token
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401))


# --- MockTransport: bearer, pagination, retries, garbage ---------------------------------------


def test_bearer_token_fetched_once_for_two_calls() -> None:
    token_hits: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            token_hits.append(request)
            return httpx.Response(200, json={"token": "secret-token"})
        if request.headers.get("Authorization") != "Bearer secret-token":
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(200, json={"name": "app", "tags": ["1.0.0", "1.0.1"]})
        return httpx.Response(200, headers={"Docker-Content-Digest": "sha256:" + "b" * 64})

    async def two_calls(c: client.RegistryClient) -> tuple[list[str], str]:
        return await c.list_tags("reg.example/app"), await c.digest("reg.example/app", "1.0.1")

    config = json.dumps({"auths": {"reg.example": {"username": "u", "password": "p"}}})
    tags, digest = run_client(handler, two_calls, dockerconfig_json=config)
    assert tags == ["1.0.0", "1.0.1"]
    assert digest == "sha256:" + "b" * 64
    assert len(token_hits) == 1
    assert token_hits[0].headers["Authorization"] == auth.Credentials("u", "p").basic_header()


def test_pagination_follows_relative_and_absolute_links() -> None:
    all_tags = [f"v{i:03d}" for i in range(250)]
    seen_urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_urls.append(str(request.url))
        n = int(request.url.params["n"])
        last = request.url.params.get("last")
        start = all_tags.index(last) + 1 if last else 0
        page = all_tags[start : start + n]
        headers = {}
        if start + n < len(all_tags):
            # First page: a relative link (as Distribution sends); later: absolute, as some proxies do.
            target = f"/v2/app/tags/list?n={n}&last={page[-1]}"
            headers["Link"] = f'<{target if start == 0 else "https://reg.example" + target}>; rel="next"'
        return httpx.Response(200, json={"name": "app", "tags": page}, headers=headers)

    tags = run_client(handler, lambda c: c.list_tags("reg.example/app"), page_size=100)
    assert tags == all_tags
    assert len(seen_urls) == 3
    assert seen_urls[0] == "https://reg.example/v2/app/tags/list?n=100"


def test_pagination_loop_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"tags": ["a"]}, headers={"Link": '</v2/app/tags/list?n=1>; rel="next"'})

    with pytest.raises(RegistryError, match="loops"):
        run_client(handler, lambda c: c.list_tags("reg.example/app"), page_size=1)


def test_5xx_is_retried_with_backoff_then_reported() -> None:
    calls: list[float] = []
    clock = FakeClock(start=0.0)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(clock.now)
        return httpx.Response(503, json={"errors": [{"code": "UNAVAILABLE", "message": "try later"}]})

    async def go() -> None:
        async with client.RegistryClient(transport=httpx.MockTransport(handler), clock=clock, retries=2) as c:
            await c.list_tags("reg.example/app")

    with pytest.raises(RegistryError) as caught:
        asyncio.run(go())
    assert calls == [0.0, 0.5, 1.5]  # back-off 0.5 s, then 1 s
    message = str(caught.value)
    assert "reg.example" in message and "reg.example/app" in message and "HTTP 503" in message
    assert "3 attempts" in message and "try later" in message


def test_5xx_then_success() -> None:
    answers = iter([httpx.Response(502), httpx.Response(200, json={"tags": ["1.0.0"]})])
    assert run_client(lambda request: next(answers), lambda c: c.list_tags("reg.example/app")) == ["1.0.0"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html>proxy error</html>", "not JSON"),
        (b'{"tags": "1.0.0"}', '"tags" list'),
        (b"[1, 2]", '"tags" list'),
    ],
)
def test_garbage_tag_list(body: bytes, says: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    with pytest.raises(RegistryError) as caught:
        run_client(handler, lambda c: c.list_tags("reg.example/app"))
    assert says in str(caught.value) and "reg.example/app" in str(caught.value)


def test_garbage_token_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, content=b"not json")
        return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})

    with pytest.raises(RegistryError) as caught:
        run_client(handler, lambda c: c.list_tags("reg.example/app"))
    assert "reg.example" in str(caught.value) and "auth.example/token" in str(caught.value)


def test_digest_without_header_is_sha256_of_body() -> None:
    body = b'{"schemaVersion": 2}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"" if request.method == "HEAD" else body)

    digest = run_client(handler, lambda c: c.digest("reg.example/app", "1.0.0"))
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()


# --- the real registry ----------------------------------------------------------------------


@pytest.fixture
def open_registry(tmp_path: Path) -> Iterator[local.LocalRegistry]:
    with local.serve_registry(tmp_path / "registry") as reg:
        yield reg


@pytest.fixture
def locked_registry(tmp_path: Path) -> Iterator[local.LocalRegistry]:
    with local.serve_registry(tmp_path / "registry", username="ferry", password="s3cret") as reg:
        yield reg


def real(call: Callable[[client.RegistryClient], Awaitable[T]], **options: Any) -> T:
    """Run one client call against a real loopback registry (plain http)."""

    async def go() -> T:
        async with client.RegistryClient(insecure=True, clock=FakeClock(), **options) as c:
            return await call(c)

    return asyncio.run(go())


def test_real_list_tags_250(open_registry: local.LocalRegistry) -> None:
    local.upload_tiny_image(open_registry, "app", "1.0.0")
    wanted = [f"1.0.{i}" for i in range(1, 250)]
    local.add_tags(open_registry, "app", "1.0.0", wanted)
    tags = real(lambda c: c.list_tags(open_registry.image("app")), page_size=100)
    assert len(tags) == 250 and len(set(tags)) == 250
    assert set(tags) == {"1.0.0", *wanted}


def test_real_digest_matches_registry_header(open_registry: local.LocalRegistry) -> None:
    pushed = local.upload_tiny_image(open_registry, "team/app", "1.0.0")
    assert real(lambda c: c.digest(open_registry.image("team/app"), "1.0.0")) == pushed


@pytest.mark.podman
def test_real_digest_matches_skopeo(open_registry: local.LocalRegistry, busybox_image: str) -> None:
    local.push_with_buildah(open_registry, busybox_image, "app", "1.0.0")
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{open_registry.image('app')}:1.0.0"],
        capture_output=True,
        text=True,
        check=True,
    )
    digest = real(lambda c: c.digest(open_registry.image("app"), "1.0.0"))
    assert digest == json.loads(inspected.stdout)["Digest"]


def test_real_basic_auth(locked_registry: local.LocalRegistry) -> None:
    local.upload_tiny_image(locked_registry, "app", "1.0.0")
    image = locked_registry.image("app")
    good = locked_registry.dockerconfigjson()
    assert real(lambda c: c.list_tags(image), dockerconfig_json=good, secret_name="regcred") == ["1.0.0"]

    bad = locked_registry.dockerconfigjson(password="wrong")
    with pytest.raises(RegistryError) as caught:
        real(lambda c: c.list_tags(image), dockerconfig_json=bad, secret_name="regcred")
    message = str(caught.value)
    assert locked_registry.host in message and "HTTP 401" in message and "secretRef 'regcred'" in message

    with pytest.raises(RegistryError, match=r"set spec\.secretRef"):
        real(lambda c: c.list_tags(image))


def test_real_missing_repository_and_tag(open_registry: local.LocalRegistry) -> None:
    with pytest.raises(RegistryError) as caught:
        real(lambda c: c.list_tags(open_registry.image("nothing/here")))
    assert "repository 'nothing/here' was not found" in str(caught.value)
    assert open_registry.host in str(caught.value)

    local.upload_tiny_image(open_registry, "app", "1.0.0")
    with pytest.raises(RegistryError, match=r"tag '9\.9\.9' of .*/app was not found"):
        real(lambda c: c.digest(open_registry.image("app"), "9.9.9"))
    # Distribution 2.8 says MANIFEST_UNKNOWN, not NAME_UNKNOWN, for a manifest of a missing repository.
    with pytest.raises(RegistryError, match=r"tag '1\.0\.0' of .*/nothing/here was not found.*image name"):
        real(lambda c: c.digest(open_registry.image("nothing/here"), "1.0.0"))


def test_real_unreachable_port() -> None:
    image = f"127.0.0.1:{local.free_port()}/app"
    with pytest.raises(RegistryError) as caught:
        real(lambda c: c.list_tags(image), retries=1)
    message = str(caught.value)
    assert "cannot reach registry 127.0.0.1:" in message and image in message and "2 attempts" in message


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("127.0.0.1:5000/team/app:main-abc-1", "127.0.0.1:5000/team/app"),
        ("127.0.0.1:5000/team/app:1.0@sha256:" + "a" * 64, "127.0.0.1:5000/team/app"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app"),
        ("app:1.0", "docker.io/library/app"),
        ("Not An Image", None),
    ],
)
def test_repository_of_what_a_build_pushed(reference: str, repository: str | None) -> None:
    """What a pipeline reports as IMAGE_URL, reduced to the repository an ImageRepository scans."""
    found = references.repository_of(reference)
    assert (str(found) if found else None) == repository
