"""The Milvus backend's connection: one client call with one clear error and a timeout,
the meta rows (what the index is, its generation and date range, the saved searches and
alerts), and the write order that keeps a reader from seeing half a cluster. (The
collections themselves: schema.py; what they hold: store.py.)"""

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

from searchengine.backends.milvus.lease import WriteLease
from searchengine.core.documents import Cluster, fold
from searchengine.core.filters import literal, stored_hosts
from searchengine.core.fuzzy import Vocabulary
from searchengine.core.tokens import tokenizer
from searchengine.errors import BackendUnavailable, BadRequest

# The meta row with the (oldest, newest) cluster date, kept by every write.
DATE_RANGE = "date_range"
# What an index made by this code says of itself in its meta rows: "2", passages carry
# their cluster's version (an index made before has no field for it); "3", outlets are
# kept by registered domain (`filters.host_key`: a `www.` host no longer matches).
LAYOUT = "layout"
LAYOUT_VERSION = "3"
# Milvus caps a VARCHAR at 65,535 bytes and one search at 16,384 results.
MAX_VARCHAR = 65_535
MAX_LIMIT = 16_384
MAX_ARRAY = 4_096  # entity keys and hosts a row can hold (Milvus' array capacity cap)
ID_LENGTH = 512
META_DIMENSION = 2  # Milvus wants a vector field in every collection; meta's is a dummy
# The consistency each read asks of Milvus. Strong (the server first applies every
# write acknowledged before the call) is what the promise "the next request sees the
# write" needs, and what the write lease, a writer's "what changed" and the caches
# kept per generation (word list, background sample) rest on: every read but one.
# Reusing stored vectors at ingest reads Eventually: a vector it misses is encoded
# again, to the same value.
STRONG = "Strong"
EVENTUALLY = "Eventually"
# Meta keys of clusters written but not yet matched against the saved searches.
UNMATCHED = "unmatched:"
# Meta keys that are not the index's settings: saved searches, write claims, unmatched.
RECORD_KEYS = ("search:", "lease:", UNMATCHED)
# Clusters per delete expression when stale passages go (`drop_stale`): one
# `(cluster_id == .. and version != ..)` term each, well inside Milvus' expression size.
STALE_PER_DELETE = 100


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
    # Seconds one call may take before it is an error (every call has one). Reads and
    # writes of a batch take well under a second on milvus-lite here; 30 leaves room
    # for a loaded shared machine without letting a dead server hang a request.
    timeout: float = 30.0
    # Loading a collection into memory (on open, after a Milvus restart) reads all of
    # it: minutes for millions of passages.
    load_timeout: float = 600.0
    # The write lease (lease.py). A claim not renewed for `lease_seconds` is a dead
    # writer's: renewals come between insert batches (well under a second each here),
    # so 60 s is only reached by a writer that stopped; a dead process on the same
    # machine is seen at once. `lease_wait`: how long a writer waits for its turn
    # before an error (another writer holds it for one batch at a time).
    lease_seconds: float = 60.0
    lease_wait: float = 600.0


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


def unmatched_key(cluster_id: str) -> str:
    """The meta key marking a cluster unmatched (a key holds 64 characters; an id 512)."""
    return UNMATCHED + hashlib.blake2b(cluster_id.encode(), digest_size=16).hexdigest()


def passage_id(cluster_id: str, content: str, position: int) -> int:
    """A passage's id: stable for one cluster content, 63 bits (Milvus INT64 keys)."""
    digest = hashlib.blake2b(f"{cluster_id}\0{content}\0{position}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & ((1 << 63) - 1)


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
    """What one `write()` will send: removals, then passages, then cluster rows (module
    docstring of store.py)."""

    generation: int
    delete: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # cluster id -> its new version
    unmatched: dict[str, str] = field(default_factory=dict)  # meta key -> cluster id
    passages: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)


class MilvusConnection:
    """A client over one index's collections; `MilvusStore` adds what the engine asks."""

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
        self.alerts_name = f"{prefix}_alerts"
        self._local = threading.local()
        self._vocabulary: tuple[int, tuple[Counter[str], Vocabulary, int]] | None = None
        self._vocabulary_lock = threading.Lock()  # one scan per generation per process
        self._dimension = 0
        self.lease = WriteLease(self)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One client call; a failure of the server or the connection is one clear error."""
        from pymilvus.exceptions import MilvusException

        kwargs.setdefault("timeout", self.params.timeout)
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

    def _query(
        self, collection: str, expr: str, fields: list[str], consistency: str = STRONG, **kw: Any
    ) -> list[dict]:
        return list(
            self.call(
                "query",
                collection,
                filter=expr,
                output_fields=fields,
                consistency_level=consistency,
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
            consistency_level=STRONG,
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

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead channel is not an error
            pass

    def put_meta(self, values: dict[str, str]) -> None:
        rows = [
            {"key": k, "value": v, "vector": [1.0] + [0.0] * (META_DIMENSION - 1)}
            for k, v in values.items()
        ]
        self.call("upsert", self.meta_name, rows)

    def all_meta(self) -> dict[str, str]:
        """The index's own settings (model, dimension, generation, ...): every meta row
        but the saved searches, alerts and write claims that share the collection. It
        read the first 1,000 rows of all of them: past ~1,000 alerts, on a server that
        returns rows in key order, the settings fell off the end and the index would not
        open."""
        return self.meta_rows(" and ".join(f'not (key like "{k}%")' for k in RECORD_KEYS))

    def meta_rows(self, expr: str) -> dict[str, str]:
        """Meta rows matching an expression, key -> value (a paged scan: no row limit)."""
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
            self.put_meta({key: value})
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
        (a search asked three times, two of them for the same answer). A read also
        remembers the version of each cluster whose passages it counted
        (`read_versions`)."""
        self._local.reading = generation
        self._local.versions = {} if generation is not None else None

    def read_versions(self) -> dict[str, str] | None:
        """cluster id -> the version this thread's read counted passages of (None
        outside a read): a cluster row read later in the same read must be of that
        version, or a write landed in between and the row would not match the passages
        shown (Milvus has no snapshots; store.py `get_clusters`)."""
        return getattr(self._local, "versions", None)

    @contextmanager
    def write(self) -> Iterator[int]:
        """Collect one write, then send it under the write lease in the order that
        keeps every cluster whole for readers (store.py). The new generation is a
        microsecond clock past the current one: writers in several processes need no
        shared counter to tell readers that something changed."""
        with self.lease.holding():
            gen = max(self.state()[0] + 1, time.time_ns() // 1000)
            pending = _PendingWrite(gen)
            self._local.write = pending
            try:
                yield gen
            finally:
                self._local.write = None
            self._send(pending)

    def _send(self, pending: _PendingWrite) -> None:
        touched = list(dict.fromkeys([*pending.delete, *pending.written]))
        if touched:
            self.lease.intend(touched)  # (before any of them changes)
        if pending.unmatched:  # (before their rows: a committed cluster is always marked)
            self.put_meta(pending.unmatched)
        gone = self._dates_of(touched)
        removed = [c for c in pending.delete if c not in pending.written]
        for expr in self._in("id", removed):
            self.call("delete", self.clusters_name, filter=expr)
        for expr in self._in("cluster_id", removed):
            self.call("delete", self.passages_name, filter=expr)
        step = self.params.batch
        for rows, name in (
            (pending.passages, self.passages_name),
            (pending.clusters, self.clusters_name),  # (each row switches its cluster over)
        ):
            for i in range(0, len(rows), step):
                self.lease.renew()
                self.call("upsert", name, rows[i : i + step])
        self.drop_stale(list(pending.written), pending.written)
        added = [str(r["date"]) for r in pending.clusters if r.get("date")]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.put_meta(
            {
                **pending.meta,
                "generation": str(pending.generation),
                "updated_at": stamp,
                DATE_RANGE: json.dumps(self._date_range_after(gone, added)),
            }
        )

    def content_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        """Each cluster's current version (its row's content hash); absent: no row."""
        out: dict[str, str] = {}
        for expr in self._in("id", ids):
            out.update(
                (r["id"], r["content_hash"])
                for r in self._query(self.clusters_name, expr, ["id", "content_hash"])
            )
        return out

    def drop_stale(
        self, cluster_ids: Sequence[str], versions: dict[str, str] | None = None
    ) -> None:
        """Delete the passages of these clusters that are not of their cluster row's
        version (all of them for a cluster without a row). `versions` gives the rows'
        versions when the caller just wrote them; otherwise they are read."""
        if not cluster_ids:
            return
        if versions is None:
            versions = self.content_hashes(cluster_ids)
        terms = [
            f"(cluster_id == {literal(c)} and version != {literal(versions[c])})"
            if c in versions
            else f"cluster_id == {literal(c)}"
            for c in dict.fromkeys(cluster_ids)
        ]
        for i in range(0, len(terms), STALE_PER_DELETE):
            self.call(
                "delete", self.passages_name, filter=" or ".join(terms[i : i + STALE_PER_DELETE])
            )

    def _dates_of(self, ids: list[str]) -> list[str]:
        """The dates of these clusters (before a write deletes them)."""
        found: list[str] = []
        for expr in self._in("id", ids):
            found += [str(r["date"]) for r in self._query(self.clusters_name, expr, ["date"])]
        return [d for d in found if d]

    def date_range(self) -> tuple[str | None, str | None]:
        """(oldest, newest) cluster date: kept by writers in the meta rows, so freshness
        (recommend, --half-life-days) reads one row instead of every cluster's date. An
        index written before the row existed is scanned (until its next write)."""
        rows = self._query(self.meta_name, f"key == {literal(DATE_RANGE)}", ["value"])
        if rows:
            oldest, newest = json.loads(rows[0]["value"])
            return oldest, newest
        return self._scanned_date_range()

    def _scanned_date_range(self) -> tuple[str | None, str | None]:
        dates = [str(r["date"]) for r in self._scan(self.clusters_name, ["date"]) if r["date"]]
        return (min(dates), max(dates)) if dates else (None, None)

    def _date_range_after(self, gone: list[str], added: list[str]) -> list[str | None]:
        """The range after a write that removed clusters of dates `gone` and wrote ones of
        dates `added`: widened by what came, scanned again only when a cluster on its
        edge went (the edge may have moved in). Read just before it is written, so two
        writers' widenings both count unless they finish at the same instant."""
        oldest, newest = self.date_range()
        if any(d in (oldest, newest) for d in gone):
            oldest, newest = self._scanned_date_range()  # (after the deletes and inserts)
        dates = [d for d in (oldest, newest, *added) if d]
        return [min(dates), max(dates)] if dates else [None, None]

    def _pending(self) -> _PendingWrite:
        pending: _PendingWrite | None = getattr(self._local, "write", None)
        if pending is None:
            raise RuntimeError("write outside write()")
        return pending

    def _count(self, collection: str, expr: str = "") -> int:
        rows = self._query(collection, expr, ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0
