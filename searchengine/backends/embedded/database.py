"""SQLite connections for many threads and many processes.

A connection is never shared: each thread gets its own (WAL lets readers run
beside the one writer). Every read runs inside a snapshot (`snapshot`), so all
it reads comes from one committed state; every write runs in one transaction
(`write`) that bumps the generation, the number every reader checks to know
whether anything changed. Schema changes are the named migrations of
`schema.py`, applied on open, each in one transaction, safe against another
process applying them at the same moment.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from searchengine.backends.embedded.schema import MIGRATIONS
from searchengine.core.documents import Field, Passage, fold, text_hash
from searchengine.core.filters import host_key
from searchengine.errors import StoreError, disk_full

# How long a connection waits for another process's write lock before it
# gives up: a daily ingest commits in batches of well under a second, so a
# minute means something is stuck, not busy.
BUSY_TIMEOUT_MS = 60_000
# Address space for memory-mapped reads (not memory used: pages are the OS's
# cache, shared by every connection); indexes past this read the rest normally.
MMAP_BYTES = 1 << 30
# The write-ahead log: SQLite's own checkpoints are PASSIVE and never start the log
# over while any reader is in it, so a server searching without pause starved them
# and the log grew past the database (churn with a reader: meta + WAL 2-5x the
# database's 180 MB). After each write the writer asks for a RESTART, waiting at most
# WAL_RESTART_WAIT_MS for readers (searches take milliseconds; a long read makes it
# give up until the next write), and a log started over is cut to WAL_LIMIT_BYTES:
# it then sits at about the limit between writes (churn with a reader, day 40: at
# 64 MB a 67 MB WAL beside the 187 MB database; at 16 MB a 16.8 MB one), so the limit
# is kept small; a write that needs more grows it again, for as long as that write.
# The restart is a TRUNCATE: a RESTART left a big write's log at its full size until
# the next write (churn with a reader: 76-81 MB on the day every ~6 days when the
# full-text indexes are merged).
WAL_RESTART_WAIT_MS = 2_000
WAL_LIMIT_BYTES = 16 << 20


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:  # pragma: no cover - closing a broken connection
        pass


def _passage_hash(context: str, text: str) -> str:
    return text_hash(Passage("", Field.SUMMARY, 0, text, context=context).embed_text)


class Database:
    """One SQLite database, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Every open connection with the thread that owns it: close() closes them all,
        # and a thread's connection is closed once the thread has ended (a server's
        # worker threads come and go: anyio retires idle ones after 10 s, every webhook
        # delivery and rebuild has its own; kept until close(), 200 short-lived threads
        # left 201 connections and 409 file descriptors open).
        self._all: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._all_lock = threading.Lock()
        self._migrate()

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            self._local.depth = 0
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            # check_same_thread=False only so that close() can close every
            # thread's connection; each is used by its own thread alone.
            conn = sqlite3.connect(
                str(self.path),
                check_same_thread=False,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            conn.row_factory = sqlite3.Row
            # The triggers that fill the trigram table call fold(); SQLite 3.40's
            # trigram tokenizer cannot remove diacritics by itself.
            conn.create_function("fold", 1, fold, deterministic=True)
            conn.create_function("passage_hash", 2, _passage_hash, deterministic=True)
            conn.create_function("host_key", 1, host_key, deterministic=True)  # (migration 007)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Takes effect only in a new, empty database (before its first table):
            # pages freed by a full-text merge can then be returned to the file
            # system (store.note_deletions) instead of staying in the file.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            # Reads through a shared memory map of the file: every thread's
            # connection (a server has dozens) sees the OS page cache directly
            # instead of filling a private page cache of its own.
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path} is not a usable index database: {err}") from err
        owner = weakref.ref(threading.current_thread())
        with self._all_lock:
            live, ended = self._owned()
            live.append((owner, conn))
            self._all = live
        for old in ended:
            _close(old)
        return conn

    def _owned(
        self,
    ) -> tuple[
        list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]], list[sqlite3.Connection]
    ]:
        """The connections whose thread still runs, and those whose thread has ended
        (under `_all_lock`)."""
        live, ended = [], []
        for ref, conn in self._all:
            thread = ref()
            if thread is not None and thread.is_alive():
                live.append((ref, conn))
            else:
                ended.append(conn)
        return live, ended

    def open_connections(self) -> int:
        """How many connections are open now (for the leak test and `stats`)."""
        with self._all_lock:
            return len(self._all)

    def restart_log(self) -> bool:
        """Copy the write-ahead log into the database and start it over, truncated (see
        WAL_RESTART_WAIT_MS); False when readers kept it busy. Outside a transaction."""
        db = self.db
        db.execute(f"PRAGMA busy_timeout = {WAL_RESTART_WAIT_MS}")
        try:
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError:  # locked past the wait: the next write tries again
            busy = 1
        finally:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return busy == 0

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for _, conn in conns:
            _close(conn)
        self._local = threading.local()

    def _migrate(self) -> None:
        db = self.db
        try:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)")
            done = {r[0] for r in db.execute("SELECT name FROM migrations")}
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path} is not a usable index database: {err}") from err
        known = {name for name, _ in MIGRATIONS}
        if done - known:
            raise StoreError(
                f"{self.path} was written by a newer searchengine (migrations {sorted(done - known)})"
            )
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            # Statement by statement inside one transaction (executescript()
            # would commit first). Another process may have applied it since
            # we looked: checked again once the write lock is held.
            db.execute("BEGIN IMMEDIATE")
            try:
                if not db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    for statement in _statements(sql):
                        db.execute(statement)
                    db.execute("INSERT INTO migrations(name) VALUES (?)", (name,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- transactions -------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: everything read inside sees one committed state.
        Re-entrant within a thread (only the outermost begins and ends it)."""
        db = self.db
        local = self._local
        if local.depth:
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        db.execute("BEGIN DEFERRED")
        local.depth = 1
        try:
            yield
        finally:
            local.depth = 0
            if db.in_transaction:
                db.execute("COMMIT")

    def renew_snapshot(self) -> None:
        """Move this thread's open snapshot to the newest committed state."""
        db = self.db
        if db.in_transaction:
            db.execute("COMMIT")
        db.execute("BEGIN DEFERRED")

    @property
    def in_snapshot(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def write(self) -> Iterator[int]:
        """One write transaction that bumps the generation; yields the new generation.
        All of it lands, or none of it."""
        if self.in_snapshot:
            raise RuntimeError("a write cannot start inside a read snapshot")
        with self.transaction():
            gen = self.generation + 1
            self.set_meta("generation", str(gen))
            yield gen

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that leaves the generation alone (settings, not content).
        A full disk is a DiskFull error; SQLite may have rolled the transaction back
        itself by then, and rolling back again failed with "cannot rollback - no
        transaction is active", hiding the reason."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as err:
            if db.in_transaction:
                db.execute("ROLLBACK")
            full = disk_full(err, self.path.parent)
            if full is not None:
                raise full from None
            raise

    # --- meta ---------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    def state(self) -> tuple[int, str | None]:
        """(generation, index type) in one query: what every read checks first."""
        rows = dict(
            self.db.execute(
                "SELECT key, value FROM meta WHERE key IN ('generation', 'index_type')"
            ).fetchall()
        )
        return int(rows.get("generation") or 0), rows.get("index_type")

    def _select_in(self, sql: str, values: Iterable[Any]) -> Iterator[Any]:
        """Rows of `sql`, whose `IN ({})` is filled with `values` in chunks that stay
        under SQLite's limit on bound parameters."""
        for chunk in chunks(list(values), 500):  # type: ignore[arg-type]
            yield from self.db.execute(sql.format(",".join("?" * len(chunk))), chunk)


def _statements(script: str) -> Iterator[str]:
    """The complete SQL statements of a script (triggers' inner `;` included)."""
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                yield current.strip()
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement: {current.strip()[:60]}")


def chunks(items: list[str] | list[int], size: int) -> Iterator[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), size):
        yield items[i : i + size]
