"""The vector store: FAISS behind a small interface (add / remove / search / save / load).

Passage ids from SQLite are the FAISS ids (IndexIDMap2), so a hit maps straight
back to its row. Filters are FAISS id selectors applied inside the search, so
a filtered search returns the best *allowed* passages rather than whatever
survives of an unfiltered top-k.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from searchengine.backends.storage import PassageSelection
from searchengine.errors import BadRequest

# Filters allowing at most this many passages are scored exactly (see search()).
EXACT_FILTER_LIMIT = 20_000
# An HNSW walk keeps this many candidates per result asked for (efSearch, at
# least the index's own 64): at 2, SciFact hybrid nDCG@10 over HNSW32 equals
# exact Flat search (0.7358 both, int8), where 64 alone gave 0.7327; a walk for
# 200 candidates costs ~1 ms at 20k passages (Flat ~2.4 ms).
HNSW_EF_PER_RESULT = 2.0
# A graph (or IVF) index does not forget a vector: removed ids stay in it, hidden
# from every search by a selector, until they are this share of it; then it is
# rebuilt without them from the stored embeddings (one rebuild per many
# removals, not one per removal: 7.75 s each at 31k passages before). At 0.25
# the vector file grew 24% under daily churn (scripts/churn.py); 0.1 keeps it
# within ~11%, for a rebuild every ~3 days of a 30-day window.
HIDDEN_SHARE_REBUILD = 0.1


class FaissVectorStore:
    """A FAISS index over unit vectors, scored by inner product (= cosine)."""

    def __init__(self, dimension: int, index_type: str = "Flat") -> None:
        self.dimension = dimension
        self.index_type = index_type
        try:
            base = faiss.index_factory(dimension, index_type, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as err:
            raise BadRequest(f"bad FAISS index type {index_type!r}: {err}") from None
        if isinstance(base, faiss.IndexHNSW):
            base.hnsw.efConstruction = 80
            base.hnsw.efSearch = 64
        self.index = faiss.IndexIDMap2(base)
        self._flat: tuple[np.ndarray, np.ndarray] | None = None
        self._hidden = np.zeros(0, dtype=np.int64)  # removed, still in a graph or IVF index
        self._hidden_selector: faiss.IDSelector | None = None

    @classmethod
    def build(
        cls, dimension: int, index_type: str, ids: np.ndarray, vectors: np.ndarray
    ) -> FaissVectorStore:
        """A new index holding `vectors`; trains it first where the type needs training."""
        store = cls(dimension, index_type)
        if not store.index.is_trained:
            if len(vectors) == 0:
                return store
            store.index.train(np.ascontiguousarray(vectors, dtype=np.float32))
        store.add(ids, vectors)
        return store

    def __len__(self) -> int:
        return int(self.index.ntotal) - len(self._hidden)

    @property
    def is_trained(self) -> bool:
        return bool(self.index.is_trained)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self._flat = None  # the storage may move
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: Iterable[int]) -> None:
        """Forget these ids. Only a Flat index can really drop vectors: behind
        IndexIDMap2 an IVF index's remove_ids desynchronises the id map (FAISS
        #1379, #4656) and HNSW cannot remove at all, so those hide them instead
        (see `needs_rebuild`)."""
        array = np.fromiter(ids, dtype=np.int64)
        if not len(array):
            return
        self._flat = None
        if self._is_flat:
            self.index.remove_ids(faiss.IDSelectorBatch(array))
            return
        self._hidden = np.union1d(self._hidden, array[np.isin(array, self.ids())])
        self._hidden_selector = None

    @property
    def needs_rebuild(self) -> bool:
        """Hidden removals have grown past their share: rebuild from stored embeddings."""
        return len(self._hidden) > HIDDEN_SHARE_REBUILD * max(1, int(self.index.ntotal))

    @property
    def hidden(self) -> int:
        """Removed ids the index still holds (hidden from searches)."""
        return len(self._hidden)

    def ids(self) -> np.ndarray:
        """Every id the index holds (hidden ones included)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    @property
    def _is_flat(self) -> bool:
        return type(faiss.downcast_index(self.index.index)) in (faiss.IndexFlatIP, faiss.IndexFlat)

    def search(
        self, vector: np.ndarray, k: int, allowed: PassageSelection | None = None
    ) -> list[tuple[int, float]]:
        """Best `k` (id, cosine) pairs, restricted to the `allowed` passage ids when given."""
        if isinstance(allowed, str):
            raise TypeError("FAISS takes passage ids, not a Milvus expression")
        allowed_ids = allowed
        if len(self) <= 0 or k <= 0:
            return []
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return []
            k = min(k, len(allowed_ids))
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        flat = self._flat_arrays()
        if flat is not None:
            return _top_inner_products(flat[0], flat[1], query[0], k, allowed_ids)
        if (
            allowed_ids is not None
            and self._is_graph
            and len(allowed_ids) <= max(EXACT_FILTER_LIMIT, len(self) // 20)
        ):
            # A graph walk restricted to a few ids can miss them (it never
            # reaches them); scoring those few exactly is both right and cheap.
            return self._exact(query[0], k, np.asarray(allowed_ids, dtype=np.int64))
        params = self._params(allowed_ids, k)
        scores, ids = self.index.search(query, min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def _flat_arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(vectors, ids) of an exact (Flat) index as arrays over FAISS's own memory.

        For one query at a time, numpy's matrix-vector product over this
        memory measured ~2.0 ms at 20k passages against ~3.0-4.5 ms for FAISS's
        Flat search (1-2 threads), with the same exact top k. Valid until the
        next add or remove, which drop it (those run only under the folder's
        exclusive lock, never during a search)."""
        if self._flat is not None:
            return self._flat
        if not self._is_flat:
            return None
        base = faiss.downcast_index(self.index.index)
        n = int(self.index.ntotal)
        if n == 0:
            return None
        xb = base.get_xb()  # type: ignore[attr-defined]
        vectors = faiss.rev_swig_ptr(xb, n * self.dimension).reshape(n, self.dimension)
        self._flat = (vectors, self.ids())
        return self._flat

    @property
    def _is_graph(self) -> bool:
        return isinstance(faiss.downcast_index(self.index.index), faiss.IndexHNSW)

    def _exact(self, query: np.ndarray, k: int, ids: np.ndarray) -> list[tuple[int, float]]:
        present: list[int] = []
        rows: list[np.ndarray] = []
        for i in ids.tolist():
            try:
                rows.append(np.asarray(self.index.reconstruct(i)))
            except RuntimeError:  # not in the index (removed since the filter was computed)
                continue
            present.append(i)
        if not present:
            return []
        return _top_inner_products(np.vstack(rows), np.array(present), query, k, None)

    def _params(self, allowed_ids: np.ndarray | None, k: int) -> faiss.SearchParameters | None:
        base = faiss.downcast_index(self.index.index)
        sel: faiss.IDSelector | None = (
            faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            if allowed_ids is not None
            else None
        )
        if sel is None and len(self._hidden):
            # Allowed ids come from the same snapshot as the removals, so they
            # never name a hidden one; without a filter, the hidden are excluded.
            # (A graph walk still passes through hidden nodes: its paths hold.)
            if self._hidden_selector is None:
                batch = faiss.IDSelectorBatch(self._hidden)
                selector = faiss.IDSelectorNot(batch)
                selector._batch = batch  # type: ignore[attr-defined]  # keep the inner one alive
                self._hidden_selector = selector
            sel = self._hidden_selector
        if isinstance(base, faiss.IndexHNSW):
            ef = max(base.hnsw.efSearch, int(HNSW_EF_PER_RESULT * k))  # type: ignore[attr-defined]
            params = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]
        elif isinstance(base, faiss.IndexIVF):
            # With a selective filter the allowed ids may sit in any list:
            # probe them all (still cheap, the selector skips the rest).
            selective = allowed_ids is not None and len(allowed_ids) <= EXACT_FILTER_LIMIT
            params = faiss.SearchParametersIVF(  # type: ignore[call-arg]
                nprobe=base.nlist if selective else max(base.nprobe, 16)
            )
        elif sel is None:
            return None
        else:
            params = faiss.SearchParameters()
        if sel is not None:
            params.sel = sel
            params._sel_ref = sel  # keep the selector alive while FAISS holds a pointer to it
        return params

    def save(self, path: Path) -> None:
        """Write beside the old file, then rename over it: a reader never sees half a file."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, index_type: str) -> FaissVectorStore:
        index = faiss.read_index(str(path))
        store = cls.__new__(cls)
        # read_index already returns the concrete class; downcasting again would
        # make a second proxy that does not own the memory (and a crash once
        # the first is collected).
        if not isinstance(index, faiss.IndexIDMap2):
            raise RuntimeError(f"{path} is not an id-mapped FAISS index")
        store.index = index
        store._flat = None
        store._hidden = np.zeros(0, dtype=np.int64)
        store._hidden_selector = None
        store.dimension = int(index.d)
        store.index_type = index_type
        return store


def _top_inner_products(
    vectors: np.ndarray,
    ids: np.ndarray,
    query: np.ndarray,
    k: int,
    allowed_ids: np.ndarray | None,
) -> list[tuple[int, float]]:
    """The exact best `k` (id, inner product) over a matrix, among `allowed_ids` if given."""
    scores = vectors @ query
    if allowed_ids is not None:
        keep = np.isin(ids, allowed_ids)
        scores = np.where(keep, scores, -np.inf)
        k = min(k, int(np.count_nonzero(keep)))
    k = min(k, len(scores))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return [
        (int(i), float(s)) for i, s in zip(ids[top].tolist(), scores[top].tolist(), strict=True)
    ]
