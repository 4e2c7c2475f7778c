"""SQLite: the records, their passages, full text (FTS5) and embeddings (float16).

The database is the source of truth: the FAISS file can always be rebuilt
from the embeddings kept here, without the model. Several threads and
several processes use one database at once, so a connection is never shared:
each thread gets its own (WAL lets readers run beside the one writer), every
read runs inside a snapshot (`Store.snapshot`) and every write in one
transaction (`Store.write`) that bumps the generation and logs which vectors
it added and removed (`schema.py`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .contract import Filters
from .documents import Cluster, Field, Passage, cluster_texts, fold, text_hash
from .schema import MIGRATIONS
from .text import term_counts

# How long a connection waits for another process's write lock before it
# gives up: a daily ingest commits in batches of well under a second, so a
# minute means something is stuck, not busy.
BUSY_TIMEOUT_MS = 60_000


class StoreError(RuntimeError):
    """The database cannot be used (corrupt, or from a newer version of the engine)."""


@dataclass(frozen=True)
class PassageRow:
    """A stored passage with its id (the FAISS id)."""

    id: int
    cluster_id: str
    article_id: str | None
    field: Field
    position: int
    text: str


@dataclass(frozen=True)
class VectorChanges:
    """What happened to the passage vectors between two generations."""

    added: np.ndarray  # passage ids present now and absent then
    removed: np.ndarray  # passage ids present then and absent now


def cluster_sentiment(cluster: Cluster) -> str | None:
    """The prevailing sentiment of a cluster's articles ('mixed' on a tie)."""
    counts = Counter(a.sentiment for a in cluster.articles if a.sentiment)
    if not counts:
        return None
    (top, n), *rest = counts.most_common()
    return "mixed" if rest and rest[0][1] == n else top


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_blobs(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return (
        np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(-1, dimension).astype(np.float32)
    )


def _passage_hash(context: str, text: str) -> str:
    return text_hash(Passage("", Field.SUMMARY, 0, text, context=context).embed_text)


class Store:
    """One SQLite database (`meta.sqlite` in an index folder), one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
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
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path} is not a usable index database: {err}") from err
        with self._all_lock:
            self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass
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
        db = self.db
        if self.in_snapshot:
            raise RuntimeError("a write cannot start inside a read snapshot")
        db.execute("BEGIN IMMEDIATE")
        try:
            gen = self.generation + 1
            self.set_meta("generation", str(gen))
            yield gen
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that leaves the generation alone (settings, not content)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

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
        for chunk in _chunks(list(values), 500):  # type: ignore[arg-type]
            yield from self.db.execute(sql.format(",".join("?" * len(chunk))), chunk)

    # --- the vector log ------------------------------------------------------

    def vector_changes(self, since: int) -> VectorChanges | None:
        """Net changes to the passage vectors after generation `since`, or None when
        the log no longer reaches back that far (the caller reloads everything)."""
        if since < int(self.get_meta("log_floor", "0") or 0):
            return None
        state: dict[int, tuple[bool, bool]] = {}  # id -> (present before, present now)
        for pid, added in self.db.execute(
            "SELECT passage_id, added FROM vector_log WHERE generation > ?"
            " ORDER BY generation, rowid",
            (since,),
        ):
            before = state[pid][0] if pid in state else not added
            state[pid] = (before, bool(added))
        added_ids = [p for p, (was, now) in state.items() if now and not was]
        removed_ids = [p for p, (was, now) in state.items() if was and not now]
        return VectorChanges(
            np.array(added_ids, dtype=np.int64), np.array(removed_ids, dtype=np.int64)
        )

    def log_since(self, since: int) -> int:
        """How many vector changes were logged after generation `since`."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM vector_log WHERE generation > ?", (since,)
            ).fetchone()[0]
        )

    def prune_log(self, upto: int) -> None:
        """Forget the log up to generation `upto` (call inside a write)."""
        floor = int(self.get_meta("log_floor", "0") or 0)
        if upto <= floor:
            return
        self.db.execute("DELETE FROM vector_log WHERE generation <= ?", (upto,))
        self.set_meta("log_floor", str(upto))

    def embeddings(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of these passages, in id order."""
        rows = sorted(
            self._select_in("SELECT id, embedding FROM passages WHERE id IN ({})", ids),
            key=lambda r: r[0],
        )
        return (
            np.array([r[0] for r in rows], dtype=np.int64),
            from_blobs([r[1] for r in rows], dimension),
        )

    # --- writes (call inside `write()`) ---------------------------------------

    def content_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        return dict(self._select_in("SELECT id, content_hash FROM clusters WHERE id IN ({})", ids))

    def embeddings_by_hash(self, hashes: Iterable[str], dimension: int) -> dict[str, np.ndarray]:
        """Stored embeddings by the hash of the text the encoder read, from anywhere in
        the index: a passage text seen before is never encoded again."""
        out: dict[str, np.ndarray] = {}
        for key, blob in self._select_in(
            "SELECT text_hash, embedding FROM passages WHERE text_hash IN ({})", set(hashes)
        ):
            out.setdefault(key, from_blobs([blob], dimension)[0])
        return out

    def delete_clusters(self, ids: Iterable[str], generation: int) -> list[int]:
        """Delete clusters with everything that hangs off them; returns the removed passage ids."""
        removed: list[int] = []
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            removed.extend(
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM passages WHERE cluster_id IN ({marks})", chunk
                )
            )
            for (terms,) in self.db.execute(
                f"SELECT terms FROM cluster_terms WHERE cluster_id IN ({marks})", chunk
            ).fetchall():
                self.db.executemany(
                    "UPDATE term_df SET df = df - 1 WHERE term = ?",
                    [(t,) for t in json.loads(terms)],
                )
            self.db.execute("DELETE FROM term_df WHERE df <= 0")
            self.db.execute(f"DELETE FROM passages WHERE cluster_id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM clusters WHERE id IN ({marks})", chunk)
        self.db.executemany(
            "INSERT INTO vector_log(generation, passage_id, added) VALUES (?, ?, 0)",
            [(generation, pid) for pid in removed],
        )
        return removed

    def insert_cluster(
        self,
        cluster: Cluster,
        passages: Sequence[Passage],
        embeddings: np.ndarray,
        cluster_vector: np.ndarray,
        generation: int,
    ) -> list[int]:
        """Insert one cluster and its passages; returns the new passage ids in order."""
        db = self.db
        db.execute(
            "INSERT INTO clusters(id, date, title, content_hash, n_sources, sentiment, record, vector)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cluster.id,
                cluster.date,
                cluster.title,
                cluster.content_hash(),
                sum(cluster.sources.values()) or len(cluster.articles) or 1,
                cluster_sentiment(cluster),
                json.dumps(cluster.to_dict(), ensure_ascii=False),
                to_blob(cluster_vector),
            ),
        )
        db.executemany(
            "INSERT INTO articles(id, cluster_id, position, title, publisher, sentiment)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (a.id, cluster.id, i, a.title, a.publisher, a.sentiment)
                for i, a in enumerate(cluster.articles, 1)
            ],
        )
        db.executemany(
            "INSERT INTO sources(cluster_id, host, count) VALUES (?, ?, ?)",
            [(cluster.id, host.lower(), n) for host, n in cluster.sources.items()],
        )
        db.executemany(
            "INSERT INTO entities(cluster_id, article_id, name, key) VALUES (?, ?, ?, ?)",
            [(cluster.id, a.id, name, fold(name)) for a in cluster.articles for name in a.entities],
        )
        counts = term_counts(cluster_texts(cluster))
        db.execute(
            "INSERT INTO cluster_terms(cluster_id, terms) VALUES (?, ?)",
            (cluster.id, json.dumps(counts, ensure_ascii=False)),
        )
        db.executemany(
            "INSERT INTO term_df(term, df) VALUES (?, 1)"
            " ON CONFLICT(term) DO UPDATE SET df = df + 1",
            [(t,) for t in counts],
        )
        ids: list[int] = []
        for passage, vector in zip(passages, embeddings, strict=True):
            cur = db.execute(
                "INSERT INTO passages(cluster_id, article_id, field, position, text, context,"
                " embedding, text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    passage.cluster_id,
                    passage.article_id,
                    passage.field.value,
                    passage.position,
                    passage.text,
                    passage.context,
                    to_blob(vector),
                    text_hash(passage.embed_text),
                ),
            )
            ids.append(int(cur.lastrowid or 0))
        db.executemany(
            "INSERT INTO vector_log(generation, passage_id, added) VALUES (?, ?, 1)",
            [(generation, pid) for pid in ids],
        )
        return ids

    # --- reads ----------------------------------------------------------------

    def get_cluster(self, cluster_id: str) -> Cluster | None:
        row = self.db.execute("SELECT record FROM clusters WHERE id = ?", (cluster_id,)).fetchone()
        return Cluster.from_dict(json.loads(row[0])) if row else None

    def get_clusters(self, ids: Sequence[str]) -> dict[str, Cluster]:
        return {
            cid: Cluster.from_dict(json.loads(record))
            for cid, record in self._select_in(
                "SELECT id, record FROM clusters WHERE id IN ({})", ids
            )
        }

    def cluster_of_article(self, article_id: str) -> str | None:
        row = self.db.execute(
            "SELECT cluster_id FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return row[0] if row else None

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        sql = (
            "SELECT id, cluster_id, article_id, field, position, text FROM passages"
            " WHERE id IN ({})"
        )
        return {
            r[0]: PassageRow(r[0], r[1], r[2], Field(r[3]), r[4], r[5])
            for r in self._select_in(sql, ids)
        }

    def all_embeddings(
        self, dimension: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches, for rebuilding the FAISS index without the model."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT id, embedding FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            yield ids, from_blobs([r[1] for r in rows], dimension)
            last = int(ids[-1])

    def cluster_vectors(
        self, dimension: int, ids: Sequence[str] | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Each cluster's own vector (for related / recommend)."""
        if ids is None:
            rows = self.db.execute("SELECT id, vector FROM clusters ORDER BY id").fetchall()
        else:
            rows = list(self._select_in("SELECT id, vector FROM clusters WHERE id IN ({})", ids))
        return [r[0] for r in rows], from_blobs([r[1] for r in rows], dimension)

    def term_vectors(self, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each cluster's term counts."""
        sql = "SELECT cluster_id, terms FROM cluster_terms WHERE cluster_id IN ({})"
        return {cid: json.loads(terms) for cid, terms in self._select_in(sql, ids)}

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return dict(self._select_in("SELECT term, df FROM term_df WHERE term IN ({})", terms))

    def cluster_passage_vectors(self, ids: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        """Every passage vector of each cluster (for passage-level story similarity)."""
        rows: dict[str, list[bytes]] = {}
        sql = "SELECT cluster_id, embedding FROM passages WHERE cluster_id IN ({}) ORDER BY id"
        for cid, blob in self._select_in(sql, ids):
            rows.setdefault(cid, []).append(blob)
        return {cid: from_blobs(blobs, dimension) for cid, blobs in rows.items()}

    def cluster_meta(self, ids: Sequence[str]) -> dict[str, tuple[str | None, int]]:
        """(date, number of sources) per cluster: what recommend ranks freshness and reach by."""
        sql = "SELECT id, date, n_sources FROM clusters WHERE id IN ({})"
        return {cid: (date, n) for cid, date, n in self._select_in(sql, ids)}

    def entity_keys(self, ids: Sequence[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        sql = "SELECT cluster_id, key FROM entities WHERE cluster_id IN ({})"
        for cid, key in self._select_in(sql, ids):
            out.setdefault(cid, set()).add(key)
        return out

    def entity_frequencies(self, keys: Iterable[str]) -> dict[str, int]:
        """In how many clusters each entity key occurs."""
        sql = "SELECT key, count(DISTINCT cluster_id) FROM entities WHERE key IN ({}) GROUP BY key"
        return dict(self._select_in(sql, keys))

    def newest_date(self) -> str | None:
        return self.db.execute("SELECT max(date) FROM clusters").fetchone()[0]

    def counts(self) -> dict[str, int]:
        q = self.db.execute
        return {
            "clusters": q("SELECT count(*) FROM clusters").fetchone()[0],
            "articles": q("SELECT count(*) FROM articles").fetchone()[0],
            "passages": q("SELECT count(*) FROM passages").fetchone()[0],
        }

    def cluster_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM clusters ORDER BY date, id")]

    # --- filters and full text ------------------------------------------------

    def filter_sql(self, filters: Filters) -> tuple[str, list[object]]:
        """A WHERE clause over `passages p JOIN clusters c` expressing the filters."""
        where: list[str] = []
        args: list[object] = []
        if filters.date_from:
            where.append("c.date >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            where.append("c.date <= ?")
            args.append(filters.date_to)
        if filters.sources:
            marks = ",".join("?" * len(filters.sources))
            where.append(f"c.id IN (SELECT cluster_id FROM sources WHERE host IN ({marks}))")
            args.extend(h.lower() for h in filters.sources)
        for name in filters.entities:
            # Each named entity must be present (AND), matched on the folded key.
            where.append("c.id IN (SELECT cluster_id FROM entities WHERE key = ?)")
            args.append(fold(name))
        if filters.articles_only:
            where.append("p.article_id IS NOT NULL")
        if filters.sentiment:
            if filters.articles_only:
                where.append("p.article_id IN (SELECT id FROM articles WHERE sentiment = ?)")
            else:
                where.append("c.sentiment = ?")
            args.append(filters.sentiment.lower())
        return (" AND ".join(where) or "1"), args

    def allowed_passage_ids(self, filters: Filters) -> np.ndarray:
        where, args = self.filter_sql(filters)
        rows = self.db.execute(
            f"SELECT p.id FROM passages p JOIN clusters c ON c.id = p.cluster_id WHERE {where}",
            args,
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def unknown_terms(self, terms: Sequence[str]) -> list[str]:
        """The terms that occur in no passage (as the word index tokenises and stems them)."""
        out = []
        for term in terms:
            match = '"' + term.replace('"', '""') + '"'
            found = self.db.execute(
                "SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? LIMIT 1", (match,)
            ).fetchone()
            if found is None:
                out.append(term)
        return out

    def allowed_cluster_ids(self, filters: Filters) -> list[str]:
        where, args = self.filter_sql(filters)
        return [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT c.id FROM passages p JOIN clusters c ON c.id = p.cluster_id"
                f" WHERE {where}",
                args,
            )
        ]

    def article_passages(self, article_id: str) -> list[tuple[int, str, np.ndarray]]:
        """(passage id, text, vector) of an article's passages."""
        rows = self.db.execute(
            "SELECT id, text, embedding FROM passages WHERE article_id = ? ORDER BY id",
            (article_id,),
        ).fetchall()
        return [
            (r[0], r[1], np.frombuffer(r[2], dtype=np.float16).astype(np.float32)) for r in rows
        ]

    def full_text(
        self, match: str, limit: int, filters: Filters, table: str = "passages_fts"
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score, higher is better) for an FTS5 MATCH expression
        over the word index (`passages_fts`) or the trigram index (`passages_trigram`)."""
        if table not in ("passages_fts", "passages_trigram"):
            raise ValueError(f"no full-text table {table!r}")
        where, args = self.filter_sql(filters)
        rows = self.db.execute(
            f"SELECT p.id, -bm25({table}) AS score FROM {table}"
            f" JOIN passages p ON p.id = {table}.rowid"
            " JOIN clusters c ON c.id = p.cluster_id"
            f" WHERE {table} MATCH ? AND {where}"
            f" ORDER BY bm25({table}) LIMIT ?",
            [match, *args, limit],
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]


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


def _chunks(items: list[str] | list[int], size: int) -> Iterator[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), size):
        yield items[i : i + size]
