"""API tokens in the state store: name, role and SHA-256 of the token, never the token itself."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from gitferry.api import tokens
from gitferry.api.keys import timestamp
from gitferry.errors import StoreError
from gitferry.store.sqlite import Store


@dataclass(frozen=True)
class TokenRecord:
    name: str
    role: tokens.Role
    created: str
    last_used: str


class Tokens:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, role: tokens.Role) -> str:
        """A new token for ``name``; the only time its value is seen."""
        tokens.check_name(name)
        if any(record.name == name for record in self.list()):
            raise StoreError(f"a token named {name!r} exists: revoke it first ('gitferry token revoke {name}')")
        value = tokens.new_token()
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO api_tokens (name, role, digest, created) VALUES (?,?,?,?)",
                (name, role.value, tokens.digest(value), timestamp()),
            )
        return value

    def revoke(self, name: str) -> bool:
        with self.store.transaction() as db:
            return db.execute("DELETE FROM api_tokens WHERE name=?", (name,)).rowcount > 0

    def list(self) -> list[TokenRecord]:
        rows = self.store.read("SELECT name, role, created, last_used FROM api_tokens ORDER BY name")
        return [TokenRecord(r[0], tokens.Role(r[1]), r[2], r[3]) for r in rows]

    def verify(self, value: str) -> TokenRecord | None:
        """The token's record, or None. Every stored digest is compared, match or not, in constant
        time each, so a wrong token takes as long as a right one."""
        wanted = tokens.digest(value)
        found: tuple[str, str, str, str] | None = None
        for name, role, digest, created, last_used in self.store.read(
            "SELECT name, role, digest, created, last_used FROM api_tokens"
        ):
            if hmac.compare_digest(digest, wanted):
                found = (name, role, created, last_used)
        if found is None:
            return None
        return TokenRecord(found[0], tokens.Role(found[1]), found[2], found[3])

    def touch(self, name: str) -> None:
        """Record that a token was used now."""
        with self.store.transaction() as db:
            db.execute("UPDATE api_tokens SET last_used=? WHERE name=?", (timestamp(), name))
