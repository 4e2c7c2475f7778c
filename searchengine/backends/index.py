"""Where an index lives: a folder on this machine (SQLite + FTS5 + FAISS, the
default) or a Milvus server (`milvus://HOST:PORT/PREFIX`), chosen by the
`--index` value alone. The engine, CLI and API hold an index through the
interface below and never ask which one it is.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from searchengine.backends.manifest import IndexStats, Manifest
from searchengine.backends.memory import MemoryIndex, MemoryState
from searchengine.backends.milvus.folder import MilvusFolder, is_milvus, remove_milvus_index
from searchengine.backends.storage import RecordStore, Vectors
from searchengine.encoders.encoder import (
    DEFAULT_MODEL,
    Encoder,
    EncoderId,
    identity,
    load_encoder,
)

Location = Path | str


class IndexBackend(Protocol):
    """What the engine, the indexer and the story layer ask of an index: its records
    (`store`, the storage contract), its vectors at the reading generation, one
    consistent read (`reading`), one writer at a time (`write_lock`), and the backend's
    own housekeeping after writes (`after_write`, `settle`: SQLite's logs and FAISS
    checkpoints in the folder; nothing in Milvus)."""

    manifest: Manifest
    follows_auto_index_type: bool  # whether `auto` may switch index type as it grows

    @property
    def path(self) -> Location: ...
    @property
    def store(self) -> RecordStore: ...
    @property
    def vectors(self) -> Vectors: ...
    def reading(self) -> AbstractContextManager[int]: ...
    def write_lock(self) -> AbstractContextManager[None]: ...
    def memory(self) -> MemoryIndex | None: ...
    def latest_memory(self) -> MemoryIndex | None: ...
    def keep_in_memory(self, wait: bool = False) -> None: ...
    def memory_state(self) -> MemoryState: ...
    def index_type_setting(self) -> tuple[str, str]: ...
    def after_write(self, generation: int, removed: int) -> None: ...
    def settle(self, force: bool = False) -> None: ...
    def stats(self) -> IndexStats: ...
    def close(self) -> None: ...


def location(value: str | Path) -> Location:
    """A Milvus URI stays a string (a Path would fold its `//`); anything else is a folder."""
    return value if is_milvus(value) else Path(value)


def open_existing(where: Location, model: str | None = None) -> IndexBackend | None:
    """The index there, opened, or None when there is none. One open: a Milvus URI is
    asked once (asking whether it exists, then opening it, connected twice)."""
    if is_milvus(where):
        from searchengine.errors import IndexCorrupt, IndexNotFound

        try:
            return open_index(where, model)
        except (IndexNotFound, IndexCorrupt):
            return None  # creating it says what is in the way, if anything
    if not (Path(where) / "manifest.json").exists():
        return None
    return open_index(where, model)


def open_index(where: Location, model: str | None = None) -> IndexBackend:
    if is_milvus(where):
        return MilvusFolder.open(str(where), model)
    from searchengine.backends.embedded.folder import IndexFolder

    return IndexFolder.open(Path(where), model)


def create_index(
    where: Location, model: str, dimension: int, index_type: str, encoder: EncoderId
) -> IndexBackend:
    if is_milvus(where):
        return MilvusFolder.create(str(where), model, dimension, index_type, encoder)
    from searchengine.backends.embedded.folder import IndexFolder

    return IndexFolder.create(Path(where), model, dimension, index_type, encoder)


def remove_index(where: Location) -> None:
    """Delete an index (for `--rebuild`)."""
    if is_milvus(where):
        remove_milvus_index(str(where))
        return
    from searchengine.backends.embedded.files import remove_index as remove_folder

    remove_folder(where)


def open_or_create(
    path: str | Path,
    model: str | None,
    encoder: Encoder | None,
    create: bool,
    index_type: str,
    runtime: str | None,
    precision: str | None,
) -> tuple[IndexBackend, Encoder | None]:
    """The index at `path`, created when `create` and missing, and the encoder that
    created it (loaded only then). `model` (or `encoder`) must match the model the
    index was built with; None means "whatever it was built with"."""
    where = location(path)
    wanted = encoder.name if encoder else model
    folder = open_existing(where, wanted) if create else open_index(where, wanted)
    if folder is None:
        encoder = encoder or load_encoder(model or DEFAULT_MODEL, runtime, precision)
        folder = create_index(where, encoder.name, encoder.dimension, index_type, identity(encoder))
    return folder, encoder
