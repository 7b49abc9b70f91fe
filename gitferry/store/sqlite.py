"""SQLite implementation of the state store.

Calls are synchronous: each is a local transaction of well under a millisecond in WAL mode, so
running them on the event loop is cheaper than a thread hop. Nothing the user must keep lives
only in memory: objects, status, inventories, events and the apply history are all here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gitferry.api.keys import ObjectKey, timestamp
from gitferry.api.manifests import Resource
from gitferry.errors import StoreError

BOOTSTRAP_OWNER = "bootstrap"


@dataclass(frozen=True)
class StoredObject:
    key: ObjectKey
    manifest: Resource
    generation: int
    owner: str
    origin: str
    suspended: bool
    deleted: bool

    @property
    def is_suspended(self) -> bool:
        """Suspended by ``gitferry suspend``, or by ``spec.suspend: true`` in Git."""
        return self.suspended or bool((self.manifest.get("spec") or {}).get("suspend"))


@dataclass(frozen=True)
class Event:
    id: int
    time: str
    key: ObjectKey
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    key: ObjectKey
    revision: str
    started: str
    duration: float
    result: str
    message: str
    changed: list[str]
    commit: CommitInfo | None = None  # the revision's commit, when its source recorded it


@dataclass(frozen=True)
class CommitInfo:
    source: ObjectKey
    git_commit: str
    author: str  # Name <email>
    subject: str


def spec_hash(manifest: Resource) -> str:
    body = json.dumps(manifest.get("spec"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(resources.files("gitferry.store").joinpath("schema.sql").read_text())
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the state store {path}: {e}") from e
        self.writes = 0  # transactions committed through this connection

    def change_mark(self) -> tuple[int, int]:
        """Moves whenever anything is written, by this process or another (SQLite's data_version
        counts the other connections' commits): the web UI's live pages refresh when it moves."""
        return self.writes, int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one SELECT, for the record modules beside this one (``runs.py``)."""
        try:
            return [tuple(row) for row in self._db.execute(sql, args)]
        except sqlite3.Error as e:
            raise StoreError(f"state store {self.path}: {e}") from e

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self.writes += 1
        except sqlite3.Error as e:
            raise StoreError(f"state store {self.path}: {e}") from e

    # objects: gitferry's own kinds (sources, Kustomizations, image objects) as the API server would hold them

    def put_object(self, manifest: Resource, *, owner: str, origin: str = "") -> bool:
        """Insert or update; the generation goes up when the spec changes. True when something changed."""
        key = ObjectKey.of(manifest)
        digest = spec_hash(manifest)
        body = json.dumps(manifest, sort_keys=True)
        with self.transaction() as db:
            row = db.execute(
                "SELECT spec_hash, generation, manifest, deleted FROM objects WHERE kind=? AND namespace=? AND name=?",
                (key.kind, key.namespace, key.name),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO objects (kind, namespace, name, manifest, spec_hash, generation, owner, origin)"
                    " VALUES (?,?,?,?,?,1,?,?)",
                    (key.kind, key.namespace, key.name, body, digest, owner, origin),
                )
                return True
            if row[0] == digest and row[2] == body and not row[3]:
                return False
            generation = row[1] + (1 if row[0] != digest else 0)
            db.execute(
                "UPDATE objects SET manifest=?, spec_hash=?, generation=?, owner=?, origin=?, deleted=0"
                " WHERE kind=? AND namespace=? AND name=?",
                (body, digest, generation, owner, origin, key.kind, key.namespace, key.name),
            )
            return True

    def get_object(self, key: ObjectKey) -> StoredObject | None:
        row = self._db.execute(
            "SELECT kind, namespace, name, manifest, generation, owner, origin, suspended, deleted FROM objects"
            " WHERE kind=? AND namespace=? AND name=?",
            (key.kind, key.namespace, key.name),
        ).fetchone()
        return _stored(row) if row else None

    def list_objects(self, kind: str | None = None, *, include_deleted: bool = False) -> list[StoredObject]:
        sql = "SELECT kind, namespace, name, manifest, generation, owner, origin, suspended, deleted FROM objects"
        clauses, args = [], []
        if kind:
            clauses.append("kind=?")
            args.append(kind)
        if not include_deleted:
            clauses.append("deleted=0")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return [_stored(row) for row in self._db.execute(sql + " ORDER BY kind, namespace, name", args)]

    def kinds(self) -> list[str]:
        """The kinds of the objects stored (not deleted)."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT kind FROM objects WHERE deleted=0 ORDER BY kind")]

    def mark_deleted(self, key: ObjectKey) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE objects SET deleted=1 WHERE kind=? AND namespace=? AND name=?",
                (key.kind, key.namespace, key.name),
            )

    def remove_object(self, key: ObjectKey) -> None:
        """Forget the object and everything recorded for it (after its finalizer ran)."""
        with self.transaction() as db:
            for table in ("objects", "status"):
                db.execute(
                    f"DELETE FROM {table} WHERE kind=? AND namespace=? AND name=?", (key.kind, key.namespace, key.name)
                )
            if key.kind == "ImageRepository":
                db.execute("DELETE FROM image_tags WHERE namespace=? AND name=?", (key.namespace, key.name))

    def set_suspended(self, key: ObjectKey, suspended: bool) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE objects SET suspended=? WHERE kind=? AND namespace=? AND name=?",
                (int(suspended), key.kind, key.namespace, key.name),
            )
            return cur.rowcount > 0

    # status

    def get_status(self, key: ObjectKey) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT body FROM status WHERE kind=? AND namespace=? AND name=?", (key.kind, key.namespace, key.name)
        ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def statuses(self, kind: str | None = None) -> dict[ObjectKey, dict[str, Any]]:
        """Every status (of one kind), in one read: the list views show hundreds at once."""
        sql = "SELECT kind, namespace, name, body FROM status"
        args: tuple[str, ...] = ()
        if kind:
            sql, args = sql + " WHERE kind=?", (kind,)
        return {ObjectKey(r[0], r[1], r[2]): json.loads(r[3]) for r in self._db.execute(sql, args)}

    def put_status(self, key: ObjectKey, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO status (kind, namespace, name, body) VALUES (?,?,?,?)"
                " ON CONFLICT (kind, namespace, name) DO UPDATE SET body=excluded.body",
                (key.kind, key.namespace, key.name, json.dumps(body, sort_keys=True)),
            )

    # image tags: the last scan of each ImageRepository, read by its policies (no rescan per policy)

    def put_tags(self, key: ObjectKey, tags: Sequence[str]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO image_tags (namespace, name, tags, scanned) VALUES (?,?,?,?)"
                " ON CONFLICT (namespace, name) DO UPDATE SET tags=excluded.tags, scanned=excluded.scanned",
                (key.namespace, key.name, json.dumps(list(tags)), timestamp()),
            )

    def get_tags(self, key: ObjectKey) -> list[str] | None:
        """The tags of the last successful scan, in the registry's order; None before the first."""
        row = self._db.execute(
            "SELECT tags FROM image_tags WHERE namespace=? AND name=?", (key.namespace, key.name)
        ).fetchone()
        return list(json.loads(row[0])) if row else None

    # inventory: the last applied set of each Kustomization

    def get_inventory(self, owner: str) -> dict[ObjectKey, Resource]:
        rows = self._db.execute("SELECT kind, namespace, name, manifest FROM inventory WHERE owner=?", (owner,))
        return {ObjectKey(r[0], r[1], r[2]): json.loads(r[3]) for r in rows}

    def set_inventory(self, owner: str, objects: Sequence[Resource]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM inventory WHERE owner=?", (owner,))
            db.executemany(
                "INSERT INTO inventory (owner, kind, namespace, name, api_version, manifest) VALUES (?,?,?,?,?,?)",
                [
                    (owner, k.kind, k.namespace, k.name, str(o.get("apiVersion", "")), json.dumps(o, sort_keys=True))
                    for o in objects
                    for k in [ObjectKey.of(o)]
                ],
            )

    def find_applied(self, key: ObjectKey) -> Resource | None:
        """The applied form of an object whichever Kustomization owns it (for substituteFrom)."""
        row = self._db.execute(
            "SELECT manifest FROM inventory WHERE kind=? AND namespace=? AND name=? LIMIT 1",
            (key.kind, key.namespace, key.name),
        ).fetchone()
        return dict(json.loads(row[0])) if row else None

    def owner_of(self, key: ObjectKey) -> str | None:
        row = self._db.execute(
            "SELECT owner FROM inventory WHERE kind=? AND namespace=? AND name=? LIMIT 1",
            (key.kind, key.namespace, key.name),
        ).fetchone()
        return str(row[0]) if row else None

    # events and history

    def add_event(self, key: ObjectKey, type_: str, reason: str, message: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (time, kind, namespace, name, type, reason, message) VALUES (?,?,?,?,?,?,?)",
                (timestamp(), key.kind, key.namespace, key.name, type_, reason, message),
            )

    def events(
        self, key: ObjectKey | None = None, limit: int = 100, *, kind: str | None = None, type_: str | None = None
    ) -> list[Event]:
        """The newest ``limit`` events (of one object, or of one kind or type), oldest first."""
        sql = "SELECT id, time, kind, namespace, name, type, reason, message FROM events"
        clauses: list[str] = []
        args: list[Any] = []
        if key is not None:
            clauses.append("kind=? AND namespace=? AND name=?")
            args += [key.kind, key.namespace, key.name]
        if kind is not None:
            clauses.append("kind=?")
            args.append(kind)
        if type_ is not None:
            clauses.append("type=?")
            args.append(type_)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [Event(r[0], r[1], ObjectKey(r[2], r[3], r[4]), r[5], r[6], r[7]) for r in reversed(rows)]

    def add_history(
        self,
        key: ObjectKey,
        *,
        revision: str,
        started: str,
        duration: float,
        result: str,
        message: str,
        changed: Sequence[str],
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO history (kind, namespace, name, revision, started, duration, result, message, changed)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    key.kind,
                    key.namespace,
                    key.name,
                    revision,
                    started,
                    duration,
                    result,
                    message,
                    json.dumps(list(changed)),
                ),
            )

    def history(self, key: ObjectKey, limit: int = 50) -> list[HistoryEntry]:
        rows = self._db.execute(
            "SELECT h.id, h.kind, h.namespace, h.name, h.revision, h.started, h.duration, h.result, h.message,"
            " h.changed, c.kind, c.namespace, c.name, c.git_commit, c.author, c.subject"
            " FROM history h LEFT JOIN commits c ON c.revision = h.revision"
            " WHERE h.kind=? AND h.namespace=? AND h.name=? ORDER BY h.id DESC LIMIT ?",
            (key.kind, key.namespace, key.name, limit),
        ).fetchall()
        return [
            HistoryEntry(
                r[0],
                ObjectKey(r[1], r[2], r[3]),
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                json.loads(r[9]),
                CommitInfo(ObjectKey(r[10], r[11], r[12]), r[13], r[14], r[15]) if r[10] else None,
            )
            for r in reversed(rows)
        ]

    def put_commit(self, source: ObjectKey, revision: str, info: CommitInfo) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO commits (revision, kind, namespace, name, git_commit, author, subject)"
                " VALUES (?,?,?,?,?,?,?)",
                (revision, source.kind, source.namespace, source.name, info.git_commit, info.author, info.subject),
            )

    def get_commit(self, revision: str) -> CommitInfo | None:
        row = self._db.execute(
            "SELECT kind, namespace, name, git_commit, author, subject FROM commits WHERE revision=?", (revision,)
        ).fetchone()
        return CommitInfo(ObjectKey(row[0], row[1], row[2]), row[3], row[4], row[5]) if row else None


def _stored(row: Sequence[Any]) -> StoredObject:
    return StoredObject(
        key=ObjectKey(row[0], row[1], row[2]),
        manifest=json.loads(row[3]),
        generation=row[4],
        owner=row[5],
        origin=row[6],
        suspended=bool(row[7]),
        deleted=bool(row[8]),
    )
