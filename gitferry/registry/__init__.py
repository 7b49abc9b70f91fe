"""OCI registry adapter: read tags and digests over the distribution API (httpx, async).

``client.RegistryClient`` does the I/O; ``references`` (image names) and ``auth`` (credentials,
challenges, the bearer-token flow) are pure and tested with tables.
"""

from __future__ import annotations

from gitferry.registry.auth import Credentials, credentials_for
from gitferry.registry.client import RegistryClient
from gitferry.registry.references import ImageReference, parse_image

__all__ = ["Credentials", "ImageReference", "RegistryClient", "credentials_for", "parse_image"]
