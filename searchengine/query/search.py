"""The query layer: dense and lexical candidates, fusion, grouping into clusters, highlights.

A search ranks passages (a cluster's summary, each key point, each article)
in two ways — cosine similarity in FAISS and bm25 in FTS5 — and turns each
ranking into a ranking of clusters (a cluster scores by its best passage with
a little credit for further matching passages). The cluster rankings are then
fused by a convex combination of their scores, each scaled by its best group
(fusion.py; reciprocal rank fusion, which uses ranks only, measured worse and
is gone). Fusing at the cluster level rather than the passage level keeps a
cluster with five mildly matching passages from crowding out one with a single
exact match, and measured better on the dev corpus (see `searchengine eval`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field

import numpy as np

from searchengine.backends.memory import MemoryIndex
from searchengine.backends.storage import PassageSelection, RecordStore, Vectors
from searchengine.core.contract import Filters, Kind, Mode, SearchRequest
from searchengine.core.documents import fold
from searchengine.core.fuzzy import FuzzyParams, expansions
from searchengine.core.hits import Evidence, Hit, MatchedPassage
from searchengine.core.text import STOPWORDS, Highlighter, idf, query_terms, stem_word
from searchengine.core.tokens import tokenizer
from searchengine.query.fusion import Owners, Signal, fuse, group_ranking
from searchengine.query.relevance import RelevanceParams, score_hits

__all__ = ["Hit", "Kind", "MatchedPassage", "Mode", "RankingParams", "Searcher"]


@dataclass(frozen=True)
class RankingParams:
    """The knobs of ranking; the defaults are what measured best on the dev corpus."""

    candidates: int = 200  # passages taken from each of FAISS and FTS5, at least
    # A cluster holds ~9 passages (summary, key points, articles) and its best
    # few usually sit together near the top, so 4 passages per wanted result
    # find k distinct clusters in one round for most queries; when they do not,
    # the depth grows by `deepen` until k are found or the signal runs dry.
    candidates_per_result: int = 4
    deepen: int = 4
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    trigram_weight: float = 0.5  # character trigrams: typos and cognates; noisier than words
    # An unknown word is matched by its pieces of this many characters (a piece of
    # 4 = two consecutive trigrams). Single trigrams (3) match nearly every
    # passage through their commonest ones ("ion", "ist"): at 20k passages such a
    # query cost 25-30 ms. Measured (int8, 2026-11-29): dev nDCG@10 3 -> 0.9632,
    # 4 -> 0.9644, 5 -> 0.9676; SciFact 0.7377, 0.7375, 0.7352 (R@100 0.961 ->
    # 0.969); cost ~2.5x lower at 4, ~4x at 5. 4 loses nothing on either set.
    trigram_chunk: int = 4
    trigram_pieces: int = 6
    # Credit for a group's further matching passages: kept to a tie-breaker. More
    # favoured long documents and big clusters (SciFact nDCG@10 0.730 -> 0.701 at 0.1).
    extra_credit: float = 0.02
    extra_passages: int = 3  # how many further passages earn credit
    shown_passages: int = 3  # matched passages returned per hit
    fuzzy: FuzzyParams = FuzzyParams()  # unknown words -> the index's closest words
    relevance: RelevanceParams = RelevanceParams()  # each hit's calibrated relevance


# --- query analysis -----------------------------------------------------------


@dataclass(frozen=True)
class QueryWords:
    """A query's words the word index does not know, and the index's own words found
    for some of them (cognates, typos: `fuzzy.py`). Worked out once per search: the
    engine needs them before encoding, the searcher for words and trigrams."""

    unknown: list[str] = dataclass_field(default_factory=list)
    found: dict[str, list[str]] = dataclass_field(default_factory=dict)

    @property
    def extra(self) -> list[str]:
        """The words found, in order."""
        return [w for words in self.found.values() for w in words]


def dense_text(query: str, words: QueryWords) -> str:
    """What the encoder reads for a query: the query, then the index's words found for
    its unknown ones (an English model cannot read `Afeganistão`; it can `afghanistan`)."""
    return f"{query} ({' '.join(words.extra)})" if words.extra else query


class _Cosines:
    """A query's cosines as evidence: a hit's best, and where it stands against the
    query's cosines to a sample of the collection."""

    def __init__(
        self,
        vector: np.ndarray | None,
        background: np.ndarray | None,
        dense: Sequence[tuple[int, float]],
    ) -> None:
        self.known = vector is not None
        # A hit not among the dense candidates scores at most the last candidate.
        self.floor = min((score for _, score in dense), default=0.0)
        self.mean, self.spread = 0.0, 0.0
        if vector is not None and background is not None and len(background) > 1:
            sims = background @ np.asarray(vector, dtype=np.float32).reshape(-1)
            self.mean, self.spread = float(sims.mean()), float(sims.std())

    def evidence(
        self,
        cosine: float | None,
        coverage: float,
        share: float,
        names_missing: float,
        weighted_coverage: float,
    ) -> Evidence:
        value = None if not self.known else self.floor if cosine is None else cosine
        standing = (
            (value - self.mean) / self.spread if value is not None and self.spread > 0 else None
        )
        return Evidence(value, standing, coverage, share, names_missing, weighted_coverage)


_WORDS = re.compile(r"\w+")


class _TermCoverage:
    """Which of a query's words a hit's passages contain, by stem; an unknown word
    counts as found when one of the index's words found for it is there. Also the
    share of the query's names the index knows nothing of (`Evidence.names_missing`)."""

    def __init__(
        self,
        query: str,
        terms: Sequence[str],
        words: QueryWords,
        weights: dict[str, float] | None = None,
    ) -> None:
        self.groups = [
            {stem_word(t)} | {stem_word(w) for w in words.found.get(t, [])} for t in terms
        ]
        # Each word's idf in this index: a rare word (a name: "Crimea", "Pistorius")
        # says more about what the query asks than a common one ("referendum", "trial").
        self.weights = [(weights or {}).get(t, 1.0) for t in terms]
        names = {
            folded
            for word in _WORDS.findall(query)
            if word[:1].isupper() and len(word) > 1
            for folded in [fold(word)]
            if folded not in STOPWORDS
        }
        missing = [n for n in names if n in words.unknown and n not in words.found]
        self.names_missing = len(missing) / len(names) if names else 0.0

    @staticmethod
    def seen(passages: Sequence[MatchedPassage]) -> set[str]:
        """The stems of the query's words highlighted in these passages."""
        return {stem_word(fold(p.text[a:b])) for p in passages for a, b in p.highlights}

    def found(self, seen: set[str]) -> float:
        """The share of the query's words among these stems."""
        if not self.groups:
            return 0.0
        return sum(1 for group in self.groups if group & seen) / len(self.groups)

    def weighted_found(self, seen: set[str]) -> float:
        """The idf-weighted share of the query's words among these stems."""
        total = sum(self.weights)
        if not self.groups or total <= 0:
            return 0.0
        found = sum(w for group, w in zip(self.groups, self.weights, strict=True) if group & seen)
        return found / total


class Searcher:
    """Runs searches over one store and one vector index (at one generation).

    `memory`, when given, is the same generation's passages in memory: word
    scores and each passage's cluster then come from it instead of SQLite (the
    same ranking, see memory_index.py)."""

    def __init__(
        self,
        store: RecordStore,
        vectors: Vectors | None,  # None: only for `query_words`
        params: RankingParams | None = None,
        memory: MemoryIndex | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.params = params or RankingParams()
        self.memory = memory

    def search(
        self,
        request: SearchRequest,
        vector: np.ndarray | None,
        words: QueryWords | None = None,
        background: np.ndarray | None = None,
    ) -> list[Hit]:
        """Ranked clusters (or articles) for a query, with the passages that matched.
        `vector` is the query's embedding (None for a lexical search); `words`, its
        unknown words and what was found for them (`query_words`; worked out here
        when not given); `background`, a sample of the index's vectors against which
        a hit's cosine is measured (`Evidence.standing`)."""
        params = self.params
        filters, kind, mode, k = request.filters, request.kind, request.mode, request.k
        if kind is Kind.ARTICLES:
            filters = Filters(**{**filters.__dict__, "articles_only": True})
        terms = query_terms(request.query)
        if words is None:  # (the engine works them out before encoding, for the encoder)
            words = self._query_words(terms)
        # Words found for unknown ones are searched as words (they are the index's own).
        extra = [w for w in words.extra if w not in terms]
        depth = max(params.candidates, k * params.candidates_per_result)
        # What a filter lets through, as passage ids: FAISS and the memory index
        # take them; FTS5 joins the filter in SQL instead.
        needs_ids = mode is not Mode.LEXICAL or self.memory is not None
        allowed = self.store.allowed_passage_ids(filters) if filters and needs_ids else None
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        trigram: list[tuple[int, float]] = []
        owners = Owners(self.store, self.memory)
        if mode in (Mode.HYBRID, Mode.DENSE):
            if vector is None or self.vectors is None:
                raise ValueError("a dense search needs the query's vector and the vectors")
            vectors = self.vectors
            dense = self._deep(lambda n: vectors.search(vector, n, allowed), depth, k, kind, owners)
        if mode in (Mode.HYBRID, Mode.LEXICAL) and (terms or extra):
            word_fetch = self._word_search(
                terms + extra, self._tokens(terms + extra), filters, allowed
            )
            lexical = self._deep(word_fetch, depth, k, kind, owners)
        if mode is Mode.HYBRID and params.trigram_weight > 0:
            # Trigrams rescue words the word index does not know (typos, other
            # languages' spellings) and nothing close to a known word was found
            # for; known words are already matched exactly, and their trigrams
            # would only add noise and cost.
            trigram = self.store.trigram_search(
                [t for t in words.unknown if t not in words.found],
                params.trigram_chunk,
                params.trigram_pieces,
                depth,
                filters,
            )
            owners.add([pid for pid, _ in trigram])
        signals = [
            group_ranking(
                "dense",
                params.dense_weight,
                dense,
                owners,
                kind,
                params.extra_credit,
                params.extra_passages,
            ),
            group_ranking(
                "lexical",
                params.lexical_weight,
                lexical,
                owners,
                kind,
                params.extra_credit,
                params.extra_passages,
            ),
            group_ranking(
                "trigram",
                params.trigram_weight,
                trigram,
                owners,
                kind,
                params.extra_credit,
                params.extra_passages,
            ),
        ]
        signals = [sig for sig in signals if sig.keys]
        if mode is Mode.HYBRID:
            fused = fuse(signals)
        else:
            fused = {
                key: value
                for sig in signals[:1]
                for key, value in zip(sig.keys, sig.values, strict=True)
            }
        # Ties in fused rank (1st + 2nd vs 2nd + 1st) go to the better semantic match.
        dense_rank = {
            key: i for sig in signals if sig.name == "dense" for i, key in enumerate(sig.keys)
        }
        ranked = sorted(
            fused, key=lambda key: (-fused[key], dense_rank.get(key, len(dense_rank)), key)
        )[:k]
        cosines = _Cosines(vector, background, dense)
        coverage = _TermCoverage(request.query, terms, words, self.term_weights(terms))
        return self._hits(ranked, fused, signals, owners, terms + extra, kind, cosines, coverage)

    def query_words(self, query: str) -> QueryWords:
        """The query's unknown words and the index's words closest to them."""
        return self._query_words(query_terms(query))

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """Each query term's idf in this index (`Evidence.weighted_coverage`)."""
        stems = {t: stem_word(t) for t in terms}
        n_clusters, df = self.store.document_frequencies(sorted(set(stems.values())))
        return {t: idf(n_clusters, df.get(stems[t], 0)) for t in terms}

    def best_cosine(self, vector: np.ndarray) -> float | None:
        """The best passage cosine to `vector` in the whole index: what a search's first
        hit would score (`Evidence.gap` counts from it)."""
        if self.vectors is None:
            return None
        found = self.vectors.search(np.asarray(vector, dtype=np.float32), 1)
        return float(found[0][1]) if found else None

    def _query_words(self, terms: list[str]) -> QueryWords:
        unknown = self._unknown_terms(terms, self._tokens(terms)) if terms else []
        if not unknown:
            return QueryWords()
        memory = self.memory
        vocabulary = memory.vocabulary() if memory is not None else self.store.vocabulary()
        return QueryWords(unknown, expansions(unknown, vocabulary, self.params.fuzzy))

    # --- where the words and the owners come from: memory when it is there, else SQLite ---

    def _tokens(self, terms: list[str]) -> list[tuple[str, ...]] | None:
        """Each term as the word index tokenises it (only needed with the memory index)."""
        return tokenizer().tokens(terms) if self.memory is not None and terms else None

    def _word_search(
        self,
        terms: list[str],
        tokens: list[tuple[str, ...]] | None,
        filters: Filters,
        allowed: PassageSelection | None,
    ) -> Callable[[int], list[tuple[int, float]]]:
        memory = self.memory
        if memory is not None and tokens is not None and all(len(t) <= 1 for t in tokens):
            if isinstance(allowed, str):
                raise TypeError("the memory index takes passage ids, not a Milvus expression")
            ids = allowed
            phrases = [t[0] for t in tokens if t]
            return lambda n: memory.bm25(phrases, n, ids)
        # A term that is several tokens ("covid_19") is a phrase: FTS5 matches those.
        return lambda n: self.store.word_search(terms, n, filters)

    def _unknown_terms(self, terms: list[str], tokens: list[tuple[str, ...]] | None) -> list[str]:
        memory = self.memory
        if memory is None or tokens is None or any(len(t) > 1 for t in tokens):
            return self.store.unknown_terms(terms)
        return [
            term
            for term, toks in zip(terms, tokens, strict=True)
            if not toks or memory.document_frequency(toks[0]) == 0
        ]

    def _deep(
        self,
        fetch: Callable[[int], list[tuple[int, float]]],
        depth: int,
        k: int,
        kind: Kind,
        owners: Owners,
    ) -> list[tuple[int, float]]:
        """A signal's candidates, deep enough to hold `k` distinct groups (or all there are):
        the depth grows until it does, so no mode silently returns fewer than exist."""
        while True:
            found = fetch(depth)
            owners.add([pid for pid, _ in found])
            groups, _ = owners.groups(
                np.fromiter((pid for pid, _ in found), dtype=np.int64, count=len(found)), kind
            )
            if len(np.unique(groups[groups >= 0])) >= k or len(found) < depth:
                return found
            depth *= self.params.deepen

    def _hits(
        self,
        ranked: list[str],
        fused: dict[str, float],
        signals: list[Signal],
        owners: Owners,
        terms: list[str],
        kind: Kind,
        cosines: _Cosines,
        coverage: _TermCoverage,
    ) -> list[Hit]:
        shown: dict[str, list[tuple[int, float]]] = {}
        for key in ranked:
            passage_scores: dict[int, float] = {}
            for sig in signals:
                for score, pid in sig.members(key):
                    passage_scores[pid] = max(passage_scores.get(pid, 0.0), score)
            shown[key] = sorted(passage_scores.items(), key=lambda kv: -kv[1])[
                : self.params.shown_passages
            ]
        cluster_ids = owners.clusters_of([shown[key][0][0] for key in ranked])
        # A hit shows a few fields of its cluster and its best passages; nothing else
        # is read (whole records and unshown passages are never decoded).
        shown_ids = [pid for best in shown.values() for pid, _ in best]
        card_ids = sorted(set(cluster_ids))
        if self.memory is not None:
            rows = self.memory.passages(self.store, shown_ids)
            cards = self.memory.cluster_cards(self.store, card_ids)
        else:
            rows = self.store.passages(shown_ids)
            cards = self.store.cluster_cards(card_ids)
        articles = self.store.article_cards(ranked) if kind is Kind.ARTICLES else {}
        highlighter = Highlighter(terms)
        ranks = {sig.name: {key: i for i, key in enumerate(sig.keys, 1)} for sig in signals}
        dense_by, lexical_by = ranks.get("dense", {}), ranks.get("lexical", {})
        dense_best: dict[str, float] = next(
            (sig.raw_best for sig in signals if sig.name == "dense"), {}
        )
        best = max((fused[key] for key in ranked), default=0.0) or 1.0
        hits: list[Hit] = []
        for key, cluster_id in zip(ranked, cluster_ids, strict=True):
            card = cards.get(cluster_id)
            if card is None:
                continue
            passages = [
                MatchedPassage(
                    field=rows[pid].field,
                    position=rows[pid].position,
                    text=rows[pid].text,
                    score=round(score, 4),
                    article_id=rows[pid].article_id,
                    highlights=highlighter.spans(rows[pid].text),
                )
                for pid, score in shown[key]
                if pid in rows
            ]
            seen = coverage.seen(passages)
            hit = Hit(
                id=key,
                cluster_id=cluster_id,
                date=card.date,
                title=card.title,
                sources=card.sources,
                score=round(fused[key], 6),
                passages=passages,
                kind=kind,
                dense_rank=dense_by.get(key),
                lexical_rank=lexical_by.get(key),
                evidence=cosines.evidence(
                    dense_best.get(key),
                    coverage.found(seen),
                    round(fused[key] / best, 6),
                    coverage.names_missing,
                    coverage.weighted_found(seen),
                ),
            )
            if key in articles:
                hit.title, hit.publisher = articles[key]
            hits.append(hit)
        # A hit's cosine against the best of the query's hits: the answer to a question
        # stands out of the hits that are only about its subject.
        best_cosine = max(
            (h.evidence.cosine for h in hits if h.evidence and h.evidence.cosine is not None),
            default=None,
        )
        for hit in hits:
            if hit.evidence and hit.evidence.cosine is not None and best_cosine is not None:
                hit.evidence = replace(hit.evidence, gap=hit.evidence.cosine - best_cosine)
        relevance = self.params.relevance
        for hit, value in zip(
            hits, score_hits([h.evidence for h in hits if h.evidence], relevance), strict=True
        ):
            hit.relevance, hit.weak = value, value < relevance.cutoff
        return hits
