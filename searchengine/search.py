"""The query layer: dense and lexical candidates, fusion, grouping into clusters, highlights.

A search ranks passages (a cluster's summary, each key point, each article)
in two ways — cosine similarity in FAISS and bm25 in FTS5 — and turns each
ranking into a ranking of clusters (a cluster scores by its best passage with
a little credit for further matching passages). The two cluster rankings are
then fused with reciprocal rank fusion. Fusing at the cluster level rather
than the passage level keeps a cluster with five mildly matching passages
from crowding out one with a single exact match, and measured better on the
dev corpus (see `searchengine eval`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any

import numpy as np

from .contract import Filters, Kind, Mode, SearchRequest
from .documents import Field
from .store import PassageRow, Store
from .text import Highlighter, query_terms
from .vectors import VectorStore

__all__ = ["Hit", "Kind", "MatchedPassage", "Mode", "RankingParams", "Searcher"]


class Fusion(StrEnum):
    """How the signals' rankings are combined."""

    RRF = "rrf"  # reciprocal rank fusion: ranks only
    CONVEX = "convex"  # weighted sum of scores, each signal scaled by its best group


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
    rrf_k: float = 60.0  # reciprocal rank fusion constant (Cormack et al. 2009)
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    trigram_weight: float = 0.5  # character trigrams: typos and cognates; noisier than words
    fusion: Fusion = Fusion.CONVEX
    # Credit for a group's further matching passages: kept to a tie-breaker. More
    # favoured long documents and big clusters (SciFact nDCG@10 0.730 -> 0.701 at 0.1).
    extra_credit: float = 0.02
    extra_passages: int = 3  # how many further passages earn credit
    shown_passages: int = 3  # matched passages returned per hit


@dataclass
class MatchedPassage:
    """A passage that matched, labelled by field, with the query terms' spans in `text`."""

    field: Field
    position: int
    text: str
    score: float
    article_id: str | None = None
    highlights: list[tuple[int, int]] = dataclass_field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field.value,
            "position": self.position,
            "article_id": self.article_id,
            "text": self.text,
            "score": self.score,
            "highlights": [list(span) for span in self.highlights],
        }


@dataclass
class Hit:
    """One result: a cluster (or an article), its score and the passages that matched."""

    id: str
    cluster_id: str
    date: str | None
    title: str
    sources: dict[str, int]
    score: float
    passages: list[MatchedPassage]
    kind: Kind = Kind.CLUSTERS
    publisher: str | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value.rstrip("s"),
            "cluster_id": self.cluster_id,
            "date": self.date,
            "title": self.title,
            "sources": self.sources,
            "score": self.score,
            "passages": [p.to_dict() for p in self.passages],
        }
        if self.publisher is not None:
            out["publisher"] = self.publisher
        return out


# --- query analysis -----------------------------------------------------------


def fts_query(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression: any of the terms (bm25 rewards matching more of them)."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def trigram_query(terms: Sequence[str]) -> str | None:
    """Any character trigram of any term of three or more characters."""
    grams: dict[str, None] = {}
    for term in terms:
        for i in range(len(term) - 2):
            grams.setdefault(term[i : i + 3], None)
    return fts_query(list(grams))


# --- ranking ----------------------------------------------------------------


@dataclass
class _Group:
    key: str
    scores: list[tuple[float, int]]  # (score, passage id), best first

    def score(self, params: RankingParams) -> float:
        best = self.scores[0][0]
        extra = sum(s for s, _ in self.scores[1 : 1 + params.extra_passages])
        return best + params.extra_credit * extra


def group_ranking(
    candidates: Sequence[tuple[int, float]],
    rows: dict[int, PassageRow],
    kind: Kind,
    params: RankingParams,
) -> list[_Group]:
    """Passage hits -> groups (clusters or articles), best first.

    Scores are first scaled to [0, 1] by the best passage of the query, so
    that the credit for extra passages means the same for cosine and bm25.
    """
    if not candidates:
        return []
    top = max(s for _, s in candidates)
    low = min(0.0, min(s for _, s in candidates))
    span = (top - low) or 1.0
    groups: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for pid, score in candidates:
        row = rows.get(pid)
        if row is None:
            continue
        key = row.article_id if kind is Kind.ARTICLES else row.cluster_id
        if key is None:
            continue
        groups[key].append(((score - low) / span, pid))
    out = [_Group(key, sorted(scores, reverse=True)) for key, scores in groups.items()]
    out.sort(key=lambda g: (-g.score(params), g.key))
    return out


def rrf(rankings: Sequence[tuple[Sequence[str], float]], k: float) -> dict[str, float]:
    """Reciprocal rank fusion of several rankings, each with a weight."""
    fused: dict[str, float] = defaultdict(float)
    for ranking, weight in rankings:
        for rank, key in enumerate(ranking, 1):
            fused[key] += weight / (k + rank)
    return fused


class Searcher:
    """Runs searches over one store and one vector index (at one generation)."""

    def __init__(
        self, store: Store, vectors: VectorStore, params: RankingParams | None = None
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.params = params or RankingParams()

    def search(self, request: SearchRequest, vector: np.ndarray | None) -> list[Hit]:
        """Ranked clusters (or articles) for a query, with the passages that matched.
        `vector` is the query's embedding (None for a lexical search)."""
        params = self.params
        filters, kind, mode, k = request.filters, request.kind, request.mode, request.k
        if kind is Kind.ARTICLES:
            filters = Filters(**{**filters.__dict__, "articles_only": True})
        terms = query_terms(request.query)
        depth = max(params.candidates, k * params.candidates_per_result)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        trigram: list[tuple[int, float]] = []
        rows: dict[int, PassageRow] = {}
        if mode in (Mode.HYBRID, Mode.DENSE):
            if vector is None:
                raise ValueError("a dense search needs the query's vector")
            allowed = self.store.allowed_passage_ids(filters) if filters else None
            dense = self._deep(
                lambda n: self.vectors.search(vector, n, allowed), depth, k, kind, rows
            )
        if mode in (Mode.HYBRID, Mode.LEXICAL):
            match = fts_query(terms)
            if match:
                lexical = self._deep(
                    lambda n: self.store.full_text(match, n, filters), depth, k, kind, rows
                )
        if mode is Mode.HYBRID and params.trigram_weight > 0:
            # Trigrams rescue words the word index does not know (typos, other
            # languages' spellings); known words are already matched exactly,
            # and their trigrams would only add noise and cost.
            tri = trigram_query(self.store.unknown_terms(terms))
            if tri:
                trigram = self.store.full_text(tri, depth, filters, table="passages_trigram")
        rows.update(self.store.passages([pid for pid, _ in trigram if pid not in rows]))
        signals = [
            _Signal("dense", group_ranking(dense, rows, kind, params), params.dense_weight),
            _Signal("lexical", group_ranking(lexical, rows, kind, params), params.lexical_weight),
            _Signal("trigram", group_ranking(trigram, rows, kind, params), params.trigram_weight),
        ]
        signals = [sig for sig in signals if sig.groups]
        if mode is Mode.HYBRID:
            fused = fuse(signals, params)
        else:
            fused = {g.key: g.score(params) for sig in signals[:1] for g in sig.groups}
        # Ties in fused rank (1st + 2nd vs 2nd + 1st) go to the better semantic match.
        dense_rank = {
            g.key: i for sig in signals if sig.name == "dense" for i, g in enumerate(sig.groups)
        }
        ranked = sorted(
            fused, key=lambda key: (-fused[key], dense_rank.get(key, len(dense_rank)), key)
        )[:k]
        return self._hits(ranked, fused, signals, rows, terms, kind)

    def _deep(
        self,
        fetch: Callable[[int], list[tuple[int, float]]],
        depth: int,
        k: int,
        kind: Kind,
        rows: dict[int, PassageRow],
    ) -> list[tuple[int, float]]:
        """A signal's candidates, deep enough to hold `k` distinct groups (or all there are):
        the depth grows until it does, so no mode silently returns fewer than exist."""
        while True:
            found = fetch(depth)
            rows.update(self.store.passages([pid for pid, _ in found if pid not in rows]))
            keys = {
                (rows[pid].article_id if kind is Kind.ARTICLES else rows[pid].cluster_id)
                for pid, _ in found
                if pid in rows
            }
            if len(keys) >= k or len(found) < depth:
                return found
            depth *= self.params.deepen

    def _hits(
        self,
        ranked: list[str],
        fused: dict[str, float],
        signals: list[_Signal],
        rows: dict[int, PassageRow],
        terms: list[str],
        kind: Kind,
    ) -> list[Hit]:
        by_signal = {
            sig.name: {g.key: (i, g) for i, g in enumerate(sig.groups, 1)} for sig in signals
        }
        highlighter = Highlighter(terms)
        groups_of: dict[str, list[_Group]] = defaultdict(list)
        for ranks in by_signal.values():
            for key, (_, group) in ranks.items():
                groups_of[key].append(group)
        cluster_ids = [rows[groups_of[key][0].scores[0][1]].cluster_id for key in ranked]
        # A hit shows a few fields of its cluster; the whole record is not decoded.
        cards = self.store.cluster_cards(sorted(set(cluster_ids)))
        articles = self.store.article_cards(ranked) if kind is Kind.ARTICLES else {}
        hits: list[Hit] = []
        for key, cluster_id in zip(ranked, cluster_ids, strict=True):
            card = cards.get(cluster_id)
            if card is None:
                continue
            passage_scores: dict[int, float] = {}
            for group in groups_of[key]:
                for score, pid in group.scores:
                    passage_scores[pid] = max(passage_scores.get(pid, 0.0), score)
            best = sorted(passage_scores.items(), key=lambda kv: -kv[1])[
                : self.params.shown_passages
            ]
            passages = [
                MatchedPassage(
                    field=rows[pid].field,
                    position=rows[pid].position,
                    text=rows[pid].text,
                    score=round(score, 4),
                    article_id=rows[pid].article_id,
                    highlights=highlighter.spans(rows[pid].text),
                )
                for pid, score in best
            ]
            dense_by, lexical_by = by_signal.get("dense", {}), by_signal.get("lexical", {})
            hit = Hit(
                id=key,
                cluster_id=cluster_id,
                date=card.date,
                title=card.title,
                sources=card.sources,
                score=round(fused[key], 6),
                passages=passages,
                kind=kind,
                dense_rank=dense_by[key][0] if key in dense_by else None,
                lexical_rank=lexical_by[key][0] if key in lexical_by else None,
            )
            if key in articles:
                hit.title, hit.publisher = articles[key]
            hits.append(hit)
        return hits


@dataclass
class _Signal:
    """One way of ranking (dense, word bm25, trigram bm25): its groups, best first, and weight."""

    name: str
    groups: list[_Group]
    weight: float


def fuse(signals: Sequence[_Signal], params: RankingParams) -> dict[str, float]:
    """Combine the rankings: reciprocal rank fusion, or a convex combination of the
    groups' scores (each signal scaled to [0, 1] by its best group)."""
    if params.fusion is Fusion.RRF:
        return rrf([([g.key for g in sig.groups], sig.weight) for sig in signals], params.rrf_k)
    fused: dict[str, float] = defaultdict(float)
    for sig in signals:
        top = sig.groups[0].score(params) or 1.0
        for g in sig.groups:
            fused[g.key] += sig.weight * g.score(params) / top
    return fused
