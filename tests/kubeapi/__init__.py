"""An in-process Kubernetes API server for tests (not shipped in the package).

``serve_kube_api()`` starts it on 127.0.0.1 (plain HTTP, random free port, bearer-token auth) and
yields a ``KubeAPI``: its URL, a kubeconfig writer, the request log, failure injection, direct
access to the stored objects and knobs for the simulated controllers. See ``server.py``.
"""

from .errors import KubeError
from .server import KubeAPI, serve_kube_api
from .store import Failure, Request

__all__ = ["Failure", "KubeAPI", "KubeError", "Request", "serve_kube_api"]
