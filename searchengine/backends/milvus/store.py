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

Milvus has no transactions. A write therefore deletes the replaced clusters
first, inserts their passages next and their cluster rows last: a cluster row
is what makes a cluster visible (a hit whose cluster row is missing is not
shown), so a reader never sees half a cluster, and a writer killed midway
leaves clusters missing — which the next `index` run adds again — never
mixed. Passage ids are a hash of (cluster, content, position): a retried
write rewrites the same rows.

The methods mirror `store.Store` (the embedded backend), which the query,
story and write layers call; a filter is a Milvus boolean expression
(`passage_filter`) instead of a list of passage ids.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from searchengine.backends.storage import ClusterCard, PassageRow, facet_lists
from searchengine.core.contract import Filters
from searchengine.core.documents import Cluster, Field, Passage, cluster_texts, fold, text_hash
from searchengine.core.filters import (
    cluster_sentiment,
    literal,
    sentiment_key,
    stored_hosts,
    to_milvus,
)
from searchengine.core.fuzzy import Vocabulary
from searchengine.core.text import analyze, term_counts
from searchengine.core.tokens import tokenizer
from searchengine.errors import BackendUnavailable, BadRequest, IndexCorrupt

# Milvus caps a VARCHAR at 65,535 bytes and one search at 16,384 results.
MAX_VARCHAR = 65_535
MAX_LIMIT = 16_384
MAX_ARRAY = 4_096  # entity keys and hosts a row can hold (Milvus' array capacity cap)
ID_LENGTH = 512
META_DIMENSION = 2  # Milvus wants a vector field in every collection; meta's is a dummy


@dataclass(frozen=True)
class MilvusParams:
    """How the backend talks to Milvus.

    `batch`: rows per insert call; gRPC messages stay well under Milvus' 64 MB
    default at 384-dimensional vectors. `hnsw_m`/`hnsw_ef`: the same graph as the
    embedded `HNSW32,Flat` (vectors.py), efSearch at least 64 and twice the
    results asked for, as `HNSW_EF_PER_RESULT` there. `nlist`: IVF cells, for
    an explicit `--index-type IVF...` only (the embedded default never picks IVF).
    """

    batch: int = 512
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_floor: int = 64
    hnsw_ef_per_result: float = 2.0
    nlist: int = 1024
    nprobe: int = 16
    timeout: float = 10.0


def milvus_index(index_type: str, params: MilvusParams) -> tuple[str, dict[str, Any]]:
    """The Milvus index for an embedded FAISS factory string (`Flat`, `HNSW32,Flat`,
    `IVF1024,Flat`, ...): FLAT, HNSW or IVF_FLAT with the same shape."""
    kind = index_type.upper()
    if kind.startswith("HNSW"):
        m = "".join(ch for ch in kind.split(",")[0][4:] if ch.isdigit())
        return "HNSW", {"M": int(m or params.hnsw_m), "efConstruction": params.hnsw_ef_construction}
    if kind.startswith("IVF"):
        n = "".join(ch for ch in kind.split(",")[0][3:] if ch.isdigit())
        return "IVF_FLAT", {"nlist": int(n or params.nlist)}
    if kind.startswith("FLAT"):
        return "FLAT", {}
    raise BadRequest(f"index type {index_type!r} has no Milvus equivalent (Flat, HNSW…, IVF…)")


def passage_id(cluster_id: str, content: str, position: int) -> int:
    """A passage's id: stable for one cluster content, 63 bits (Milvus INT64 keys)."""
    digest = hashlib.blake2b(f"{cluster_id}\0{content}\0{position}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & ((1 << 63) - 1)


def secrets_hex() -> str:
    import secrets

    return secrets.token_hex(4)


def pack(data: Any) -> str:
    """JSON, compressed, as text a VARCHAR holds (records are ~4x smaller)."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def unpack(text: str) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(text)))


def words_of(texts: Sequence[str]) -> list[str]:
    """Each text as the embedded word index's tokens (porter stems, folded), space-joined:
    what Milvus' standard analyzer (`\\w+`, lower case) splits back into the same tokens."""
    rows = tokenizer().counts(list(enumerate(texts, 1)))
    out: list[list[str]] = [[] for _ in texts]
    for token, row, count in rows:
        out[row - 1].extend([token] * count)
    return [" ".join(w) for w in out]


def host_keys(cluster: Cluster) -> list[str]:
    return stored_hosts(cluster.sources)[:MAX_ARRAY]


def entity_keys(cluster: Cluster) -> list[str]:
    return sorted({fold(n) for a in cluster.articles for n in a.entities if fold(n)})[:MAX_ARRAY]


@dataclass
class _PendingWrite:
    """What one `write()` will send: deletions first, then passages, then cluster rows."""

    generation: int
    delete: list[str] = field(default_factory=list)
    passages: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)


class MilvusStore:
    """The records of one index in Milvus; see the module docstring."""

    def __init__(
        self, client: Any, prefix: str, uri: str, params: MilvusParams | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.uri = uri
        self.params = params or MilvusParams()
        self.passages_name = f"{prefix}_passages"
        self.clusters_name = f"{prefix}_clusters"
        self.meta_name = f"{prefix}_meta"
        self._local = threading.local()
        self._vocabulary: tuple[int, tuple[Counter[str], Vocabulary, int]] | None = None
        self._dimension = 0

    # --- calls -----------------------------------------------------------------

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One client call; a failure of the server or the connection is one clear error."""
        from pymilvus.exceptions import MilvusException

        try:
            return getattr(self.client, method)(*args, **kwargs)
        except MilvusException as err:
            raise BackendUnavailable(
                f"Milvus at {self.uri} failed on {method}: {getattr(err, 'message', err)}"
            ) from None
        except Exception as err:  # grpc errors and timeouts surface as many types
            if type(err).__module__.startswith(("grpc", "pymilvus")):
                raise BackendUnavailable(
                    f"Milvus at {self.uri} failed on {method}: {err}"
                ) from None
            raise

    def _query(self, collection: str, expr: str, fields: list[str], **kw: Any) -> list[dict]:
        return list(
            self.call(
                "query",
                collection,
                filter=expr,
                output_fields=fields,
                consistency_level="Strong",
                **kw,
            )
        )

    def _scan(self, collection: str, fields: list[str], expr: str = "") -> Iterator[dict]:
        """Every row of a collection (a paged iterator: no row limit)."""
        it = self.call(
            "query_iterator",
            collection,
            batch_size=2000,
            filter=expr,
            output_fields=fields,
            consistency_level="Strong",
        )
        try:
            while True:
                batch = it.next()
                if not batch:
                    return
                yield from batch
        finally:
            it.close()

    def _in(self, name: str, values: Iterable[Any]) -> Iterator[str]:
        """`name in [...]` expressions over chunks of values."""
        items = list(dict.fromkeys(values))
        for i in range(0, len(items), 500):
            chunk = items[i : i + 500]
            rendered = ",".join(literal(v) if isinstance(v, str) else str(int(v)) for v in chunk)
            yield f"{name} in [{rendered}]"

    # --- schema ------------------------------------------------------------------

    def exists(self) -> dict[str, bool]:
        names = set(self.call("list_collections"))
        return {n: n in names for n in (self.passages_name, self.clusters_name, self.meta_name)}

    def create(self, dimension: int, index_type: str, meta: dict[str, str]) -> None:
        """The three collections; meta (what says the index is whole) is written last."""
        from pymilvus import DataType, Function, FunctionType

        kind, build = milvus_index(index_type, self.params)
        client = self.client

        def filter_fields(schema: Any) -> None:
            schema.add_field("date", DataType.VARCHAR, max_length=32)
            schema.add_field("sentiment", DataType.VARCHAR, max_length=32)
            for name in ("sources", "entity_keys"):
                schema.add_field(
                    name,
                    DataType.ARRAY,
                    element_type=DataType.VARCHAR,
                    max_capacity=MAX_ARRAY,
                    max_length=ID_LENGTH,
                )

        passages = client.create_schema(auto_id=False, enable_dynamic_field=False)
        passages.add_field("id", DataType.INT64, is_primary=True)
        passages.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        passages.add_field("words", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True)
        passages.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        passages.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
        passages.add_field("cluster_id", DataType.VARCHAR, max_length=ID_LENGTH)
        passages.add_field("article_id", DataType.VARCHAR, max_length=ID_LENGTH)
        passages.add_field("field", DataType.VARCHAR, max_length=32)
        passages.add_field("position", DataType.INT64)
        passages.add_field("text_hash", DataType.VARCHAR, max_length=64)
        passages.add_field("is_article", DataType.BOOL)
        passages.add_field("lead", DataType.BOOL)  # an article's first window: counts articles
        passages.add_field("article_sentiment", DataType.VARCHAR, max_length=32)
        filter_fields(passages)
        passages.add_function(
            Function(
                name="words_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["words"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type=kind, metric_type="IP", params=build)
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")

        clusters = client.create_schema(auto_id=False, enable_dynamic_field=False)
        clusters.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_LENGTH)
        clusters.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        clusters.add_field("title", DataType.VARCHAR, max_length=MAX_VARCHAR)
        clusters.add_field("content_hash", DataType.VARCHAR, max_length=64)
        clusters.add_field("n_sources", DataType.INT64)
        clusters.add_field("n_articles", DataType.INT64)
        clusters.add_field(
            "article_sentiments",
            DataType.ARRAY,
            element_type=DataType.VARCHAR,
            max_capacity=MAX_ARRAY,
            max_length=32,
        )
        clusters.add_field("record", DataType.VARCHAR, max_length=MAX_VARCHAR)
        clusters.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR)
        filter_fields(clusters)
        cluster_index = client.prepare_index_params()
        cluster_index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")

        meta_schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        meta_schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        meta_schema.add_field("value", DataType.VARCHAR, max_length=MAX_VARCHAR)
        meta_schema.add_field("vector", DataType.FLOAT_VECTOR, dim=META_DIMENSION)
        meta_index = client.prepare_index_params()
        meta_index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")

        for name, schema, params in (
            (self.passages_name, passages, index),
            (self.clusters_name, clusters, cluster_index),
            (self.meta_name, meta_schema, meta_index),
        ):
            self.call("create_collection", name, schema=schema, consistency_level="Strong")
            # Not waited on by polling (pymilvus sleeps 0.5 s per index before it looks):
            # loading the collection waits for its indexes.
            self.call("create_index", name, params, sync=False)
            self.call("load_collection", name)
        self._put_meta({**meta, "generation": "1"})

    def drop(self) -> None:
        names = set(self.call("list_collections"))
        for name in (self.meta_name, self.clusters_name, self.passages_name):  # meta first
            if name in names:
                self.call("drop_collection", name)

    def drop_if_empty(self) -> None:
        """Drop what a creation cut short left (collections with no rows); collections
        that hold rows are someone's data: refused, with the names."""
        names = [n for n, ok in self.exists().items() if ok]
        full = [n for n in names if int(self.call("get_collection_stats", n)["row_count"])]
        if full:
            raise IndexCorrupt(
                f"{self.uri}: collections {', '.join(full)} exist but are not a whole "
                "searchengine index; choose another prefix, or drop them"
            )
        self.drop()

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead channel is not an error
            pass

    # --- meta and generations ------------------------------------------------------

    def _put_meta(self, values: dict[str, str]) -> None:
        rows = [
            {"key": k, "value": v, "vector": [1.0] + [0.0] * (META_DIMENSION - 1)}
            for k, v in values.items()
        ]
        self.call("upsert", self.meta_name, rows)

    def all_meta(self) -> dict[str, str]:
        """The index's own settings (model, dimension, generation, ...): every meta row
        but the saved searches and alerts that share the collection. It read the first
        1,000 rows of all of them: past ~1,000 alerts, on a server that returns rows in
        key order, the settings fell off the end and the index would not open."""
        expr = 'not (key like "alert:%") and not (key like "search:%")'
        return {r["key"]: r["value"] for r in self._scan(self.meta_name, ["key", "value"], expr)}

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        pending: _PendingWrite | None = getattr(self._local, "write", None)
        if pending is not None and key in pending.meta:
            return pending.meta[key]
        rows = self._query(self.meta_name, f"key == {literal(key)}", ["value"])
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        pending: _PendingWrite | None = getattr(self._local, "write", None)
        if pending is None:
            self._put_meta({key: value})
        else:
            pending.meta[key] = value

    def state(self) -> tuple[int, str | None]:
        """(generation, index type) in one query: what every read checks first."""
        rows = {
            r["key"]: r["value"]
            for r in self._query(
                self.meta_name, 'key in ["generation", "index_type"]', ["key", "value"]
            )
        }
        return int(rows.get("generation") or 0), rows.get("index_type")

    @property
    def generation(self) -> int:
        """This thread's read's generation (`reading_at`), else asked of Milvus."""
        reading = getattr(self._local, "reading", None)
        return reading if reading is not None else self.state()[0]

    def reading_at(self, generation: int | None) -> None:
        """The generation the folder's `reading()` just read for this thread (None when
        it ends): what the vocabulary checks against, instead of a round trip each time
        (a search asked three times, two of them for the same answer)."""
        self._local.reading = generation

    @contextmanager
    def write(self) -> Iterator[int]:
        """Collect one write, then send it in the safe order (module docstring). The new
        generation is a microsecond clock, past the current one: writers in several
        processes need no shared counter to tell readers that something changed."""
        gen = max(self.state()[0] + 1, time.time_ns() // 1000)
        pending = _PendingWrite(gen)
        self._local.write = pending
        try:
            yield gen
        finally:
            self._local.write = None
        for expr in self._in("id", pending.delete):
            self.call("delete", self.clusters_name, filter=expr)
        for expr in self._in("cluster_id", pending.delete):
            self.call("delete", self.passages_name, filter=expr)
        step = self.params.batch
        for rows, name in (
            (pending.passages, self.passages_name),
            (pending.clusters, self.clusters_name),
        ):
            for i in range(0, len(rows), step):
                self.call("upsert", name, rows[i : i + step])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._put_meta({**pending.meta, "generation": str(gen), "updated_at": stamp})

    def _pending(self) -> _PendingWrite:
        pending: _PendingWrite | None = getattr(self._local, "write", None)
        if pending is None:
            raise RuntimeError("write outside write()")
        return pending

    # --- writes --------------------------------------------------------------------

    def content_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for expr in self._in("id", ids):
            out.update(
                (r["id"], r["content_hash"])
                for r in self._query(self.clusters_name, expr, ["id", "content_hash"])
            )
        return out

    def embeddings_by_hash(self, hashes: Iterable[str], dimension: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for expr in self._in("text_hash", hashes):
            for r in self._query(self.passages_name, expr, ["text_hash", "vector"]):
                out.setdefault(r["text_hash"], np.asarray(r["vector"], dtype=np.float32))
        return out

    def delete_clusters(self, ids: Iterable[str], generation: int) -> list[int]:
        ids = list(ids)
        removed: list[int] = []
        for expr in self._in("cluster_id", ids):
            removed.extend(int(r["id"]) for r in self._query(self.passages_name, expr, ["id"]))
        self._pending().delete.extend(ids)
        return removed

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
        return {
            r["id"]: Cluster.from_dict(unpack(r["record"]))
            for r in self._records(ids, ["id", "record"])
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
        out: dict[int, tuple[str, str | None]] = {}
        for expr in self._in("id", [int(i) for i in ids]):
            for r in self._query(self.passages_name, expr, ["id", "cluster_id", "article_id"]):
                out[int(r["id"])] = (r["cluster_id"], r["article_id"] or None)
        return out

    def article_passages(self, article_id: str) -> list[tuple[int, str, np.ndarray]]:
        rows = self._query(
            self.passages_name, f"article_id == {literal(article_id)}", ["id", "text", "vector"]
        )
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
        rows = sorted(
            self._scan(self.passages_name, ["id", "cluster_id", "vector"]),
            key=lambda r: int(r["id"]),
        )
        for r in rows:
            yield int(r["id"]), r["cluster_id"], np.asarray(r["vector"], np.float16).tobytes()

    def all_embeddings(self, dimension: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rows = list(self._scan(self.passages_name, ["id", "vector"]))
        if rows:
            yield (
                np.array([int(r["id"]) for r in rows], dtype=np.int64),
                np.asarray([r["vector"] for r in rows], dtype=np.float32),
            )

    def all_term_counts(self) -> Iterator[tuple[str, dict[str, int]]]:
        for r in self._scan(self.clusters_name, ["id", "terms"]):
            yield r["id"], unpack(r["terms"])

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

    def cluster_meta(self, ids: Sequence[str]) -> dict[str, tuple[str | None, int]]:
        return {
            r["id"]: (r["date"] or None, int(r["n_sources"]))
            for r in self._records(ids, ["id", "date", "n_sources"])
        }

    def _dates(self) -> list[str]:
        return sorted(r["date"] for r in self._scan(self.clusters_name, ["date"]) if r["date"])

    def newest_date(self) -> str | None:
        dates = self._dates()
        return dates[-1] if dates else None

    def oldest_date(self) -> str | None:
        dates = self._dates()
        return dates[0] if dates else None

    def _count(self, collection: str, expr: str = "") -> int:
        rows = self._query(collection, expr, ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

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

    # --- saved searches and alerts (alerts.py): rows of the meta collection --------------

    def saved_searches(self) -> list[dict[str, Any]]:
        rows = self._query(self.meta_name, 'key like "search:%"', ["value"], limit=MAX_LIMIT)
        found = [json.loads(r["value"]) for r in rows]
        return sorted(found, key=lambda r: (r.get("created_at", ""), r["id"]))

    def put_saved_search(self, search_id: str, record: dict[str, Any]) -> None:
        self._put_meta({f"search:{search_id}": json.dumps(record)})

    def delete_saved_search(self, search_id: str) -> bool:
        key = literal(f"search:{search_id}")
        if not self._query(self.meta_name, f"key == {key}", ["key"]):
            return False
        self.call("delete", self.meta_name, filter=f"key == {key}")
        return True

    def add_alerts(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Record alerts; their ids are their keys (time first: they sort by it)."""
        keyed = {f"alert:{r['matched_at']}:{secrets_hex()}": r for r in rows}
        for i in range(0, len(keyed), self.params.batch):
            part = dict(list(keyed.items())[i : i + self.params.batch])
            self._put_meta({k: json.dumps(v) for k, v in part.items()})
        return list(keyed)

    def set_alert_delivery(self, alert_id: str, status: str) -> None:
        rows = self._query(self.meta_name, f"key == {literal(alert_id)}", ["value"])
        if rows:
            self._put_meta(
                {alert_id: json.dumps({**json.loads(rows[0]["value"]), "delivery": status})}
            )

    def alerts_since(self, since: str | None, limit: int) -> list[dict[str, Any]]:
        expr = f'key like "alert:%" and key > {literal("alert:" + (since or ""))}'
        rows = self._query(self.meta_name, expr, ["key", "value"], limit=MAX_LIMIT)
        found = [{"id": r["key"], **json.loads(r["value"])} for r in rows]
        found = [a for a in found if a["matched_at"] > (since or "")]
        return sorted(found, key=lambda a: (a["matched_at"], a["id"]))[:limit]

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
                    ["id", "cluster_id", "field", "position", "text", "vector"],
                )
            )
        for r in sorted(rows, key=lambda r: int(r["id"])):
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
            consistency_level="Strong",
        )
        return [(int(h["id"]), float(h["distance"])) for h in result[0]]

    def word_search(
        self, terms: Sequence[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score) from Milvus' BM25 over the passages' words. Scores
        are returned as positive, higher better (milvus-lite reports them negated)."""
        tokens = [tok for toks in tokenizer().tokens(list(terms)) for tok in toks]
        if not tokens:
            return []
        result = self.call(
            "search",
            self.passages_name,
            data=[" ".join(tokens)],
            anns_field="sparse",
            limit=min(limit, MAX_LIMIT),
            filter=self.passage_filter(filters),
            search_params={"metric_type": "BM25"},
            output_fields=["id"],
            consistency_level="Strong",
        )
        return [(int(h["id"]), abs(float(h["distance"]))) for h in result[0]]

    def trigram_search(
        self, terms: Sequence[str], chunk: int, pieces: int, limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """Milvus has no character-trigram index: unknown words are matched through the
        vocabulary's close words only (`vocabulary`); see BENCHMARKS.md for the cost."""
        return []

    def unknown_terms(self, terms: Sequence[str]) -> list[str]:
        """The terms no cluster holds, by the clusters' analysed words (read once per
        generation): no round trip per query. A BM25 probe per term cost a full scan on
        milvus-lite (2.8 s at 12k passages)."""
        words = self._words()[0]
        return [t for t in terms if (stems := analyze(t)) and not any(w in words for w in stems)]

    def vocabulary(self) -> Vocabulary:
        """The index's words of four letters or more (Milvus cannot list an analysed
        field's words): what an unknown query word is matched against (fuzzy.py)."""
        return self._words()[1]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of clusters, and in how many of them each analysed term occurs,
        from the same once-per-generation read as `unknown_terms`."""
        words, _, clusters = self._word_stats()
        return clusters, {t: words[t] for t in terms if t in words}

    def _words(self) -> tuple[Counter[str], Vocabulary]:
        words, vocabulary, _ = self._word_stats()
        return words, vocabulary

    def _word_stats(self) -> tuple[Counter[str], Vocabulary, int]:
        """Every analysed word of the clusters' term counts with its document frequency,
        and the number of clusters, once per generation."""
        generation = self.generation
        cached = self._vocabulary
        if cached is not None and cached[0] == generation:
            return cached[1]
        words: Counter[str] = Counter()
        clusters = 0
        for _, counts in self.all_term_counts():
            words.update(counts.keys())
            clusters += 1
        found = (words, Vocabulary(sorted(w for w in words if len(w) >= 4)), clusters)
        self._vocabulary = (generation, found)
        return found

    def facet_counts(self, ids: Sequence[str], entities: int) -> dict[str, list[dict[str, Any]]]:
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
