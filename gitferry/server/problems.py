"""What a request can be refused for, besides authentication (``auth.AuthError``); ``app.py`` turns
each into its status code and a sentence: JSON for the API, a page or a line for the web UI."""

from __future__ import annotations


class NotFoundError(Exception):
    """The object, kind or run named does not exist (404); the message says which."""


class ConflictError(Exception):
    """The action cannot be done in the object's present state (409): a finished run cannot be cancelled."""
