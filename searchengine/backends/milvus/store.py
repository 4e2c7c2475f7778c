"""The index's records, passages, vectors and full text in Milvus (pymilvus `MilvusClient`).

Three collections under a user-chosen prefix hold everything, so a process
keeps no state of its own and any number of them answer alike:

- `<prefix>_passages`: one row per passage — its vector, its text, its words
  as the embedded index's tokenizer cuts them (porter stems, folded accents:
  Milvus' BM25 function ranks those, so both backends match the same words),
  and the fields filters test (date, source hosts, entity keys, sentiment,
  whether it is an article).
- `<prefix>_clusters`: one row per cluster — its own vector (related stories,
  recommendations), its record (zlib + base64 JSON), its term counts, and the
  same filter fields.
- `<prefix>_meta`: what the index is (model, dimension, encoder, index type)
  and its generation, bumped by every write.

Milvus has no transactions. Every passage therefore carries its cluster's
version (the content hash), and the cluster row says which version is current:
a reader counts a passage only when the two agree. A write (under the index's
write lease, lease.py: writers take turns) inserts the new version's passages
beside the old ones, then the cluster row — which switches readers over to the
whole new version at once — and then deletes the old version's passages. A
cluster is never seen half written or mixed, and a writer killed at any point
leaves passages nobody counts, which the next writer deletes (its claim named the
clusters). Passage ids are a hash of (cluster, content, position): a retried
write rewrites the same rows.

The methods mirror `store.Store` (the embedded backend), which the query,
story and write layers call; a filter is a Milvus boolean expression
(`passage_filter`) instead of a list of passage ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from searchengine.backends.milvus.alert_log import MilvusAlertLog
from searchengine.backends.milvus.connection import (
    EVENTUALLY,
    MAX_LIMIT,
    MAX_VARCHAR,
    STRONG,
    entity_keys,
    host_keys,
    milvus_index,
    pack,
    passage_id,
    unpack,
    words_of,
)
from searchengine.backends.milvus.words import MilvusWords
from searchengine.backends.storage import ClusterCard, Facets, PassageRow, facet_lists
from searchengine.core.contract import Filters
from searchengine.core.documents import Cluster, Field, Passage, cluster_texts, fold, text_hash
from searchengine.core.filters import (
    cluster_sentiment,
    literal,
    sentiment_key,
    to_milvus,
)
from searchengine.core.text import term_counts
from searchengine.errors import BadRequest


class MilvusStore(MilvusWords, MilvusAlertLog):
    """The records of one index in Milvus; see the module docstring."""

    # --- writes --------------------------------------------------------------------

    def embeddings_by_hash(self, hashes: Iterable[str], dimension: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for expr in self._in("text_hash", hashes):
            rows = self._query(self.passages_name, expr, ["text_hash", "vector"], EVENTUALLY)
            for r in rows:
                out.setdefault(r["text_hash"], np.asarray(r["vector"], dtype=np.float32))
        return out

    def delete_clusters(self, ids: Iterable[str], generation: int) -> list[int]:
        """Mark clusters for removal (a cluster written again in the same write is
        replaced instead); returns nothing: Milvus keeps no per-process vectors whose
        removed ids would need counting."""
        self._pending().delete.extend(ids)
        return []

    def insert_cluster(
        self,
        cluster: Cluster,
        passages: Sequence[Passage],
        embeddings: np.ndarray,
        cluster_vector: np.ndarray,
        generation: int,
    ) -> list[int]:
        pending = self._pending()
        content = cluster.content_hash()
        pending.written[cluster.id] = content  # (its other versions go after its row)
        record = pack(cluster.to_dict())
        terms = pack(term_counts(cluster_texts(cluster)))
        for name, value in (("record", record), ("term counts", terms)):
            if len(value) > MAX_VARCHAR:
                raise BadRequest(
                    f"cluster {cluster.id}: its {name} take {len(value):,} bytes compressed, "
                    f"over Milvus' {MAX_VARCHAR:,}-byte field; shorten it or use the embedded index"
                )
        hosts, keys = host_keys(cluster), entity_keys(cluster)
        sentiment = cluster_sentiment(cluster) or ""
        date = cluster.date or ""
        article_sentiment = {a.id: sentiment_key(a.sentiment) or "" for a in cluster.articles}
        # Rounded through float16 as the embedded index stores them: both backends (and
        # a copy between them) hold the same vectors.
        vectors = np.asarray(embeddings, dtype=np.float16).astype(np.float32)
        words = words_of([p.text for p in passages])
        ids: list[int] = []
        seen: set[tuple[str, int]] = set()
        for i, (p, vector, w) in enumerate(zip(passages, vectors, words, strict=True)):
            lead = (p.field.value, p.position) not in seen
            seen.add((p.field.value, p.position))
            pid = passage_id(cluster.id, content, i)
            ids.append(pid)
            pending.passages.append(
                {
                    "id": pid,
                    "vector": vector.tolist(),
                    "words": w[:MAX_VARCHAR],
                    "text": p.text.encode()[:MAX_VARCHAR].decode(errors="ignore"),
                    "cluster_id": cluster.id,
                    "article_id": p.article_id or "",
                    "field": p.field.value,
                    "position": p.position,
                    "text_hash": text_hash(p.embed_text),
                    "version": content,
                    "is_article": p.article_id is not None,
                    "lead": lead,
                    "article_sentiment": article_sentiment.get(p.article_id or "", ""),
                    "date": date,
                    "sentiment": sentiment,
                    "sources": hosts,
                    "entity_keys": keys,
                }
            )
        pending.clusters.append(
            {
                "id": cluster.id,
                "vector": np.asarray(cluster_vector, np.float16).astype(np.float32).tolist(),
                "title": cluster.title.encode()[:MAX_VARCHAR].decode(errors="ignore"),
                "content_hash": content,
                "n_sources": sum(cluster.sources.values()) or len(cluster.articles) or 1,
                "n_articles": len(cluster.articles),
                "article_sentiments": sorted({s for s in article_sentiment.values() if s}),
                "record": record,
                "terms": terms,
                "date": date,
                "sentiment": sentiment,
                "sources": hosts,
                "entity_keys": keys,
            }
        )
        return ids

    # --- reads: records ---------------------------------------------------------------

    def _records(self, ids: Iterable[str], fields: list[str]) -> list[dict]:
        rows: list[dict] = []
        for expr in self._in("id", ids):
            rows.extend(self._query(self.clusters_name, expr, fields))
        return rows

    def get_cluster(self, cluster_id: str) -> Cluster | None:
        return self.get_clusters([cluster_id]).get(cluster_id)

    def get_clusters(self, ids: Sequence[str]) -> dict[str, Cluster]:
        """The clusters' records; within a read, a cluster rewritten since the read
        counted its passages is left out (absent for this one answer, never shown with
        another version's passages)."""
        seen = self.read_versions() or {}
        return {
            r["id"]: Cluster.from_dict(unpack(r["record"]))
            for r in self._records(ids, ["id", "record", "content_hash"])
            if seen.get(r["id"], r["content_hash"]) == r["content_hash"]
        }

    def cluster_cards(self, ids: Sequence[str]) -> dict[str, ClusterCard]:
        return {
            cid: ClusterCard(c.date, c.title, dict(c.sources))
            for cid, c in self.get_clusters(ids).items()
        }

    def article_cards(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        owners = {a: c for a, c in ((a, self.cluster_of_article(a)) for a in ids) if c}
        clusters = self.get_clusters(sorted(set(owners.values())))
        out: dict[str, tuple[str, str | None]] = {}
        for aid, cid in owners.items():
            for article in clusters[cid].articles if cid in clusters else []:
                if article.id == aid:
                    out[aid] = (article.title, article.publisher)
        return out

    def cluster_of_article(self, article_id: str) -> str | None:
        rows = self._query(
            self.passages_name, f"article_id == {literal(article_id)}", ["cluster_id"], limit=1
        )
        return rows[0]["cluster_id"] if rows else None

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        out: dict[int, PassageRow] = {}
        for expr in self._in("id", [int(i) for i in ids]):
            for r in self._query(
                self.passages_name,
                expr,
                ["id", "cluster_id", "article_id", "field", "position", "text"],
            ):
                out[int(r["id"])] = PassageRow(
                    int(r["id"]),
                    r["cluster_id"],
                    r["article_id"] or None,
                    Field(r["field"]),
                    int(r["position"]),
                    r["text"],
                )
        return out

    def passage_owners(self, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
        """The owners of the passages of current versions: every search hit passes here
        (a passage of a version being written, or left by a killed writer, has none)."""
        rows: list[dict] = []
        for expr in self._in("id", [int(i) for i in ids]):
            rows += self._query(
                self.passages_name, expr, ["id", "cluster_id", "article_id", "version"]
            )
        return {
            int(r["id"]): (r["cluster_id"], r["article_id"] or None) for r in self._current(rows)
        }

    def _current(self, rows: list[dict]) -> list[dict]:
        """The passage rows whose version is their cluster row's. A read asks for each
        cluster's version once (and keeps it, `get_clusters`): a hybrid search's two
        signals share one answer, and one read never mixes two versions of a cluster."""
        seen = self.read_versions()
        wanted = {r["cluster_id"] for r in rows}
        versions = {c: seen[c] for c in wanted if c in seen} if seen is not None else {}
        missing = wanted - versions.keys()
        if missing:
            found = self.content_hashes(missing)
            versions.update(found)
            if seen is not None:
                seen.update(found)
        return [r for r in rows if versions.get(r["cluster_id"]) == r["version"]]

    def article_passages(self, article_id: str) -> list[tuple[int, str, np.ndarray]]:
        rows = self._query(
            self.passages_name,
            f"article_id == {literal(article_id)}",
            ["id", "text", "vector", "cluster_id", "version"],
        )
        rows = self._current(rows)
        rows.sort(key=lambda r: int(r["id"]))
        return [(int(r["id"]), r["text"], np.asarray(r["vector"], np.float32)) for r in rows]

    def cluster_vectors(
        self, dimension: int, ids: Sequence[str] | None = None
    ) -> tuple[list[str], np.ndarray]:
        rows = (
            list(self._scan(self.clusters_name, ["id", "vector"]))
            if ids is None
            else self._records(ids, ["id", "vector"])
        )
        rows.sort(key=lambda r: r["id"])
        matrix = (
            np.asarray([r["vector"] for r in rows], dtype=np.float32)
            if rows
            else np.zeros((0, dimension), np.float32)
        )
        return [r["id"] for r in rows], matrix

    def all_passage_embeddings(self) -> Iterator[tuple[int, str, bytes]]:
        versions = {
            r["id"]: r["content_hash"]
            for r in self._scan(self.clusters_name, ["id", "content_hash"])
        }
        rows = sorted(
            (
                r
                for r in self._scan(self.passages_name, ["id", "cluster_id", "vector", "version"])
                if versions.get(r["cluster_id"]) == r["version"]
            ),
            key=lambda r: int(r["id"]),
        )
        for r in rows:
            yield int(r["id"]), r["cluster_id"], np.asarray(r["vector"], np.float16).tobytes()

    def all_entity_keys(self) -> dict[str, set[str]]:
        return {
            r["id"]: set(r["entity_keys"])
            for r in self._scan(self.clusters_name, ["id", "entity_keys"])
            if r["entity_keys"]
        }

    def all_document_frequencies(self) -> Iterator[tuple[str, int]]:
        df: Counter[str] = Counter()
        for _, counts in self.all_term_counts():
            df.update(counts.keys())
        yield from df.items()

    def all_entity_frequencies(self) -> dict[str, int]:
        df: Counter[str] = Counter()
        for keys in self.all_entity_keys().values():
            df.update(keys)
        return dict(df)

    def recent_clusters(self, since: str, limit: int) -> list[tuple[str, str, int]]:
        """The window's clusters by a filtered, paged query (the `date` field has a scalar
        index), ordered here: a query returns rows in no order, and one query stops at
        Milvus' 16,384 rows, which a busy week passes."""
        rows = self._scan(
            self.clusters_name, ["id", "date", "n_sources"], f"date >= {literal(since)}"
        )
        found = sorted((r["id"], r["date"], int(r["n_sources"])) for r in rows if r["date"])
        found.sort(key=lambda r: (r[1], r[2]), reverse=True)  # (stable: ids stay ascending)
        return found[:limit]

    def source_frequencies(self) -> dict[str, int]:
        """A scan of the clusters' outlets: asked only to expand a bare outlet name
        (`bbc`) or to explain an answer a source filter emptied."""
        df: Counter[str] = Counter()
        for r in self._scan(self.clusters_name, ["id", "sources"]):
            df.update(set(r["sources"] or ()))
        return dict(df)

    def cluster_meta(self, ids: Sequence[str]) -> dict[str, tuple[str | None, int]]:
        return {
            r["id"]: (r["date"] or None, int(r["n_sources"]))
            for r in self._records(ids, ["id", "date", "n_sources"])
        }

    def counts(self) -> dict[str, int]:
        """Three count queries (an article counts by its first passage)."""
        return {
            "clusters": self._count(self.clusters_name),
            "articles": self._count(self.passages_name, "is_article == true and lead == true"),
            "passages": self._count(self.passages_name),
        }

    def cluster_ids(self) -> list[str]:
        rows = list(self._scan(self.clusters_name, ["id", "date"]))
        return [r["id"] for r in sorted(rows, key=lambda r: (r["date"] or "", r["id"]))]

    def sample_embeddings(self, size: int, dimension: int) -> np.ndarray:
        """About `size` passages' vectors, the same for every process at one generation:
        those with the lowest ids. Ids are hashes, so an id range is a uniform sample,
        and asking for the range that holds ~2x `size` reads only that much."""
        total = self._count(self.passages_name)
        if not total:
            return np.zeros((0, dimension), np.float32)
        bound = min((1 << 63) - 1, int((1 << 63) * min(1.0, 2.0 * size / total)))
        rows = self._query(
            self.passages_name, f"id <= {bound}", ["id", "vector"], limit=min(MAX_LIMIT, 4 * size)
        )
        rows = sorted(rows, key=lambda r: int(r["id"]))[:size]
        if not rows:
            return np.zeros((0, dimension), np.float32)
        return np.asarray([r["vector"] for r in rows], np.float32)

    def cluster_passages(
        self, ids: Sequence[str]
    ) -> dict[str, list[tuple[Field, int, str, np.ndarray]]]:
        out: dict[str, list[tuple[Field, int, str, np.ndarray]]] = {}
        rows: list[dict] = []
        for expr in self._in("cluster_id", ids):
            rows.extend(
                self._query(
                    self.passages_name,
                    expr,
                    ["id", "cluster_id", "field", "position", "text", "vector", "version"],
                )
            )
        for r in sorted(self._current(rows), key=lambda r: int(r["id"])):
            out.setdefault(r["cluster_id"], []).append(
                (
                    Field(r["field"]),
                    int(r["position"]),
                    r["text"],
                    np.asarray(r["vector"], np.float32),
                )
            )
        return out

    # --- filters, words, vectors -----------------------------------------------------------

    def passage_filter(self, filters: Filters) -> str:
        """The filters as a Milvus boolean expression over the passages collection."""
        return to_milvus(filters, passages=True)

    def allowed_passage_ids(self, filters: Filters) -> str:
        """What a filter lets through, in this backend's terms: an expression (the
        embedded store answers with passage ids; the query layer passes either on)."""
        return self.passage_filter(filters)

    def allowed_cluster_ids(self, filters: Filters) -> list[str]:
        expr = to_milvus(filters, passages=False)
        return [r["id"] for r in self._scan(self.clusters_name, ["id"], expr)]

    def dense_search(
        self, vector: np.ndarray, k: int, expr: str | None, index_type: str
    ) -> list[tuple[int, float]]:
        limit = min(k, MAX_LIMIT)
        params: dict[str, Any] = {"metric_type": "IP"}
        kind, _ = milvus_index(index_type, self.params)
        if kind == "HNSW":
            ef = max(self.params.hnsw_ef_floor, int(self.params.hnsw_ef_per_result * limit))
            params["params"] = {"ef": ef}
        elif kind == "IVF_FLAT":
            params["params"] = {"nprobe": self.params.nprobe}
        result = self.call(
            "search",
            self.passages_name,
            data=[np.asarray(vector, np.float32).tolist()],
            anns_field="vector",
            limit=limit,
            filter=expr or "",
            search_params=params,
            output_fields=["id"],
            consistency_level=STRONG,
        )
        return [(int(h["id"]), float(h["distance"])) for h in result[0]]

    def facet_counts(self, ids: Sequence[str], entities: int) -> Facets:
        sources: Counter[str] = Counter()
        keys: Counter[str] = Counter()
        names: dict[str, str] = {}
        sentiments: Counter[str] = Counter()
        dates: Counter[str] = Counter()
        for cluster in self.get_clusters(ids).values():
            sources.update(host_keys(cluster))
            for name in cluster.entities:
                keys[fold(name)] += 1
                names.setdefault(fold(name), name)
            sentiment = cluster_sentiment(cluster)
            if sentiment:
                sentiments[sentiment] += 1
            if cluster.date:
                dates[cluster.date] += 1
        return facet_lists(sources, keys, names, sentiments, dates, entities)
