"""SQLite: the records, their passages, full text (FTS5) and embeddings (float16).

The database is the source of truth: the FAISS file can always be rebuilt
from the embeddings kept here, without the model. Every write logs which
passage vectors it added and removed under its generation (`vector_log`), so
a process holding the index open can catch up with what others wrote.
Connections, snapshots and transactions are `database.py`'s job.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from searchengine.backends.embedded.alert_log import AlertLog
from searchengine.backends.embedded.database import StoreError, chunks
from searchengine.backends.embedded.words import WordIndex
from searchengine.backends.storage import ClusterCard, Facets, PassageRow, facet_lists
from searchengine.core.contract import Filters
from searchengine.core.documents import Cluster, Field, Passage, cluster_texts, fold, text_hash
from searchengine.core.filters import cluster_sentiment, host_key, sentiment_key, to_sql
from searchengine.core.text import term_counts

__all__ = ["Filters", "PassageRow", "Store", "StoreError", "VectorChanges"]


@dataclass(frozen=True)
class VectorChanges:
    """What happened to the passage vectors between two generations."""

    added: np.ndarray  # passage ids present now and absent then
    removed: np.ndarray  # passage ids present then and absent now


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_blobs(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return (
        np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(-1, dimension).astype(np.float32)
    )


class Store(WordIndex, AlertLog):
    """The index's records in SQLite: clusters, articles, passages with their embeddings,
    full text, term and entity statistics, and the vector log."""

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

    def sample_embeddings(self, size: int, dimension: int) -> np.ndarray:
        """`size` passages' vectors, those whose texts hash lowest: a fixed, uniform
        sample of what the index holds (for measuring how a query's cosine to a hit
        stands against its cosine to the collection at large) that depends on which
        texts are indexed, not on the order they came in. A sample spread over the id
        range moved a hit's relevance from 0.53 to 0.55 when the same clusters were
        removed and added again."""
        rows = self.db.execute(
            "SELECT embedding FROM passages ORDER BY text_hash LIMIT ?", (size,)
        ).fetchall()
        return from_blobs([r[0] for r in rows], dimension)

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
        for chunk in chunks(list(ids), 500):
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
                (a.id, cluster.id, i, a.title, a.publisher, sentiment_key(a.sentiment))
                for i, a in enumerate(cluster.articles, 1)
            ],
        )
        db.executemany(
            "INSERT INTO sources(cluster_id, host, count) VALUES (?, ?, ?)",
            [(cluster.id, host_key(host), n) for host, n in cluster.sources.items()],
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

    def cluster_cards(self, ids: Sequence[str]) -> dict[str, ClusterCard]:
        """Date, title and sources of clusters; SQLite extracts the sources from the
        stored record, so Python never decodes the whole record of a hit."""
        sql = (
            "SELECT id, date, title, json_extract(record, '$.sources') FROM clusters"
            " WHERE id IN ({})"
        )
        return {
            cid: ClusterCard(date, title, json.loads(sources) if sources else {})
            for cid, date, title, sources in self._select_in(sql, ids)
        }

    def article_cards(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """(title, publisher) of articles."""
        sql = "SELECT id, title, publisher FROM articles WHERE id IN ({})"
        return {aid: (title, publisher) for aid, title, publisher in self._select_in(sql, ids)}

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

    def passage_texts(self, ids: Sequence[int] | None) -> list[tuple[int, str, str | None, str]]:
        """(id, cluster id, article id, text) of these passages (None: all), in id order."""
        sql = "SELECT id, cluster_id, article_id, text FROM passages"
        if ids is None:
            return [tuple(r) for r in self.db.execute(sql + " ORDER BY id")]  # type: ignore[misc]
        rows = [tuple(r) for r in self._select_in(sql + " WHERE id IN ({})", ids)]
        return sorted(rows, key=lambda r: r[0])  # type: ignore[return-value]

    def passage_ids(self) -> np.ndarray:
        """Every passage id, ascending."""
        rows = self.db.execute("SELECT id FROM passages ORDER BY id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def passage_owners(self, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
        """(cluster id, article id) of these passages: what grouping needs, without texts."""
        sql = "SELECT id, cluster_id, article_id FROM passages WHERE id IN ({})"
        return {r[0]: (r[1], r[2]) for r in self._select_in(sql, ids)}

    def note_deletions(self, removed: int, share: float) -> bool:
        """Count passages deleted since the full-text indexes were last merged; once
        they pass `share` of the passages, merge both (inside the open write).

        FTS5 keeps a deleted row as a tombstone in a new segment until a merge
        meets the original; with daily add-newest/remove-oldest, segments and
        tombstones piled up (meta.sqlite +87% in 60-75 days at constant content).
        'optimize' rewrites each index as one segment without them, and the pages
        it frees go back to the file system. Returns whether it merged."""
        if removed <= 0:
            return False
        pending = int(self.get_meta("fts_deleted", "0") or 0) + removed
        total = int(self.db.execute("SELECT count(*) FROM passages").fetchone()[0])
        if pending <= share * max(total, 1):
            self.set_meta("fts_deleted", str(pending))
            return False
        self.db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('optimize')")
        self.db.execute("INSERT INTO passages_trigram(passages_trigram) VALUES ('optimize')")
        self.set_meta("fts_deleted", "0")
        # The old segments' pages are free now; give them back (a database made
        # before auto_vacuum was set keeps them for reuse instead). Through the
        # Python driver each statement frees one page (~50 us), hence the loop.
        if self.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            free = int(self.db.execute("PRAGMA freelist_count").fetchone()[0])
            for _ in range(free):
                self.db.execute("PRAGMA incremental_vacuum(1)")
        return True

    def all_passage_embeddings(self) -> Iterator[tuple[int, str, bytes]]:
        """(passage id, cluster id, float16 embedding) of every passage, in id order."""
        yield from self.db.execute("SELECT id, cluster_id, embedding FROM passages ORDER BY id")

    def all_term_counts(self) -> Iterator[tuple[str, dict[str, int]]]:
        """(cluster id, term counts) of every cluster."""
        for cid, terms in self.db.execute("SELECT cluster_id, terms FROM cluster_terms"):
            yield cid, json.loads(terms)

    def all_entity_keys(self) -> dict[str, set[str]]:
        """Every cluster's folded entity keys."""
        out: dict[str, set[str]] = {}
        for cid, key in self.db.execute("SELECT cluster_id, key FROM entities"):
            out.setdefault(cid, set()).add(key)
        return out

    def all_entity_frequencies(self) -> dict[str, int]:
        """In how many clusters each entity key occurs, for every key."""
        return dict(
            self.db.execute("SELECT key, count(DISTINCT cluster_id) FROM entities GROUP BY key")
        )

    def source_frequencies(self) -> dict[str, int]:
        """In how many clusters each outlet (`filters.host_key`) occurs: the names a
        source filter can match, for expanding `bbc` and for "did you mean"."""
        return dict(
            self.db.execute("SELECT host, count(DISTINCT cluster_id) FROM sources GROUP BY host")
        )

    def cluster_meta(self, ids: Sequence[str]) -> dict[str, tuple[str | None, int]]:
        """(date, number of sources) per cluster: what recommend ranks freshness and reach by."""
        sql = "SELECT id, date, n_sources FROM clusters WHERE id IN ({})"
        return {cid: (date, n) for cid, date, n in self._select_in(sql, ids)}

    def recent_clusters(self, since: str, limit: int) -> list[tuple[str, str, int]]:
        """(id, date, number of sources) of the clusters dated `since` or later, newest
        first and the most widely covered first within a day: a front page's stories."""
        sql = (
            "SELECT id, date, n_sources FROM clusters WHERE date >= ?"
            " ORDER BY date DESC, n_sources DESC, id LIMIT ?"
        )
        return [(cid, day, n) for cid, day, n in self.db.execute(sql, (since, limit))]

    def date_range(self) -> tuple[str | None, str | None]:
        """(oldest, newest) cluster date: what freshness counts back from."""
        oldest, newest = self.db.execute("SELECT min(date), max(date) FROM clusters").fetchone()
        return oldest, newest

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

    def allowed_passage_ids(self, filters: Filters) -> np.ndarray:
        where, args = to_sql(filters)
        rows = self.db.execute(
            f"SELECT p.id FROM passages p JOIN clusters c ON c.id = p.cluster_id WHERE {where}",
            args,
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def facet_counts(self, ids: Sequence[str], entities: int) -> Facets:
        """In how many of these clusters each source, entity (the `entities` commonest),
        prevailing sentiment and date occurs: the counts a results page filters by."""
        sources: Counter[str] = Counter()
        names: dict[str, str] = {}
        keys: Counter[str] = Counter()
        sentiments: Counter[str] = Counter()
        dates: Counter[str] = Counter()
        sql_sources = "SELECT DISTINCT cluster_id, host FROM sources WHERE cluster_id IN ({})"
        for _, host in self._select_in(sql_sources, ids):
            sources[host] += 1
        sql_entities = (
            "SELECT DISTINCT cluster_id, key, name FROM entities WHERE cluster_id IN ({})"
        )
        for _, key, name in self._select_in(sql_entities, ids):
            keys[key] += 1
            names.setdefault(key, name)
        sql_clusters = "SELECT sentiment, date FROM clusters WHERE id IN ({})"
        for sentiment, day in self._select_in(sql_clusters, ids):
            if sentiment:
                sentiments[sentiment] += 1
            if day:
                dates[day] += 1

        return facet_lists(sources, keys, names, sentiments, dates, entities)

    def allowed_cluster_ids(self, filters: Filters) -> list[str]:
        where, args = to_sql(filters)
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

    def cluster_passages(
        self, ids: Sequence[str]
    ) -> dict[str, list[tuple[Field, int, str, np.ndarray]]]:
        """Each cluster's passages: (field, position, text, vector), in id order."""
        out: dict[str, list[tuple[Field, int, str, np.ndarray]]] = {}
        sql = (
            "SELECT cluster_id, field, position, text, embedding FROM passages"
            " WHERE cluster_id IN ({}) ORDER BY id"
        )
        for cid, field_name, position, text, blob in self._select_in(sql, ids):
            vector = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
            out.setdefault(cid, []).append((Field(field_name), position, text, vector))
        return out
