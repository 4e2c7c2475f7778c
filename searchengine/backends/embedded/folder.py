"""An index folder: its manifest, its database, and this process's view of its vectors.

`indexes/<name>/` holds `manifest.json` (format, model, dimension, index type,
the last vector checkpoint), `meta.sqlite` (the source of truth) and
`vectors.<generation>.faiss` (a checkpoint of the FAISS index). Many processes
may have one folder open at once:

- **Writers** take the folder's lock (`write_lock`, an `flock` on
  `.write.lock` plus a thread lock), so the CLI, a server's `POST /documents`
  and another CLI never interleave their transactions.
- **Readers** call `reading()` before they answer. It opens a snapshot of
  the database and checks its generation (one small query); when another
  process (or thread) has written since, this process's FAISS index catches up
  by replaying the database's vector log — the ids added and removed per
  generation — or, when the log no longer reaches back, by reloading the
  checkpoint and replaying from there. So every answer is computed on one
  committed state, and passages, full text and vectors always agree.
- **Checkpoints** write the FAISS index beside the old file under a new name
  and then the manifest, so a crash at any point leaves a manifest naming a
  complete file; the log covers everything after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.backends.embedded.files import (
    DATABASE,
    LOCK,
    MANIFEST,
    remove_temp,
    sweep_deleted,
)
from searchengine.backends.embedded.memory_keeper import MemoryKeeper
from searchengine.backends.embedded.store import Store, StoreError, VectorChanges
from searchengine.backends.embedded.vectors import FaissVectorStore
from searchengine.backends.index_types import choose_index_type
from searchengine.backends.locks import SharedLock, file_lock, reading_generation
from searchengine.backends.manifest import IndexStats, Manifest, describe, now
from searchengine.backends.memory import MemoryIndex, MemoryState, give_back_memory
from searchengine.encoders.encoder import EncoderId, canonical_name
from searchengine.errors import IndexCorrupt, IndexNotFound, ModelMismatch

log = logging.getLogger("searchengine")


@dataclass(frozen=True)
class CheckpointPolicy:
    """When a writer saves the FAISS index to disk.

    Between checkpoints the vector log carries the changes, and a process that
    opens the index replays it (cheap: one embedding read per changed passage),
    so saving after every small HTTP ingest would only rewrite a large file
    for nothing. The CLI checkpoints when it closes.
    """

    # Replaying this many log rows costs about as much as reading the file.
    max_log_rows: int = 50_000
    # Readers further behind than this many generations reload from the
    # checkpoint instead of replaying; older log rows are pruned.
    keep_generations: int = 1000


# Deleted passages, as a share of all, after which a write also merges the full-text
# indexes (store.note_deletions): a 30-day window losing a day a day merges about
# weekly; each merge costs about as much as writing the indexes once.
FTS_MERGE_SHARE = 0.2


class IndexFolder:
    """One index folder as this process sees it: manifest, database, live vectors."""

    # `auto` moves from Flat to HNSW as the corpus grows: every process rebuilds its
    # FAISS index from the stored embeddings when the database says so.
    follows_auto_index_type = True

    def __init__(self, path: Path, store: Store, manifest: Manifest) -> None:
        self.path = path
        self.store = store
        self.manifest = manifest
        self.policy = CheckpointPolicy()
        self._thread_lock = threading.RLock()
        self._rw = SharedLock()
        self._local = threading.local()
        self._vectors: FaissVectorStore | None = None
        self._generation: int | None = None  # of self._vectors
        self._memory = MemoryKeeper(store)
        # A server rebuilds a graph in the background (`_rebuild_later`) and serves
        # from the old one meanwhile; a one-shot command rebuilds where it stands.
        self.background_rebuilds = False
        self._rebuilding = threading.Lock()  # held while a background rebuild runs
        self._rebuilt: tuple[int, FaissVectorStore] | None = None  # (generation, graph)
        self._closed = threading.Event()

    # --- opening and creating --------------------------------------------------------

    @classmethod
    def open(cls, path: Path, model: str | None = None) -> IndexFolder:
        """An existing index; `model`, when given, must be the one it was built with."""
        manifest_path = path / MANIFEST
        if not manifest_path.exists():
            raise IndexNotFound(
                f"no index at {path}; build one with `searchengine index --index {path} PATH...`"
            )
        manifest = Manifest.read(manifest_path)
        if model is not None and canonical_name(model) != manifest.model:
            raise ModelMismatch(
                f"the index at {path} was built with model {manifest.model!r}, "
                f"not {model!r}; search it with its own model, or rebuild it with "
                f"`searchengine index --rebuild --model {model} --index {path} ...`"
            )
        database = path / DATABASE
        if not database.exists() or database.stat().st_size == 0:
            # An empty file would open as a new, empty database: the index would
            # silently answer "no results" while its manifest counts its clusters.
            state = "missing" if not database.exists() else "empty"
            raise IndexCorrupt(
                f"{database} is {state}; rebuild with "
                f"`searchengine index --rebuild --index {path} ...`"
            )
        return cls(path, _open_store(path), manifest)

    @classmethod
    def create(
        cls, path: Path, model: str, dimension: int, index_type: str, encoder: EncoderId
    ) -> IndexFolder:
        """A new, empty index (or the existing one, if another process made it first)."""
        if index_type != "auto":
            FaissVectorStore(dimension, index_type)  # a bad type fails before any write
        sweep_deleted(path)
        path.mkdir(parents=True, exist_ok=True)
        with file_lock(path / LOCK):
            remove_temp(path)
            if (path / MANIFEST).exists():
                return cls.open(path)
            store = _open_store(path)
            actual = choose_index_type(index_type, 0)
            with store.transaction():
                store.set_meta("index_type_requested", index_type)
                store.set_meta("index_type", actual)
            manifest = Manifest(
                model=model,
                dimension=dimension,
                index_type_requested=index_type,
                index_type=actual,
                encoder=encoder.to_dict(),
                created_at=now(),
            )
            manifest.write(path / MANIFEST)
            return cls(path, store, manifest)

    def close(self) -> None:
        self._closed.set()  # a background rebuild cut short by this is not an error
        self._memory.stop()
        self.store.close()

    def keep_in_memory(self, wait: bool = False) -> None:
        """Keep the passages in memory from now on, following every write (a server
        does; a one-shot command would pay a full build for one query). With
        `wait`, the first build happens before this returns."""
        if wait:
            self._memory.catch_up()
        self._memory.start()
        self.background_rebuilds = True

    def memory_state(self) -> MemoryState:
        """Where the in-memory copy is: its generation (None: not built) and any error."""
        index = self._memory.index
        error = self._memory.error
        return {
            "kept": self._memory.running,
            "generation": index.generation if index is not None else None,
            "passages": index.n_alive if index is not None else 0,
            "error": f"{type(error).__name__}: {error}" if error is not None else None,
        }

    def latest_memory(self) -> MemoryIndex | None:
        """The newest passages in memory, whatever generation (no snapshot needed: each
        is immutable); for what may lag a write, such as the words a query knows."""
        return self._memory.index

    def memory(self) -> MemoryIndex | None:
        """The passages in memory at the generation of this thread's `reading()`, if
        they are there already (otherwise None, and the keeper catches up meanwhile)."""
        return self._memory.at(reading_generation(self._local))

    # --- writers ---------------------------------------------------------------------

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive against every other writer, in this process and in any other.
        Temp files are written only under this lock: any found now is a dead writer's."""
        with self._thread_lock, file_lock(self.path / LOCK):
            remove_temp(self.path)
            yield

    def index_type_setting(self) -> tuple[str, str]:
        """(requested, actual) index type, as the database says (manifest as fallback)."""
        with self.store.snapshot():
            requested = self.store.get_meta("index_type_requested")
            actual = self.store.get_meta("index_type")
        return (
            requested or self.manifest.index_type_requested,
            actual or self.manifest.index_type,
        )

    def checkpoint(self, force: bool = False) -> bool:
        """Save the vectors and the manifest when the log has grown past the policy
        (or always, with `force`). Call with the write lock held."""
        with self.reading() as gen:
            if gen == self.manifest.generation and self._file_present():
                return False
            behind = self.store.log_since(self.manifest.generation)
            if not force and behind < self.policy.max_log_rows and self._file_present():
                return False
            assert self._vectors is not None
            requested, actual = self.index_type_setting()
            if self._vectors.index_type != actual:
                return False  # the new type is still being built (`_rebuild_later`)
            name = f"vectors.{gen}.faiss"
            self._vectors.save(self.path / name)
            counts = self.store.counts()
        self.manifest.generation = gen
        self.manifest.vectors_file = name
        self.manifest.counts = counts
        self.manifest.index_type_requested = requested
        self.manifest.index_type = actual
        self.manifest.write(self.path / MANIFEST)
        self._clean(keep=name)
        return True

    def restart_log(self) -> bool:
        """Start SQLite's write-ahead log over after a write (database.WAL_LIMIT_BYTES)."""
        return self.store.restart_log()

    def _file_present(self) -> bool:
        name = self.manifest.vectors_file
        return bool(name) and (self.path / str(name)).exists()

    def _clean(self, keep: str) -> None:
        """Old checkpoints (we hold the lock: nobody else is writing one now)."""
        for entry in self.path.iterdir():
            name = entry.name
            if name.endswith(".faiss") and name.startswith("vectors") and name != keep:
                entry.unlink(missing_ok=True)

    def prune_upto(self, generation: int) -> int:
        """The generation up to which the vector log may be pruned in a write at `generation`."""
        return min(self.manifest.generation, generation - self.policy.keep_generations)

    def after_write(self, generation: int, removed: int) -> None:
        """Inside a write at `generation` that removed `removed` passages: merge the
        full-text indexes when deletions have piled up, and prune the vector log."""
        self.store.note_deletions(removed, FTS_MERGE_SHARE)
        self.store.prune_log(self.prune_upto(generation))

    def settle(self, force: bool = False) -> None:
        """After writes (the write lock held): checkpoint the vectors when the policy
        says so (always with `force`), and start the write-ahead log over."""
        self.checkpoint(force=force)
        self.restart_log()

    # --- readers ---------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[int]:
        """Everything inside sees one committed state, vectors included; yields its
        generation. Re-entrant within a thread."""
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield local.generation
            finally:
                local.depth -= 1
            return
        with self.store.snapshot():
            gen, index_type = self.store.state()
            while True:
                self._rw.acquire_shared()
                if self._generation == gen and self._vectors is not None:
                    if not self._rebuilt_for(gen):
                        break
                self._rw.release_shared()
                if self._generation is not None and self._generation > gen:
                    # Another thread moved the vectors past our snapshot: take a newer one.
                    self.store.renew_snapshot()
                    gen, index_type = self.store.state()
                    continue
                with self._rw.exclusive():
                    if self._generation is None or self._generation < gen or self._rebuilt_for(gen):
                        self._catch_up(gen, index_type)
            local.depth, local.generation = 1, gen
            try:
                yield gen
            finally:
                local.depth = 0
                self._rw.release_shared()

    @property
    def vectors(self) -> FaissVectorStore:
        """The FAISS index at the generation of this thread's `reading()`."""
        reading_generation(self._local)
        if self._vectors is None:
            raise RuntimeError("the index's vectors are not loaded")
        return self._vectors

    def _catch_up(self, gen: int, index_type: str | None) -> None:
        """Bring the in-memory vectors to generation `gen` (the open snapshot's)."""
        index_type = index_type or self.manifest.index_type
        if self._adopt_rebuilt(gen, index_type):
            return
        vectors, base = self._vectors, self._generation or 0
        # A server keeps serving from the graph it has while another is built.
        keep = self.background_rebuilds and vectors is not None
        if vectors is None or vectors.index_type != index_type:
            loaded, loaded_base = self._load_checkpoint(index_type, gen)
            if loaded is not None:
                # A checkpoint of a graph may hold passages removed before it was
                # written (a graph hides removals rather than forgetting them):
                # whatever this snapshot no longer has is removed again.
                loaded.remove(np.setdiff1d(loaded.ids(), self.store.passage_ids()).tolist())
                vectors, base = loaded, loaded_base
            elif not keep:
                vectors = None
        changes = self._replay(vectors, base) if vectors is not None else None
        if vectors is None or changes is None or not vectors.is_trained:
            vectors = self._rebuild(index_type)  # nothing to answer from meanwhile
        elif vectors.needs_rebuild or vectors.index_type != index_type:
            # Hidden removals past their share (vectors.py), or `auto` moved to another
            # index type. The graph in hand answers correctly meanwhile (removals are
            # hidden from every search): a server builds the new one in the background
            # instead of holding every search for it (~15 s at 30k passages, HNSW).
            if self.background_rebuilds:
                self._rebuild_later(index_type)
            else:
                vectors = self._rebuild(index_type)
        replaced = vectors is not self._vectors and self._vectors is not None
        self._vectors, self._generation = vectors, gen
        if replaced:
            give_back_memory()  # (the old graph's pages)

    def _replay(self, vectors: FaissVectorStore, base: int) -> VectorChanges | None:
        """Apply the vector log after `base` (up to the open snapshot) to `vectors`; the
        changes, or None when the log no longer reaches back that far."""
        changes = self.store.vector_changes(base)
        if changes is not None:
            vectors.remove(changes.removed.tolist())
            if len(changes.added) and vectors.is_trained:
                ids, vecs = self.store.embeddings(changes.added.tolist(), self.manifest.dimension)
                vectors.add(ids, vecs)
        return changes

    def _rebuilt_for(self, gen: int) -> bool:
        """Whether a background rebuild is ready for a read at `gen` to take up."""
        rebuilt = self._rebuilt
        return rebuilt is not None and rebuilt[0] <= gen

    def _adopt_rebuilt(self, gen: int, index_type: str) -> bool:
        """Take up a graph rebuilt in the background, brought to `gen` by the log (under
        the exclusive lock); False when there is none or it is no longer of use."""
        rebuilt = self._rebuilt
        if rebuilt is None or rebuilt[0] > gen:
            return False
        self._rebuilt = None
        built_at, vectors = rebuilt
        if vectors.index_type != index_type or self._replay(vectors, built_at) is None:
            return False
        if vectors.needs_rebuild:  # removed that much meanwhile: the old one will do
            return False
        self._vectors, self._generation = vectors, gen
        give_back_memory()  # (the old graph's pages)
        return True

    def swapping_graphs(self) -> bool:
        """Whether a graph is being rebuilt in the background, or waits to be taken up:
        meanwhile the server holds the old graph and the new one (a measurement of its
        steady memory waits for this to end; scripts/churn.py)."""
        return self._rebuilding.locked() or self._rebuilt is not None

    def _rebuild_later(self, index_type: str) -> None:
        """Build a fresh graph from the stored embeddings on a thread of its own, at the
        state committed when it starts; the next read takes it up (`_adopt_rebuilt`)."""
        if not self._rebuilding.acquire(blocking=False):
            return  # one is on its way

        def run() -> None:
            try:
                with self.store.snapshot():
                    built_at, _ = self.store.state()
                    ids, vecs = self._embeddings()
                # Built outside the snapshot: an open read holds back SQLite's WAL
                # checkpoints for as long as it lasts (a build: ~15 s at 30k passages).
                vectors = self._rebuild_from(index_type, ids, vecs)
                self._rebuilt = (built_at, vectors)
            except Exception:  # noqa: BLE001 - the old graph keeps answering; next read retries
                if not self._closed.is_set():
                    log.exception("rebuilding the vector index in the background failed")
            finally:
                self._rebuilding.release()

        threading.Thread(target=run, name="vectors-rebuild", daemon=True).start()

    def _load_checkpoint(self, index_type: str, gen: int) -> tuple[FaissVectorStore | None, int]:
        """The newest checkpoint file at or before `gen`, if it can be read."""
        try:
            manifest = Manifest.read(self.path / MANIFEST)
        except IndexCorrupt:
            return None, 0
        self.manifest = manifest
        name = manifest.vectors_file
        if not name or manifest.generation > gen or manifest.index_type != index_type:
            return None, 0
        try:
            vectors = FaissVectorStore.load(self.path / name, index_type)
        except (RuntimeError, OSError):
            return None, 0  # unreadable or already replaced: rebuilt from embeddings
        if vectors.dimension != manifest.dimension:
            return None, 0
        return vectors, manifest.generation

    def _rebuild(self, index_type: str) -> FaissVectorStore:
        """A fresh FAISS index from the embeddings in the open snapshot (no model needed)."""
        return self._rebuild_from(index_type, *self._embeddings())

    def _rebuild_from(self, index_type: str, ids: np.ndarray, vecs: np.ndarray) -> FaissVectorStore:
        """The build itself, apart from the read: a background rebuild reads in a
        snapshot and builds after it."""
        return FaissVectorStore.build(self.manifest.dimension, index_type, ids, vecs)

    def _embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every passage in the open snapshot."""
        batches = list(self.store.all_embeddings(self.manifest.dimension))
        ids = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0, np.int64)
        vecs = (
            np.vstack([b[1] for b in batches])
            if batches
            else np.zeros((0, self.manifest.dimension), np.float32)
        )
        return ids, vecs

    def stats(self) -> IndexStats:
        """Counts and vectors of one committed state, and what the manifest says."""
        with self.reading() as gen:
            counts = self.store.counts()
            requested, actual = self.index_type_setting()
            files = sorted(f for f in self.path.iterdir() if f.is_file())
            return describe(
                self.manifest,
                counts,
                backend="embedded",
                vectors=len(self.vectors),
                generation=gen,
                index_type=actual,
                requested=requested,
                parts=[f.name for f in files],
                size_bytes=sum(f.stat().st_size for f in files),
                checkpoint_generation=self.manifest.generation,
            )


def _open_store(path: Path) -> Store:
    try:
        return Store(path / DATABASE)
    except StoreError as err:
        raise IndexCorrupt(str(err)) from None
