"""The Milvus backend's words: BM25 over the passages' analysed words, and the index's
word statistics (document frequencies, the vocabulary of close words for unknown
query words), read once per generation per process under a lock. (The embedded
backend's counterpart: embedded/words.py.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from searchengine.backends.milvus.connection import MAX_LIMIT, STRONG, unpack
from searchengine.backends.milvus.schema import MilvusCollections
from searchengine.core.contract import Filters
from searchengine.core.filters import to_milvus
from searchengine.core.fuzzy import Vocabulary
from searchengine.core.text import analyze
from searchengine.core.tokens import tokenizer


class MilvusWords(MilvusCollections):
    """Word search and word statistics over the index's collections."""

    def all_term_counts(self) -> Iterator[tuple[str, dict[str, int]]]:
        for r in self._scan(self.clusters_name, ["id", "terms"]):
            yield r["id"], unpack(r["terms"])

    def word_search(
        self, terms: Sequence[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score) from Milvus' BM25 over the passages' words. Scores
        are returned as positive, higher better (milvus-lite reports them negated)."""
        tokens = [tok for toks in tokenizer().tokens(list(terms)) for tok in toks]
        if not tokens:
            return []
        result = self.call(
            "search",
            self.passages_name,
            data=[" ".join(tokens)],
            anns_field="sparse",
            limit=min(limit, MAX_LIMIT),
            filter=to_milvus(filters, passages=True),
            search_params={"metric_type": "BM25"},
            output_fields=["id"],
            consistency_level=STRONG,
        )
        return [(int(h["id"]), abs(float(h["distance"]))) for h in result[0]]

    def trigram_search(
        self, terms: Sequence[str], chunk: int, pieces: int, limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """Milvus has no character-trigram index: unknown words are matched through the
        vocabulary's close words only (`vocabulary`); see BENCHMARKS.md for the cost."""
        return []

    def unknown_terms(self, terms: Sequence[str]) -> list[str]:
        """The terms no cluster holds, by the clusters' analysed words (read once per
        generation): no round trip per query. A BM25 probe per term cost a full scan on
        milvus-lite (2.8 s at 12k passages)."""
        words = self._words()[0]
        return [t for t in terms if (stems := analyze(t)) and not any(w in words for w in stems)]

    def vocabulary(self) -> Vocabulary:
        """The index's words of four letters or more (Milvus cannot list an analysed
        field's words): what an unknown query word is matched against (fuzzy.py)."""
        return self._words()[1]

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of clusters, and in how many of them each analysed term occurs,
        from the same once-per-generation read as `unknown_terms`."""
        words, _, clusters = self._word_stats()
        return clusters, {t: words[t] for t in terms if t in words}

    def _words(self) -> tuple[Counter[str], Vocabulary]:
        words, vocabulary, _ = self._word_stats()
        return words, vocabulary

    def _word_stats(self) -> tuple[Counter[str], Vocabulary, int]:
        """Every analysed word of the clusters' term counts with its document frequency,
        and the number of clusters, once per generation."""
        generation = self.generation
        cached = self._vocabulary
        if cached is not None and cached[0] == generation:
            return cached[1]
        # Searches arriving together after a write each ran the full scan (4 at once:
        # 14.1 s); the first builds it, the others wait for it.
        with self._vocabulary_lock:
            cached = self._vocabulary
            if cached is not None and cached[0] == generation:
                return cached[1]
            words: Counter[str] = Counter()
            clusters = 0
            for _, counts in self.all_term_counts():
                words.update(counts.keys())
                clusters += 1
            found = (words, Vocabulary(sorted(w for w in words if len(w) >= 4)), clusters)
            self._vocabulary = (generation, found)
            return found
