"""The passages of one generation in memory, for a long-lived process to search without SQLite.

An FTS5 query that ORs a dozen words scores every passage holding any of them
(bm25 has no early exit there): 5.7 ms p50, 23 ms p99 at 20k passages, plus
~4 ms to read which cluster each hit belongs to. A server keeps the same
postings in memory instead — tokenised by FTS5's own tokenizer (run on a private
in-memory table), scored with FTS5's own bm25 formula and constants — so a
search gets the same ranking in well under a millisecond, and each passage's
cluster and article without a query.

The copy is derived, never authoritative: it follows the vector log like the
FAISS index does, in a background thread, and a search uses it only when it is
at exactly the generation the search reads (otherwise FTS5 answers, as in a
one-shot CLI command, which never builds it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from searchengine.backends.storage import ClusterCard, PassageRow, Records
from searchengine.core.fuzzy import Vocabulary
from searchengine.core.tokens import WORD_TOKENIZER, tokenizer

# Rows kept for showing hits: a passage row by id is valid forever (a replaced
# cluster's passages get new ids), a cluster card for one generation. Bounded so
# a long-running server's memory stays flat; 20k rows ~ 20 MB.
ROW_CACHE_ITEMS = 20_000
# A removed passage's slot stays (marked dead) until dead slots pass this share of
# all, then the arrays, postings and key table are rebuilt from the living. At one
# half, a server under daily churn (100 clusters a day in, the oldest day out) held up
# to twice its passages' worth and grew for a fortnight at a time (`scripts/churn.py
# --reader`: anonymous memory +50% from day 30 to 50 at constant content); at a tenth
# it rebuilds every ~3 days of that churn, in the keeper's background thread (~0.1 s
# at 30k passages).
COMPACT_DEAD_SHARE = 0.10

__all__ = [
    "BM25",
    "MemoryIndex",
    "WORD_TOKENIZER",
    "give_back_memory",
    "steady_heap",
    "tokenizer",  # (WORD_TOKENIZER and tokenizer: tokens.py)
]


@functools.cache
def _glibc(name: str) -> Callable[..., int] | None:
    """glibc's function `name` (`malloc_trim`, `mallopt`), or None off glibc: loaded
    once per process, for `give_back_memory` and `steady_heap` alike."""
    try:
        import ctypes

        return getattr(ctypes.CDLL("libc.so.6"), name)  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def give_back_memory() -> None:
    """Hand freed heap back to the OS (glibc's `malloc_trim`; nothing elsewhere). A
    server replaces big structures while it runs — a rebuilt graph, a compacted copy
    of the passages, a closed job's engine — and glibc keeps the pages they freed in
    its arenas: under 90 days of churn with everything released, that still held a
    server's anonymous memory ~40% over its size before removals began (trimming each
    day: ~+20%; `scripts/churn.py --reader`, BENCHMARKS.md)."""
    if (trim := _glibc("malloc_trim")) is not None:
        trim(0)


# glibc's own starting point for both (M_MMAP_THRESHOLD's DEFAULT_MMAP_THRESHOLD_MIN):
# a block past 128 KiB gets its own mapping, and a free heap top past it is given back.
HEAP_BLOCK_BYTES = 128 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def steady_heap() -> None:
    """Keep a long-running process's heap from growing with its churn (glibc; nothing
    elsewhere). glibc raises its mmap threshold each time a mapped block is freed (up to
    32 MB), so after the first replaced graph the big arrays of a search, a rebuild or a
    compaction came from the heap, and the holes they left could not be given back:
    under daily churn a server's anonymous memory rose from 255 MB on day 30 (the window
    full) to 300 on day 40 and 427 on day 46, and day 90 stayed +29% over day 30 with
    `give_back_memory` after each replacement. With the two thresholds fixed at
    HEAP_BLOCK_BYTES: 250 -> 260 -> 251 MB, searches no slower (`scripts/churn.py
    --reader`, BENCHMARKS.md). Called when an engine starts serving."""
    if (mallopt := _glibc("mallopt")) is not None:
        mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCK_BYTES)  # (also ends glibc's raising of it)
        mallopt(_M_TRIM_THRESHOLD, HEAP_BLOCK_BYTES)


class MemoryState(TypedDict):
    """Where a server's in-memory copy is (`/health`): kept or not, its generation (None:
    not built), its passages, and the error that stopped it, if any."""

    kept: bool
    generation: int | None
    passages: int
    error: str | None


@dataclass(frozen=True)
class Bm25Constants:
    """FTS5's bm25() (ext/fts5/fts5_aux.c): fixed, so the ranking equals FTS5's exactly."""

    k1: float = 1.2
    b: float = 0.75
    min_idf: float = 1e-6  # FTS5 clamps an idf <= 0 (a word in over half the rows) to this


BM25 = Bm25Constants()


@dataclass
class _Postings:
    """One token's passages (slots, ascending) and how often it occurs in each."""

    chunks: list[tuple[np.ndarray, np.ndarray]]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.chunks) > 1:  # merged on first use after a catch-up appended
            self.chunks = [
                (
                    np.concatenate([c[0] for c in self.chunks]),
                    np.concatenate([c[1] for c in self.chunks]),
                )
            ]
        return self.chunks[0]


class MemoryIndex:
    """Each passage's cluster and article, and the word index's postings, at one generation.

    Passages sit in slots in id order (ids only grow, so appending keeps the
    order); a removed passage's slot is marked dead and its postings are skipped
    until `compact` drops them. An index is never changed once published:
    `evolved` makes the next generation's (sharing what did not change), so a
    search reads one generation without a lock.
    """

    def __init__(self, generation: int, rows: dict[int, PassageRow] | None = None) -> None:
        self.generation = generation
        # Shown passages, shared by every generation; cluster cards, this one's only.
        self.rows: dict[int, PassageRow] = rows if rows is not None else {}
        self.cards: dict[str, ClusterCard] = {}
        self.pids = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.length = np.zeros(0, dtype=np.float64)  # tokens per passage
        self.cluster = np.zeros(0, dtype=np.int64)  # index into self.keys
        self.article = np.zeros(0, dtype=np.int64)  # index into self.keys, -1 for none
        self.keys: list[str] = []
        self._key_index: dict[str, int] = {}
        self._postings: dict[str, _Postings] = {}
        self.n_alive = 0
        self.tokens_alive = 0.0
        self._vocabulary: Vocabulary | None = None

    # --- building and following the log ----------------------------------------------

    def evolved(
        self,
        generation: int,
        removed: Sequence[int],
        rows: Sequence[tuple[int, str, str | None]],
        counts: Sequence[tuple[str, int, int]],
    ) -> MemoryIndex:
        """The index at a later generation: these passages removed, those added."""
        new = MemoryIndex.__new__(MemoryIndex)
        new.__dict__.update(self.__dict__)
        new.generation = generation
        new.cards = {}
        new.alive = self.alive.copy()
        new.keys = list(self.keys)
        new._key_index = dict(self._key_index)
        new._postings = dict(self._postings)
        new._vocabulary = None
        new.remove(removed)
        new.add(rows, counts)
        return new

    def add(
        self,
        rows: Sequence[tuple[int, str, str | None]],
        counts: Sequence[tuple[str, int, int]],
    ) -> None:
        """Append passages (id, cluster id, article id), ids above every present one,
        with their token counts (token, passage id, occurrences)."""
        if not rows:
            return
        pids = np.array([r[0] for r in rows], dtype=np.int64)
        order = np.argsort(pids, kind="stable")
        pids = pids[order]
        if len(self.pids) and pids[0] <= self.pids[-1]:
            raise ValueError("passages must be added in increasing id order")
        base = len(self.pids)
        intern = self._intern
        cluster = np.array([intern(rows[i][1]) for i in order], dtype=np.int64)
        article = np.array(
            [intern(rows[i][2]) if rows[i][2] is not None else -1 for i in order], dtype=np.int64
        )
        tokens = [c[0] for c in counts]
        docs = np.fromiter((c[1] for c in counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter((c[2] for c in counts), dtype=np.float64, count=len(counts))
        slots = base + np.searchsorted(pids, docs)
        length = np.bincount(slots - base, weights=tf, minlength=len(pids)).astype(np.float64)
        # `counts` come sorted by token: each token's entries are one run.
        starts = [i for i in range(1, len(tokens)) if tokens[i] != tokens[i - 1]]
        for start, end in zip([0, *starts], [*starts, len(tokens)], strict=True):
            if start == end:
                continue
            token = tokens[start]
            postings = self._postings.get(token)
            chunks = postings.chunks if postings is not None else []
            self._postings[token] = _Postings([*chunks, (slots[start:end], tf[start:end])])
        self.pids = np.concatenate([self.pids, pids])
        self.alive = np.concatenate([self.alive, np.ones(len(pids), dtype=bool)])
        self.length = np.concatenate([self.length, length])
        self.cluster = np.concatenate([self.cluster, cluster])
        self.article = np.concatenate([self.article, article])
        self.n_alive += len(pids)
        self.tokens_alive += float(length.sum())

    def remove(self, pids: Sequence[int]) -> None:
        if not len(pids):
            return
        slots = self.slots_of(np.asarray(pids, dtype=np.int64))
        slots = slots[self.alive[slots]]
        self.alive[slots] = False
        self.n_alive -= len(slots)
        self.tokens_alive -= float(self.length[slots].sum())
        if len(self.alive) - self.n_alive > COMPACT_DEAD_SHARE * len(self.alive):
            self.compact()

    def compact(self) -> None:
        """Drop dead slots: postings, arrays and numbering shrink to the living."""
        new_slot = np.cumsum(self.alive) - 1
        for token in list(self._postings):
            slots, tf = self._postings[token].arrays()
            keep = self.alive[slots]
            if not keep.any():
                del self._postings[token]
            else:
                self._postings[token] = _Postings([(new_slot[slots[keep]], tf[keep])])
        keep = self.alive
        self.pids, self.length = self.pids[keep], self.length[keep]
        self.cluster, self.article = self.cluster[keep], self.article[keep]
        self.alive = np.ones(len(self.pids), dtype=bool)
        # The key table keeps only the clusters and articles still here (it grew by
        # every id ever added).
        used = np.unique(np.concatenate([self.cluster, self.article[self.article >= 0]]))
        remap = np.full(len(self.keys), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        self.keys = [self.keys[i] for i in used.tolist()]
        self._key_index = {key: i for i, key in enumerate(self.keys)}
        self.cluster = remap[self.cluster]
        self.article = np.where(self.article >= 0, remap[np.maximum(self.article, 0)], -1)

    def _intern(self, key: str) -> int:
        index = self._key_index.get(key)
        if index is None:
            index = self._key_index[key] = len(self.keys)
            self.keys.append(key)
        return index

    # --- reading ---------------------------------------------------------------------

    def _find(self, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slot of each passage id, whether it is really there); needs a non-empty index."""
        slots = np.minimum(np.searchsorted(self.pids, pids), len(self.pids) - 1)
        return slots, self.pids[slots] == pids

    def slots_of(self, pids: np.ndarray) -> np.ndarray:
        """Slots of passages that are present (absent ids are left out)."""
        if not len(self.pids):
            return np.zeros(0, dtype=np.int64)
        slots, found = self._find(pids)
        return slots[found]

    def passages(self, store: Records, pids: Sequence[int]) -> dict[int, PassageRow]:
        """Rows of passages to show, remembered (read from `store` when not yet)."""
        return _cached(self.rows, pids, store.passages)

    def cluster_cards(self, store: Records, ids: Sequence[str]) -> dict[str, ClusterCard]:
        return _cached(self.cards, ids, store.cluster_cards)

    def groups(self, pids: np.ndarray, articles: bool = False) -> np.ndarray:
        """Each passage's cluster (or article) as an index into `keys`; -1 when the
        passage is not here or has no article."""
        if not len(self.pids) or not len(pids):
            return np.full(len(pids), -1, dtype=np.int64)
        slots, found = self._find(pids)
        owner = (self.article if articles else self.cluster)[slots]
        return np.where(found & self.alive[slots], owner, -1)

    def vocabulary(self) -> Vocabulary:
        """The word index's words of four or more letters (see `Store.vocabulary`);
        per instance, and an instance is one generation."""
        if self._vocabulary is None:
            alive, every = self.alive, self.n_alive == len(self.alive)
            # Only words some living passage holds: a removed story's words, still in
            # the postings until `compact`, were offered as close words ("louvr" for
            # "Louvre" once the Louvre story was gone), and a server then encoded and
            # ranked differently from a command reading the database.
            self._vocabulary = Vocabulary(
                t
                for t, postings in self._postings.items()
                if len(t) >= 4 and (every or alive[postings.arrays()[0]].any())
            )
        return self._vocabulary

    def document_frequency(self, token: str) -> int:
        postings = self._postings.get(token)
        if postings is None:
            return 0
        slots, _ = postings.arrays()
        return int(np.count_nonzero(self.alive[slots]))

    def bm25(
        self, phrases: Sequence[str], limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(passage id, bm25) of the best `limit` passages holding any of the tokens,
        as FTS5's `MATCH '"a" OR "b"' ORDER BY bm25()` ranks them; a token given
        twice counts twice, as two phrases do in FTS5. `allowed`: passage ids a
        filter lets through (None: all)."""
        n = self.n_alive
        if n == 0 or limit <= 0:
            return []
        avgdl = self.tokens_alive / n
        all_slots: list[np.ndarray] = []
        all_scores: list[np.ndarray] = []
        for token in phrases:
            postings = self._postings.get(token)
            if postings is None:
                continue
            slots, tf = postings.arrays()
            live = self.alive[slots]
            slots, tf = slots[live], tf[live]
            hits = len(slots)
            if not hits:
                continue
            idf = math.log((n - hits + 0.5) / (hits + 0.5))
            if idf <= 0.0:
                idf = BM25.min_idf
            norm = BM25.k1 * (1.0 - BM25.b + BM25.b * self.length[slots] / avgdl)
            all_slots.append(slots)
            all_scores.append(idf * (tf * (BM25.k1 + 1.0)) / (tf + norm))
        if not all_slots:
            return []
        slots = np.concatenate(all_slots)
        scores = np.concatenate(all_scores)
        if len(all_slots) > 1:
            slots, inverse = np.unique(slots, return_inverse=True)
            scores = np.bincount(inverse, weights=scores, minlength=len(slots))
        if allowed is not None:
            keep = np.isin(slots, self.slots_of(np.asarray(allowed, dtype=np.int64)))
            slots, scores = slots[keep], scores[keep]
        if len(slots) > limit:
            top = np.argpartition(-scores, limit - 1)[:limit]
            slots, scores = slots[top], scores[top]
        pids = self.pids[slots]
        order = np.lexsort((pids, -scores))
        return [
            (int(p), float(s))
            for p, s in zip(pids[order].tolist(), scores[order].tolist(), strict=True)
        ]


def _cached(cache: dict, keys: Sequence, fetch) -> dict:  # type: ignore[type-arg, no-untyped-def]
    missing = [k for k in keys if k not in cache]
    if missing:
        if len(cache) > ROW_CACHE_ITEMS:
            cache.clear()
        cache.update(fetch(missing))
    return {k: cache[k] for k in keys if k in cache}
