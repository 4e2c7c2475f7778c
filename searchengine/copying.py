"""Copying an index's clusters into another — a folder into Milvus, or back — with the
stored embeddings: nothing is encoded again. Clusters already there unchanged are
skipped, changed ones replaced; clusters only the target holds are left alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .backend import IndexBackend
from .documents import Cluster
from .indexer import AddReport
from .storage import RecordStore

# Clusters read from the source index per step of a copy (records and embeddings
# of ~2,500 passages in memory at a time).
COPY_BATCH = 256


class Source(Protocol):
    folder: IndexBackend

    @property
    def store(self) -> RecordStore: ...


class Target(Protocol):
    def add_copied(
        self, clusters: Sequence[Cluster], known: Callable[[set[str]], dict[str, np.ndarray]]
    ) -> AddReport: ...


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
        part = target.add_copied(
            [clusters[c] for c in ids[i : i + COPY_BATCH] if c in clusters], known
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
