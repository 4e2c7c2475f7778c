"""Clusters -> passages -> vectors -> store: the write path, incremental and batched.

Unchanged clusters (same id, same content hash) cost nothing; a changed
cluster is replaced; and a passage whose text was ever encoded into this
index (found by the hash of the text the encoder read) keeps that embedding
instead of being encoded again.

Encoding, the slow part, runs without any lock. Each batch then takes the
folder's write lock (against every other writer, in any process), checks
again what is already stored — another writer may have indexed the same
clusters meanwhile — and commits in one transaction that also logs the vector
changes. Readers never wait for the encoder, and never see half a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.backends.index import IndexBackend
from searchengine.backends.index_types import choose_index_type
from searchengine.core.documents import Cluster, Field, Passage, passages_of, text_hash
from searchengine.encoders.encoder import Encoder
from searchengine.errors import BadRequest, ParseError, UnknownId
from searchengine.ingest.parse import iter_files
from searchengine.limits import DEFAULT_LIMITS, InputLimits

# Clusters per transaction: big enough that commit overhead vanishes next to
# encoding (~2,300 passages), small enough that a concurrent writer or a crash
# waits for / loses at most a few seconds of work.
BATCH_CLUSTERS = 256

# Relative weight of each field in a cluster's own vector (related / recommend).
# The summary states what the story is; key points restate it; articles add
# angles (and noise), so they weigh least.
# Embeddings already computed elsewhere, by text hash (another index being copied in).
Known = Callable[[set[str]], dict[str, np.ndarray]]

FIELD_WEIGHTS = {Field.SUMMARY: 2.0, Field.KEY_POINT: 1.0, Field.ARTICLE: 0.75}


@dataclass
class AddReport:
    """What an add did, for the user and for the passages-per-second figure."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    passages_encoded: int = 0
    passages_reused: int = 0
    encode_seconds: float = 0.0
    total_seconds: float = 0.0
    alerts: list[dict[str, Any]] = field(default_factory=list)  # saved searches matched

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)

    @property
    def passages_per_second(self) -> float:
        return self.passages_encoded / self.encode_seconds if self.encode_seconds else 0.0

    def merge(self, other: AddReport) -> None:
        """Add another part's counts to these (a run done in several parts)."""
        self.added += other.added
        self.replaced += other.replaced
        self.unchanged += other.unchanged
        self.passages_encoded += other.passages_encoded
        self.passages_reused += other.passages_reused
        self.encode_seconds += other.encode_seconds
        self.total_seconds += other.total_seconds
        self.alerts += other.alerts

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "passages_encoded": self.passages_encoded,
            "passages_reused": self.passages_reused,
            "passages_per_second": round(self.passages_per_second, 1),
            "seconds": round(self.total_seconds, 3),
            "alerts": len(self.alerts),
        }


@dataclass
class IndexRun:
    """The outcome of indexing files: what changed, and every parse error met on the way."""

    report: AddReport
    errors: list[ParseError] = field(default_factory=list)
    files: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "files": self.files,
            "errors": [e.to_dict() for e in self.errors],
        }


def cluster_vector(passages: Sequence[Passage], embeddings: np.ndarray) -> np.ndarray:
    """One vector for the whole cluster: the field-weighted mean of its passage
    vectors, renormalised. Built from embeddings already computed, so it costs
    no encoding and moves with the cluster's content."""
    weights = np.array([FIELD_WEIGHTS[p.field] for p in passages], dtype=np.float32)
    if weights.size == 0:
        return np.zeros(embeddings.shape[1], dtype=np.float32)
    weights /= weights.sum()
    vector = (embeddings * weights[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


class Batch:
    """One batch of clusters to write in a single transaction."""

    def __init__(self, clusters: list[Cluster]) -> None:
        self.clusters = clusters
        self.passages = {c.id: passages_of(c) for c in clusters}

    def text_hashes(self) -> set[str]:
        return {text_hash(p.embed_text) for ps in self.passages.values() for p in ps}


def encode_batch(
    batch: Batch,
    reuse: dict[str, np.ndarray],
    encoder: Encoder | None,
    report: AddReport,
    progress: object | None = None,
    chunk: int = 256,
    dimension: int = 0,
) -> dict[str, np.ndarray]:
    """Embeddings for every passage of the batch, reusing stored ones (`reuse` maps the
    hash of the text the encoder reads to its embedding)."""
    todo: list[str] = []
    for passages in batch.passages.values():
        todo.extend(p.embed_text for p in passages if text_hash(p.embed_text) not in reuse)
    # Longest first over the whole batch: sentence-transformers sorts by length only
    # within one encode() call, and mixed lengths in a 256-text chunk mean padding.
    todo = sorted(dict.fromkeys(todo), key=len, reverse=True)
    encoded: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    for i in range(0, len(todo), chunk):
        texts = todo[i : i + chunk]
        if encoder is None:
            raise RuntimeError("texts to encode but no encoder (open the engine with one)")
        vectors = encoder.encode(texts)
        encoded.update(zip(texts, vectors, strict=True))
        if progress is not None:
            progress.update(len(texts))  # type: ignore[attr-defined]
    report.encode_seconds += time.perf_counter() - start
    report.passages_encoded += len(todo)
    out: dict[str, np.ndarray] = {}
    for cid, passages in batch.passages.items():
        rows = []
        for p in passages:
            key = text_hash(p.embed_text)
            if key in reuse:
                report.passages_reused += 1
                rows.append(reuse[key])
            else:
                rows.append(encoded[p.embed_text])
        out[cid] = np.vstack(rows) if rows else np.zeros((0, dimension), np.float32)
    return out


class Indexer:
    """The write path of one index folder: add (new, replaced, unchanged) and remove."""

    def __init__(self, folder: IndexBackend, encoder: Callable[[], Encoder]) -> None:
        self.folder = folder
        self.store = folder.store
        self._encoder = encoder  # called only when something must be encoded

    def add(
        self,
        clusters: Iterable[Cluster],
        progress: bool = False,
        known: Known | None = None,
    ) -> AddReport:
        """Index clusters: new ones are added, changed ones replaced, unchanged ones skipped.
        `known` gives embeddings by text hash from elsewhere (another index being copied
        in): those texts are not encoded again."""
        started = time.perf_counter()
        report = AddReport()
        latest: dict[str, Cluster] = {}
        for cluster in clusters:
            latest[cluster.id] = cluster  # the last version of an id in one call wins
        with self.folder.reading():
            hashes = self.store.content_hashes(latest)
        todo = []
        for cid, cluster in latest.items():
            if hashes.get(cid) == cluster.content_hash():
                report.unchanged.append(cid)
            else:
                todo.append(cluster)
        batches = [Batch(todo[i : i + BATCH_CLUSTERS]) for i in range(0, len(todo), BATCH_CLUSTERS)]
        bar = _progress(batches) if progress and batches else None
        try:
            for batch in batches:
                texts = batch.text_hashes()
                with self.folder.reading():
                    reuse = self.store.embeddings_by_hash(texts, self.folder.manifest.dimension)
                if known is not None:
                    reuse.update(known(texts - reuse.keys()))
                encoder = self._encoder() if _needs_encoding(batch, reuse) else None
                embeddings = encode_batch(
                    batch, reuse, encoder, report, bar, dimension=self.folder.manifest.dimension
                )
                self._write(batch, embeddings, report, unmatched=known is None)
        finally:
            if bar is not None:
                bar.close()
        report.total_seconds = time.perf_counter() - started
        return report

    def _write(
        self,
        batch: Batch,
        embeddings: dict[str, np.ndarray],
        report: AddReport,
        unmatched: bool = True,
    ) -> None:
        """One batch in one write. `unmatched`: mark the written clusters as not yet
        matched against the saved searches, in the same write (a copy is not matched)."""
        with self.folder.write_lock(), self.store.write() as gen:
            current = self.store.content_hashes(c.id for c in batch.clusters)
            fresh = [c for c in batch.clusters if current.get(c.id) != c.content_hash()]
            fresh_ids = {c.id for c in fresh}
            report.unchanged.extend(c.id for c in batch.clusters if c.id not in fresh_ids)
            replacing = [c.id for c in fresh if c.id in current]
            removed = self.store.delete_clusters(replacing, gen)
            for cluster in fresh:
                passages, vecs = batch.passages[cluster.id], embeddings[cluster.id]
                self.store.insert_cluster(
                    cluster, passages, vecs, cluster_vector(passages, vecs), gen
                )
                (report.replaced if cluster.id in current else report.added).append(cluster.id)
            if unmatched and fresh:
                self.store.mark_unmatched([c.id for c in fresh])
            self._after_write(gen, len(removed))

    def _after_write(self, gen: int, removed: int) -> None:
        """Inside the write: switch `auto` to an approximate index once the corpus
        outgrows flat search; then the backend's own housekeeping."""
        requested = self.store.get_meta("index_type_requested") or "auto"
        if requested == "auto" and self.folder.follows_auto_index_type:
            wanted = choose_index_type("auto", self.store.counts()["passages"])
            if wanted != self.store.get_meta("index_type"):
                self.store.set_meta("index_type", wanted)
        self.folder.after_write(gen, removed)

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove clusters by id; an unknown id is an error and nothing is removed."""
        wanted = list(dict.fromkeys(ids))
        with self.folder.write_lock(), self.store.write() as gen:
            known = self.store.content_hashes(wanted)
            missing = [i for i in wanted if i not in known]
            if missing:
                raise UnknownId(f"no cluster with id {', '.join(missing)}")
            removed = self.store.delete_clusters(wanted, gen)
            self._after_write(gen, len(removed))
        return wanted

    def set_index_type(self, index_type: str) -> None:
        """Ask for another FAISS index type; every process rebuilds its vectors from
        the stored embeddings on its next read."""
        if not self.folder.follows_auto_index_type:
            raise BadRequest(
                f"{self.folder.path}: a Milvus index keeps the vector index it was created "
                "with; copy it to a new prefix with `searchengine copy --index-type TYPE`"
            )
        with self.folder.write_lock():
            with self.folder.reading():
                count = self.store.counts()["passages"]
            with self.store.write():
                self.store.set_meta("index_type_requested", index_type)
                self.store.set_meta("index_type", choose_index_type(index_type, count))


def read_paths(
    paths: Iterable[str | Path], strict: bool = False, limits: InputLimits = DEFAULT_LIMITS
) -> tuple[list[Cluster], IndexRun]:
    """Every good cluster of these files and folders, and a run holding their parse
    errors; with `strict` the first error is raised instead."""
    clusters: list[Cluster] = []
    run = IndexRun(report=AddReport())
    for _, result in iter_files(paths, limits):
        run.files += 1
        if result.errors and strict:
            raise result.errors[0]
        run.errors.extend(result.errors)
        clusters.extend(result.clusters)
    return clusters, run


def _needs_encoding(batch: Batch, reuse: dict[str, np.ndarray]) -> bool:
    return any(text_hash(p.embed_text) not in reuse for ps in batch.passages.values() for p in ps)


def _progress(batches: Sequence[Batch]) -> Any:
    from tqdm import tqdm

    total = sum(len(p) for batch in batches for p in batch.passages.values())
    return tqdm(total=total, desc="encoding", unit="passage", leave=True)
