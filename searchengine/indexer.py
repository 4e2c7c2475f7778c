"""Clusters -> passages -> vectors -> store: the write path, incremental and batched.

Unchanged clusters (same id, same content hash) cost nothing; a changed
cluster is replaced, and those of its passages whose text did not change keep
their stored embedding instead of being encoded again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .documents import Cluster, Field, Passage, passages_of
from .encoder import Encoder

# Relative weight of each field in a cluster's own vector (related / recommend).
# The summary states what the story is; key points restate it; articles add
# angles (and noise), so they weigh least.
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

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)

    @property
    def passages_per_second(self) -> float:
        return self.passages_encoded / self.encode_seconds if self.encode_seconds else 0.0


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

    def __init__(self, clusters: list[Cluster], replacing: set[str]) -> None:
        self.clusters = clusters
        self.replacing = replacing
        self.passages = {c.id: passages_of(c) for c in clusters}


def encode_batch(
    batch: Batch,
    reuse: dict[str, np.ndarray],
    encoder: Encoder,
    report: AddReport,
    progress: object | None = None,
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """Embeddings for every passage of the batch, reusing stored ones (by the text encoded)."""
    todo: list[str] = []
    for passages in batch.passages.values():
        todo.extend(p.embed_text for p in passages if p.embed_text not in reuse)
    # Longest first over the whole batch: sentence-transformers sorts by length only
    # within one encode() call, and mixed lengths in a 256-text chunk mean padding.
    todo = sorted(dict.fromkeys(todo), key=len, reverse=True)
    encoded: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    for i in range(0, len(todo), chunk):
        texts = todo[i : i + chunk]
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
            if p.embed_text in reuse:
                report.passages_reused += 1
                rows.append(reuse[p.embed_text])
            else:
                rows.append(encoded[p.embed_text])
        out[cid] = np.vstack(rows) if rows else np.zeros((0, encoder.dimension), np.float32)
    return out
