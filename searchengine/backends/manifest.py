"""`manifest.json`: what an index is (model, dimension, index type) and where its last
vector checkpoint is. Written atomically, checked when the index is opened."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from searchengine._version import __version__ as ENGINE_VERSION
from searchengine.errors import IndexCorrupt

FORMAT_VERSION = 2
LEGACY_VECTORS = "vectors.faiss"


@dataclass
class Manifest:
    """What an index is: written at creation, refreshed at every vector checkpoint."""

    model: str
    dimension: int
    index_type_requested: str = "auto"
    index_type: str = "Flat"
    generation: int = 0  # the generation of the vector checkpoint
    vectors_file: str | None = None
    # What made the vectors: runtime, precision, weights hash (encoder.EncoderId).
    encoder: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"clusters": 0, "articles": 0, "passages": 0}
    )
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    updated_at: str = ""
    engine_version: str = ENGINE_VERSION

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if int(data.get("format_version", 0)) > FORMAT_VERSION:
                raise IndexCorrupt(
                    f"{path.parent} was written by a newer searchengine; upgrade to open it"
                )
            known = {f for f in cls.__dataclass_fields__}
            manifest = cls(**{k: v for k, v in data.items() if k in known})
            manifest.dimension = int(manifest.dimension)
            manifest.generation = int(manifest.generation)
        except (OSError, ValueError, TypeError) as err:
            raise IndexCorrupt(
                f"{path} cannot be read ({err}); rebuild with "
                f"`searchengine index --rebuild --index {path.parent} ...`"
            ) from None
        if manifest.vectors_file is None and manifest.format_version < 2:
            manifest.vectors_file = LEGACY_VECTORS  # format 1 had one fixed name
        return manifest

    def write(self, path: Path) -> None:
        """Atomically: a reader sees the old manifest or the new one, never half."""
        self.updated_at = now()
        self.format_version = FORMAT_VERSION
        self.engine_version = ENGINE_VERSION
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IndexStats(TypedDict):
    """What `stats` says of an index, one shape for both backends."""

    clusters: int
    articles: int
    passages: int
    vectors: int
    generation: int
    index_type: str
    index_type_requested: str
    backend: str
    parts: list[str]
    size_bytes: int | None
    checkpoint_generation: int | None
    model: str
    dimension: int
    encoder: dict[str, str]
    created_at: str
    updated_at: str
    format_version: int


def describe(
    manifest: Manifest,
    counts: dict[str, int],
    *,
    backend: str,
    vectors: int,
    generation: int,
    index_type: str,
    requested: str,
    parts: list[str],
    size_bytes: int | None = None,
    checkpoint_generation: int | None = None,
) -> IndexStats:
    """What `stats` says of an index, in one shape for both backends (`/stats`, the
    `stats` command). `parts`: its files, or its Milvus collections; `size_bytes` and
    `checkpoint_generation` are the embedded backend's (None on Milvus: the disk is the
    server's, and there is no vector checkpoint)."""
    return {
        "clusters": counts["clusters"],
        "articles": counts["articles"],
        "passages": counts["passages"],
        "vectors": vectors,
        "generation": generation,
        "index_type": index_type,
        "index_type_requested": requested,
        "backend": backend,
        "parts": parts,
        "size_bytes": size_bytes,
        "checkpoint_generation": checkpoint_generation,
        "model": manifest.model,
        "dimension": manifest.dimension,
        "encoder": manifest.encoder,
        "created_at": manifest.created_at,
        "updated_at": manifest.updated_at,
        "format_version": manifest.format_version,
    }
