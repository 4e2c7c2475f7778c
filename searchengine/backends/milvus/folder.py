"""An index in Milvus, as the engine sees an index folder (see folder.py for the embedded one).

Named by a URI: `milvus://HOST:PORT/PREFIX` (`milvuss://` for TLS). A token,
when the server wants one, comes from `SEARCHENGINE_MILVUS_TOKEN`
("user:password" or an API key) so it never shows in a process list.

What the embedded folder keeps per process (the FAISS index, the passages in
memory, the vector log and checkpoints) has no counterpart here: every read
asks Milvus, which always holds the newest committed rows. What stays in a
process is derived and refreshed by generation: the cluster matrix behind
related stories and recommendations (as in the embedded folder) and the
vocabulary of close words for unknown query words.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from searchengine.backends.index_types import AUTO_APPROX
from searchengine.backends.locks import reading_generation
from searchengine.backends.manifest import IndexStats, Manifest, describe, now
from searchengine.backends.memory import MemoryState
from searchengine.backends.milvus.connection import (
    LAYOUT,
    LAYOUT_VERSION,
    MilvusParams,
    milvus_index,
)
from searchengine.backends.milvus.store import MilvusStore
from searchengine.backends.storage import PassageSelection
from searchengine.encoders.encoder import EncoderId, canonical_name
from searchengine.environment import environment
from searchengine.errors import BackendUnavailable, IndexCorrupt, IndexNotFound, ModelMismatch

AUTO_MILVUS = AUTO_APPROX  # what `auto` builds on Milvus (see MilvusFolder)

SCHEMES = ("milvus://", "milvuss://")
# A Milvus collection name: a letter or underscore, then letters, digits and
# underscores; the prefix leaves room for "_passages".
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
CONNECT_TIMEOUT = 5.0  # seconds: an unreachable server is reported, not waited on


def is_milvus(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEMES)


DEFAULT_DATABASE = "default"  # Milvus' own; a URI may name another


@dataclass(frozen=True)
class MilvusLocation:
    """`milvus://host:port/[database/]prefix` taken apart."""

    uri: str  # as the user wrote it (what errors name)
    endpoint: str  # what pymilvus connects to
    prefix: str
    database: str = DEFAULT_DATABASE

    @classmethod
    def parse(cls, uri: str) -> MilvusLocation:
        scheme, _, rest = uri.partition("://")
        address, _, path = rest.partition("/")
        parts = [p for p in path.split("/") if p]
        if not address or not 1 <= len(parts) <= 2:
            raise IndexNotFound(
                f"{uri}: a Milvus index is named milvus://HOST:PORT/PREFIX, or "
                "milvus://HOST:PORT/DATABASE/PREFIX (e.g. milvus://127.0.0.1:19530/news)"
            )
        for what, name in zip(("database", "prefix")[2 - len(parts) :], parts, strict=True):
            if not _PREFIX.match(name):
                raise IndexNotFound(
                    f"{uri}: the {what} {name!r} is not a Milvus "
                    f"{'collection' if what == 'prefix' else 'database'} name "
                    "(letters, digits and underscores, not starting with a digit)"
                )
        if ":" not in address:
            address += ":19530"
        http = "https" if scheme == "milvuss" else "http"
        database = parts[0] if len(parts) == 2 else DEFAULT_DATABASE
        return cls(uri, f"{http}://{address}", parts[-1], database)


# pymilvus pings every 10 s, with or without calls open. A gRPC server with default
# enforcement (milvus-lite's) allows a ping without calls once per 5 minutes and, after
# two strikes, closes the connection with GOAWAY "too_many_pings": under a loaded test
# run that refused a test's next connection. Ping only while calls are open, once a
# minute (long scans still keep their connection alive).
KEEPALIVE = {"grpc.keepalive_permit_without_calls": False, "grpc.keepalive_time_ms": 60_000}


def connect(
    location: MilvusLocation, params: MilvusParams, create_database: bool = False
) -> MilvusStore:
    """A client for the server and the location's database (made first when
    `create_database`), or an error naming it."""
    import logging

    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise BackendUnavailable(
            f"{location.uri} needs the Milvus client (pymilvus): from the checkout, "
            "`.venv/bin/pip install -e '.[milvus]'`"
        ) from None

    # pymilvus logs a warning per paged query against servers without MVCC stamps, and
    # every failed call as an error of its own: each failure reaches the user once, as
    # the one-line BackendUnavailable that `call` raises with pymilvus' message.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    options = {
        "uri": location.endpoint,
        "token": environment().milvus_token or "",
        "timeout": CONNECT_TIMEOUT,
        "grpc_options": KEEPALIVE,
    }
    try:
        if location.database != DEFAULT_DATABASE:
            server = MilvusClient(**options)
            try:
                if location.database not in server.list_databases():
                    if not create_database:
                        raise IndexNotFound(
                            f"no index at {location.uri} (no database {location.database!r}); "
                            f"build one with `searchengine index --index {location.uri} PATH...`"
                        )
                    server.create_database(location.database)
            finally:
                server.close()
        client = MilvusClient(**options, db_name=location.database)
    except MilvusException as err:
        raise BackendUnavailable(
            f"cannot reach Milvus at {location.uri}: {getattr(err, 'message', err)}"
        ) from None
    return MilvusStore(client, location.prefix, location.uri, params)


class MilvusVectors:
    """The passages' vectors in Milvus behind the engine's vector interface; a filter
    arrives as a Milvus expression (`MilvusStore.allowed_passage_ids`)."""

    def __init__(self, store: MilvusStore, index_type: str) -> None:
        self.store = store
        self.index_type = index_type

    def search(
        self, vector: np.ndarray, k: int, allowed: PassageSelection | None = None
    ) -> list[tuple[int, float]]:
        if allowed is not None and not isinstance(allowed, str):
            raise TypeError("Milvus takes a filter expression, not passage ids")
        return self.store.dense_search(vector, k, allowed, self.index_type)

    def __len__(self) -> int:
        return self.store._count(self.store.passages_name)


class MilvusFolder:
    """An index in Milvus with the interface of `folder.IndexFolder`."""

    # Milvus builds the vector index once, when the collection is made: `auto` is HNSW
    # from the start (a graph at any size: there is no per-process rebuild to follow a
    # switch, and an exact FLAT search over millions of passages is what Milvus is for
    # avoiding); `--index-type Flat` asks for exact search.
    follows_auto_index_type = False

    def __init__(self, location: MilvusLocation, store: MilvusStore, manifest: Manifest) -> None:
        self.location = location
        self.path = location.uri
        self.store = store
        self.manifest = manifest
        self._thread_lock = threading.RLock()
        self._local = threading.local()

    # --- opening and creating ------------------------------------------------------------

    @classmethod
    def open(
        cls, uri: str, model: str | None = None, params: MilvusParams | None = None
    ) -> MilvusFolder:
        location = MilvusLocation.parse(uri)
        store = connect(location, params or MilvusParams())
        try:
            present = store.exists()
            if not any(present.values()):
                raise IndexNotFound(
                    f"no index at {uri} (no collections named {location.prefix}_*); build one "
                    f"with `searchengine index --index {uri} PATH...`"
                )
            if not all(present.values()):
                missing = ", ".join(n for n, ok in present.items() if not ok)
                raise IndexCorrupt(
                    f"{uri} is incomplete (missing {missing}); rebuild with "
                    f"`searchengine index --rebuild --index {uri} ...`"
                )
            store.load()  # (after a Milvus restart nothing is loaded)
            manifest = _manifest(store.all_meta(), uri)
            if model is not None and canonical_name(model) != manifest.model:
                raise ModelMismatch(
                    f"the index at {uri} was built with model {manifest.model!r}, not "
                    f"{model!r}; search it with its own model, or rebuild it with "
                    f"`searchengine index --rebuild --model {model} --index {uri} ...`"
                )
        except BaseException:
            store.close()
            raise
        return cls(location, store, manifest)

    @classmethod
    def create(
        cls,
        uri: str,
        model: str,
        dimension: int,
        index_type: str,
        encoder: EncoderId,
        params: MilvusParams | None = None,
    ) -> MilvusFolder:
        """A new, empty index (or the existing one, when it is whole). Collections left
        by a creation that died before its meta row are dropped and made again: they
        hold nothing yet."""
        location = MilvusLocation.parse(uri)
        params = params or MilvusParams()
        actual = AUTO_MILVUS if index_type == "auto" else index_type
        milvus_index(actual, params)  # a type Milvus cannot build fails before any write
        store = connect(location, params, create_database=True)
        try:
            present = store.exists()
            if all(present.values()):
                store.close()
                return cls.open(uri, model, params)
            if any(present.values()):
                store.drop_if_empty()
            stamp = now()
            store.create(
                dimension,
                actual,
                {
                    "model": model,
                    "dimension": str(dimension),
                    "encoder": _json(encoder.to_dict()),
                    "index_type_requested": index_type,
                    "index_type": actual,
                    "created_at": stamp,
                },
            )
            manifest = _manifest(store.all_meta(), uri)
        except BaseException:
            store.close()
            raise
        return cls(location, store, manifest)

    def close(self) -> None:
        self.store.close()

    # --- what the embedded folder keeps in memory: nothing to keep here --------------------

    def keep_in_memory(self, wait: bool = False) -> None:
        """(Every read asks Milvus.)"""

    def memory_state(self) -> MemoryState:
        return {"kept": False, "generation": None, "passages": 0, "error": None}

    def latest_memory(self) -> None:
        return None

    def memory(self) -> None:
        return None

    # --- writers -------------------------------------------------------------------------

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """The writers of this process one at a time. (Between processes, each
        `store.write()` holds the index's write lease, lease.py: a writer's decisions,
        which clusters changed, and its writes are one turn.)"""
        with self._thread_lock:
            yield

    def index_type_setting(self) -> tuple[str, str]:
        meta = self.store.all_meta()
        return (
            meta.get("index_type_requested") or self.manifest.index_type_requested,
            meta.get("index_type") or self.manifest.index_type,
        )

    def after_write(self, generation: int, removed: int) -> None:
        """(Milvus compacts its segments itself, and keeps no vector log of ours.)"""

    def settle(self, force: bool = False) -> None:
        """(Milvus persists every write itself.)"""

    # --- readers -------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[int]:
        """The generation now (one small query; re-entrant within a thread). Milvus has
        no snapshots: a write landing during a read may show in part of its answer."""
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield local.generation
            finally:
                local.depth -= 1
            return
        gen, index_type = self.store.state()
        local.depth, local.generation, local.index_type = 1, gen, index_type
        self.store.reading_at(gen)
        try:
            yield gen
        finally:
            local.depth = 0
            self.store.reading_at(None)

    @property
    def vectors(self) -> MilvusVectors:
        reading_generation(self._local)
        index_type = self._local.index_type or self.manifest.index_type
        return MilvusVectors(self.store, index_type)

    def stats(self) -> IndexStats:
        with self.reading() as gen:
            counts = self.store.counts()
            meta = self.store.all_meta()
            m = _manifest(meta, self.path)
            return describe(
                m,
                counts,
                backend="milvus",
                vectors=counts["passages"],
                generation=gen,
                index_type=m.index_type,
                requested=m.index_type_requested,
                parts=[self.store.passages_name, self.store.clusters_name, self.store.meta_name],
            )


def remove_milvus_index(uri: str) -> None:
    """Drop an index's collections (for `--rebuild`): meta first, so a drop cut short
    leaves an index that says it is incomplete rather than one that looks whole."""
    location = MilvusLocation.parse(uri)
    store = connect(location, MilvusParams())
    try:
        store.drop()
    finally:
        store.close()


def _json(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _manifest(meta: dict[str, str], uri: str) -> Manifest:
    import json

    if "model" in meta and meta.get(LAYOUT) != LAYOUT_VERSION:
        raise IndexCorrupt(
            f"{uri} was made by an older searchengine (layout {meta.get(LAYOUT, '1')}; "
            f"this one reads layout {LAYOUT_VERSION}: passages carry their cluster's "
            "version, outlets are kept by registered domain); index the digests again "
            f"under a new prefix: `searchengine index --index {uri}_2 PATH...`"
        )
    try:
        return Manifest(
            model=meta["model"],
            dimension=int(meta["dimension"]),
            index_type_requested=meta.get("index_type_requested", "auto"),
            index_type=meta.get("index_type", "Flat"),
            encoder=json.loads(meta.get("encoder") or "{}"),
            created_at=meta.get("created_at", ""),
            updated_at=meta.get("updated_at", ""),
        )
    except (KeyError, ValueError) as err:
        raise IndexCorrupt(
            f"{uri}: its meta collection is not a searchengine index's ({err}); rebuild with "
            f"`searchengine index --rebuild --index {uri} ...`"
        ) from None
