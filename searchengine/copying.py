"""Copying an index into another — a folder into Milvus, or back — with the stored
embeddings: nothing is encoded again. Clusters already there unchanged are skipped,
changed ones replaced; clusters only the target holds are left alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import create_index, location, open_existing
from .encoder import EncoderId
from .errors import ModelMismatch
from .indexer import AddReport

if TYPE_CHECKING:
    from .engine import Engine

# Clusters read from the source index per step of a copy (records and embeddings
# of ~2,500 passages in memory at a time).
COPY_BATCH = 256


def copy_index(
    source: Engine, target: str | Path, *, index_type: str = "auto", progress: bool = False
) -> AddReport:
    """Every cluster of `source` into the index at `target` (created when missing)."""
    from .engine import Engine

    m = source.folder.manifest
    where = location(target)
    recorded = EncoderId.from_dict(m.encoder)
    folder = open_existing(where, m.model) or create_index(
        where, m.model, m.dimension, index_type, recorded
    )
    with Engine(folder) as copy:
        if copy.folder.manifest.dimension != m.dimension:
            raise ModelMismatch(
                f"{where} holds {copy.folder.manifest.dimension}-dimensional vectors, "
                f"this index {m.dimension}"
            )
        with source.folder.reading():
            ids = source.store.cluster_ids()

        def known(hashes: set[str]) -> dict[str, np.ndarray]:
            with source.folder.reading():
                return source.store.embeddings_by_hash(hashes, m.dimension)

        report = AddReport()
        bar = _bar(len(ids)) if progress else None
        for i in range(0, len(ids), COPY_BATCH):
            with source.folder.reading():
                clusters = source.store.get_clusters(ids[i : i + COPY_BATCH])
            part = copy.add_copied(
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
