"""Copying an index's clusters into another — a folder into Milvus, or back — with the
stored embeddings: nothing is encoded again. Clusters already there unchanged are
skipped, changed ones replaced; clusters only the target holds are left alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from searchengine.backends.index import IndexBackend, create_index, location, open_existing
from searchengine.backends.manifest import Manifest
from searchengine.backends.storage import RecordStore
from searchengine.core.documents import Cluster
from searchengine.encoders.encoder import EncoderId
from searchengine.errors import ModelMismatch
from searchengine.ingest.indexer import AddReport, Known

# Clusters read from the source index per step of a copy (records and embeddings
# of ~2,500 passages in memory at a time).
COPY_BATCH = 256


class Source(Protocol):
    folder: IndexBackend

    @property
    def store(self) -> RecordStore: ...


class Target(Protocol):
    def add(
        self, clusters: Sequence[Cluster], *, progress: bool = False, known: Known | None = None
    ) -> AddReport: ...


def target_index(source: Manifest, target: str | Path, index_type: str) -> IndexBackend:
    """The index a copy goes into: the one at `target`, or a new one for the source's
    model; either way its vectors must have the source's dimension."""
    where = location(target)
    folder = open_existing(where, source.model) or create_index(
        where, source.model, source.dimension, index_type, EncoderId.from_dict(source.encoder)
    )
    if folder.manifest.dimension != source.dimension:
        folder.close()
        raise ModelMismatch(
            f"{where} holds {folder.manifest.dimension}-dimensional vectors, "
            f"this index {source.dimension}"
        )
    return folder


def copy_clusters(source: Source, target: Target, *, progress: bool = False) -> AddReport:
    """Every cluster of `source` into `target`, batch by batch, embeddings included."""
    dimension = source.folder.manifest.dimension
    with source.folder.reading():
        ids = source.store.cluster_ids()

    def known(hashes: set[str]) -> dict[str, np.ndarray]:
        with source.folder.reading():
            return source.store.embeddings_by_hash(hashes, dimension)

    report = AddReport()
    bar = _bar(len(ids)) if progress else None
    for i in range(0, len(ids), COPY_BATCH):
        with source.folder.reading():
            clusters = source.store.get_clusters(ids[i : i + COPY_BATCH])
        part = target.add(
            [clusters[c] for c in ids[i : i + COPY_BATCH] if c in clusters], known=known
        )
        report.merge(part)
        if bar is not None:
            bar.update(min(COPY_BATCH, len(ids) - i))
    if bar is not None:
        bar.close()
    return report


def _bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="copying", unit="cluster", leave=True)
