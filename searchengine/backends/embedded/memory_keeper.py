"""Keeps a server's in-memory copy of the passages (`memory_index.MemoryIndex`) at the
newest committed generation, following the SQLite vector log in a background thread."""

from __future__ import annotations

import threading

from searchengine.backends.embedded.store import Store
from searchengine.backends.memory import MemoryIndex, give_back_memory
from searchengine.core.tokens import tokenizer


class MemoryKeeper:
    """Keeps a MemoryIndex at the newest committed generation, in a background thread.

    `at(generation)` never waits: it returns the index if it is at exactly that
    generation, and otherwise wakes the thread and returns None (the caller
    reads SQLite this once). A full build tokenises every passage (~3 s at 20k
    passages); catching up after a write tokenises only what the log says was
    added.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index: MemoryIndex | None = None
        self.error: BaseException | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="memory-index", daemon=True)
            self._thread.start()
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def at(self, generation: int) -> MemoryIndex | None:
        index = self.index
        if index is not None and index.generation == generation:
            return index
        if self._thread is not None:
            self._wake.set()
        return None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                self.catch_up()
                self.error = None
            except Exception as err:  # noqa: BLE001 - searches fall back to SQLite meanwhile
                self.error = err
                self._wake.wait(timeout=5.0)  # retry later rather than spin on a bad state

    def catch_up(self) -> MemoryIndex:
        """Bring the index to the newest committed generation (and return it)."""
        store = self.store
        index = self.index
        with store.snapshot():
            generation, _ = store.state()
            if index is not None and index.generation == generation:
                return index
            changes = store.vector_changes(index.generation) if index is not None else None
            if index is None or changes is None:
                rows = store.passage_texts(None)
                removed: list[int] = []
            else:
                rows = store.passage_texts(changes.added.tolist())
                removed = changes.removed.tolist()
        counts = tokenizer().counts((pid, text) for pid, _, _, text in rows)
        owners = [(pid, cluster, article) for pid, cluster, article, _ in rows]
        if index is None or changes is None:
            fresh = MemoryIndex(generation, rows=index.rows if index is not None else None)
            fresh.add(owners, counts)
        else:
            fresh = index.evolved(generation, removed, owners, counts)
        self.index = fresh
        give_back_memory()  # (the previous generation's arrays, once nobody reads them)
        return fresh
