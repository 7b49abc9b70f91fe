"""The OCI distribution API client: tag lists and manifest digests, over httpx, no subprocesses.

It is the hot path of image scanning, so it talks HTTP itself: one connection pool, the auth
flow from ``gitferry.registry.auth``, a few retries with back-off on 5xx and connection errors.
Every failure leaves as a ``RegistryError`` whose message names the image and the registry and
says what the user can do about it.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
from collections.abc import Mapping
from types import TracebackType

import httpx

from gitferry import clock as clocks
from gitferry.errors import RegistryError
from gitferry.registry import auth, references

# Everything a tag can point at; without the index types a multi-arch tag would be converted
# or refused, and its digest would not be the one a pull resolves.
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
DEFAULT_PAGE_SIZE = 1000
# Worth retrying: the registry or a proxy in front of it is overloaded or restarting.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~15 ms, several times a whole 2,000-tag scan on loopback:
    # build it once per process, not once per client.
    return httpx.create_ssl_context()


class RegistryClient:
    """Reads tags and digests from OCI registries; use as ``async with RegistryClient(...) as c``.

    ``dockerconfig_json`` is the ``.dockerconfigjson`` of the ImageRepository's secretRef (named
    by ``secret_name`` in messages); ``insecure`` speaks plain http, for loopback registries.
    """

    def __init__(
        self,
        *,
        dockerconfig_json: str | bytes | None = None,
        secret_name: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        page_size: int = DEFAULT_PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: clocks.Clock | None = None,
    ) -> None:
        self._dockerconfig = dockerconfig_json
        self._secret_name = secret_name
        self._scheme = "http" if insecure else "https"
        self._retries = retries
        self._backoff = backoff
        self._page_size = page_size
        self._clock = clock or clocks.SystemClock()
        self._auths: dict[str, auth.RegistryAuth] = {}  # per host, so tokens are reused across calls
        self._http = httpx.AsyncClient(
            transport=transport, verify=_tls_context(), timeout=timeout, follow_redirects=True
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_tags(self, image: str) -> list[str]:
        """Every tag of ``image``, in the registry's order, following ``Link: rel="next"`` pages."""
        ref = references.parse_image(image)
        url: httpx.URL | None = self._url(ref, f"/v2/{ref.name}/tags/list").copy_merge_params({"n": self._page_size})
        tags: list[str] = []
        seen: set[str] = set()
        while url is not None:
            if str(url) in seen:
                raise RegistryError(f"registry {ref.host} sent a tag-list page link that loops, for image {image}")
            seen.add(str(url))
            response = await self._send(image, ref, "GET", url, {"Accept": "application/json"})
            self._check(image, ref, response, None)
            tags.extend(self._page_tags(image, ref, response))
            url = self._next_page(response)
        return tags

    async def digest(self, image: str, tag: str) -> str:
        """The manifest digest ``tag`` resolves to (index digest for multi-arch tags)."""
        ref = references.parse_image(image)
        url = self._url(ref, f"/v2/{ref.name}/manifests/{references.check_tag(image, tag)}")
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        response = await self._send(image, ref, "HEAD", url, headers)
        if response.status_code == 200 and response.headers.get("Docker-Content-Digest"):
            return response.headers["Docker-Content-Digest"]
        # GET again only when it can tell more: HEAD refused, no digest header, or a 404 whose
        # missing body cannot say whether the tag or the whole repository is unknown.
        if response.status_code not in (200, 404, 405, 501):
            self._check(image, ref, response, tag)
        response = await self._send(image, ref, "GET", url, headers)
        self._check(image, ref, response, tag)
        # The spec makes the header optional; the digest of the exact bytes served is the same value.
        return response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(response.content).hexdigest()

    # --- HTTP ----------------------------------------------------------------------------------

    def _url(self, ref: references.ImageReference, path: str) -> httpx.URL:
        return httpx.URL(f"{self._scheme}://{ref.host}{path}")

    def _auth_for(self, ref: references.ImageReference) -> auth.RegistryAuth:
        if ref.host not in self._auths:
            creds = auth.credentials_for(ref.registry, self._dockerconfig) if self._dockerconfig else None
            self._auths[ref.host] = auth.RegistryAuth(creds, self._clock.monotonic)
        return self._auths[ref.host]

    async def _send(
        self, image: str, ref: references.ImageReference, method: str, url: httpx.URL, headers: Mapping[str, str]
    ) -> httpx.Response:
        """Send with auth; retry 5xx and connection failures with exponential back-off."""
        attempts = self._retries + 1
        for attempt in range(attempts):
            last_try = attempt == attempts - 1
            try:
                request = self._http.build_request(method, url, headers=headers)
                response = await self._http.send(request, auth=self._auth_for(ref))
            except httpx.TransportError as e:
                if last_try:
                    raise RegistryError(
                        f"cannot reach registry {ref.host} for image {image} after {attempts} attempts"
                        f" ({type(e).__name__}: {e or 'no detail'}); check the host and port, and"
                        f" spec.insecure if the registry speaks plain http"
                    ) from e
            except RegistryError as e:
                secret = f" with secretRef {self._secret_name!r}" if self._secret_name else ""
                raise RegistryError(f"cannot authenticate to registry {ref.host}{secret} for image {image}: {e}") from e
            else:
                if response.status_code not in _RETRY_STATUSES or last_try:
                    return response
            await self._clock.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _check(self, image: str, ref: references.ImageReference, response: httpx.Response, tag: str | None) -> None:
        """Raise a RegistryError a user can act on unless ``response`` is a success."""
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = _error_detail(response)
        where = f"registry {ref.host}"
        secret = f"the credentials in secretRef {self._secret_name!r}" if self._secret_name else None
        if status == 401:
            hint = f"check {secret}" if secret else "the registry needs credentials: set spec.secretRef"
            message = f"{where} refused access to {image} (HTTP 401{detail}); {hint}"
        elif status == 403:
            hint = (
                f"check that {secret} may pull it" if secret else "set spec.secretRef to credentials that may pull it"
            )
            message = f"{where} denied access to {image} (HTTP 403{detail}); {hint}"
        elif status == 404 and tag is not None and "NAME_UNKNOWN" not in detail:
            # Distribution answers MANIFEST_UNKNOWN for a missing repository too, so name both.
            message = (
                f"tag {tag!r} of {image} was not found on {where} (HTTP 404{detail}); check the tag and the image name"
            )
        elif status == 404:
            message = f"repository {ref.name!r} was not found on {where} (image {image}, HTTP 404{detail})"
        elif status in _RETRY_STATUSES:
            message = f"{where} answered HTTP {status} for {image} after {self._retries + 1} attempts{detail}"
        else:
            message = f"{where} answered HTTP {status} for {image}{detail}"
        raise RegistryError(message)

    # --- pages ---------------------------------------------------------------------------------

    @staticmethod
    def _page_tags(image: str, ref: references.ImageReference, response: httpx.Response) -> list[str]:
        try:
            body = response.json()
        except ValueError as e:
            raise RegistryError(f"registry {ref.host} sent a tag list for {image} that is not JSON") from e
        tags = body.get("tags") if isinstance(body, dict) else None
        if tags is None and isinstance(body, dict):
            return []  # an empty repository lists "tags": null
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise RegistryError(f'registry {ref.host} sent a tag list for {image} without a "tags" list of strings')
        return tags

    @staticmethod
    def _next_page(response: httpx.Response) -> httpx.URL | None:
        # RFC 8288 Link header; the target may be relative to the page just read.
        target = response.links.get("next", {}).get("url")
        return response.url.join(target) if target else None


def _error_detail(response: httpx.Response) -> str:
    """The registry's own error code and message (``{"errors": [...]}``), when it sent one."""
    try:
        errors = response.json().get("errors") if response.content else None
    except (ValueError, AttributeError):
        return ""
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return ""
    first = errors[0]
    return f": {first.get('code', '')} {first.get('message', '')}".rstrip()
