"""Saved searches that fire on ingest: a reader saves a query (with filters and a
minimum calibrated relevance); every write that adds or replaces clusters matches
just those clusters against every saved search and records the matches as alerts,
POSTing each to the search's webhook when it has one.

Matching is a percolator, not a search: for each new cluster and saved search it
works out the same evidence a search would (`search.Evidence`: the cluster's best
passage cosine, the idf-weighted share of the query's words its best passages hold,
and how far that cosine falls under the query's best in the whole index) and the
same calibrated relevance (`relevance.py`). The query's vector is stored when the
search is saved, so the cost is new passages x saved searches — one matrix product —
plus one nearest-passage lookup per saved search, and never grows with the index.
Filters are checked on the cluster record itself.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from searchengine.core.contract import MAX_QUERY_CHARS, Filters
from searchengine.core.dates import stamp
from searchengine.core.documents import Cluster, Field, cluster_texts, fold
from searchengine.core.filters import ClusterFacts, matches
from searchengine.core.fuzzy import FuzzyParams, Vocabulary
from searchengine.core.hits import Evidence
from searchengine.core.query_syntax import ParsedQuery, asks_no_word, parse_query
from searchengine.core.text import STOPWORDS, query_terms, stem_word
from searchengine.environment import environment
from searchengine.errors import BadRequest
from searchengine.news.outbox import OutboxParams
from searchengine.news.webhooks import Unresolvable
from searchengine.news.webhooks import check as check_webhook
from searchengine.query.relevance import RelevanceParams, score_hits
from searchengine.query.search import QueryWords, _TermCoverage

log = logging.getLogger("searchengine")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class AlertParams:
    """How saved searches are matched and delivered.

    `shown_passages`: a cluster's words are counted in its best 3 passages by
    cosine, as a search shows 3 (`RankingParams.shown_passages`), so a match's
    relevance reads as the search's would. `outbox`: how alerts reach their webhooks
    (outbox.py, webhooks.py). `max_saved`: the matrix of saved queries
    stays under ~15 MB (10k x 384 floats). `page`: alerts per answer.
    `retention_days`: alerts older than this are removed when new ones are recorded;
    a quarter, long enough for a reader back from a holiday to page through what
    they missed (unpruned, 88,602 alerts for 54 clusters took 62 MB);
    SEARCHENGINE_ALERT_RETENTION_DAYS sets it."""

    shown_passages: int = 3
    outbox: OutboxParams = field(default_factory=OutboxParams)
    max_saved: int = 10_000
    page: int = 500
    match_chunk: int = 1_000  # unmatched clusters matched per round (bounds one round's memory)
    retention_days: float = field(default_factory=lambda: environment().alert_retention_days or 90)


def retention_cutoff(days: float) -> str:
    """The `matched_at` before which alerts are removed."""
    return stamp(datetime.now(UTC) - timedelta(days=days))


def now_iso() -> str:
    """UTC with microseconds: alerts sort by it, and `since` compares it as text."""
    return stamp(datetime.now(UTC))


@dataclass
class SavedSearch:
    """A query kept in the index, with what a match must pass."""

    id: str
    query: str
    filters: Filters = field(default_factory=Filters)
    min_relevance: float = RelevanceParams().cutoff
    webhook: str | None = None
    created_at: str = ""
    vector: list[float] = field(default_factory=list)
    secret: str | None = None  # signs its deliveries (webhooks.py); shown once, when saved

    @functools.cached_property
    def parsed(self) -> ParsedQuery:
        """The query's words (what is encoded and matched) and the phrases and
        exclusions a matching cluster must honour, as a search honours them
        (`query_syntax.py`; a saved search does not fall back when no story has a
        phrase: an alert is a promise the phrase is there)."""
        return parse_query(self.query)

    @classmethod
    def build(
        cls,
        query: str,
        filters: Filters | None = None,
        min_relevance: float | None = None,
        webhook: str | None = None,
    ) -> SavedSearch:
        query = query.strip() if isinstance(query, str) else ""
        if not query or len(query) > MAX_QUERY_CHARS:
            raise BadRequest(f"query: give 1 to {MAX_QUERY_CHARS} characters")
        if asks_no_word(query):  # (the API schema's `not` pattern: the same rule)
            raise BadRequest("query: it only excludes words; a saved search needs words to match")
        threshold = RelevanceParams().cutoff if min_relevance is None else min_relevance
        if isinstance(threshold, bool) or not 0.0 <= float(threshold) <= 1.0:
            raise BadRequest(f"min_relevance must be between 0 and 1, not {min_relevance!r}")
        if webhook is not None:
            try:
                check_webhook(webhook)
            except Unresolvable:
                log.warning("saved search webhook %s does not resolve now", webhook)
        return cls(
            id=secrets.token_hex(6),
            query=query,
            filters=filters or Filters(),
            min_relevance=float(threshold),
            webhook=webhook or None,
            created_at=now_iso(),
            secret=secrets.token_urlsafe(32) if webhook else None,
        )

    def to_dict(self, vector: bool = False, secret: bool = False) -> dict[str, Any]:
        """As shown (`secret`: with the webhook secret, once, when saved), or as
        stored (`vector`: with the query vector and the secret)."""
        out: dict[str, Any] = {
            "id": self.id,
            "query": self.query,
            "filters": self.filters.to_dict(),
            "min_relevance": self.min_relevance,
            "webhook": self.webhook,
            "created_at": self.created_at,
        }
        if vector:
            out["vector"] = self.vector
        if vector or (secret and self.secret):
            out["secret"] = self.secret
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SavedSearch:
        f = data.get("filters") or {}
        return cls(
            id=str(data["id"]),
            query=str(data["query"]),
            filters=Filters.build(
                f.get("from"), f.get("to"), f.get("sources"), f.get("entities"), f.get("sentiment")
            ),
            min_relevance=float(data.get("min_relevance", RelevanceParams().cutoff)),
            webhook=data.get("webhook"),
            created_at=str(data.get("created_at", "")),
            vector=list(data.get("vector") or []),
            secret=data.get("secret"),
        )


@dataclass
class Match:
    search: SavedSearch
    cluster: Cluster
    relevance: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "search_id": self.search.id,
            "query": self.search.query,
            "cluster_id": self.cluster.id,
            "date": self.cluster.date,
            "title": self.cluster.title,
            "relevance": self.relevance,
        }


# The fuzzy floor of the word bound: a query word is taken as possibly found in a
# cluster when one of the cluster's words is this close to it (rapidfuzz ratio). A
# search itself matches an unknown word to the index's words at 80 (`FuzzyParams`);
# 70 leaves room for the inflections of a word whose stem the cluster holds.
WORD_BOUND_RATIO = 70.0


@dataclass
class SavedIndex:
    """The saved searches' words, for finding the searches a new cluster can match
    (the percolator's index of its queries): by stem, and their long words for close
    spellings (an unknown query word is matched to close index words by a search)."""

    by_stem: dict[str, list[int]]
    by_word: dict[str, list[int]]
    words: Vocabulary

    @classmethod
    def build(cls, searches: Sequence[SavedSearch]) -> SavedIndex:
        by_stem: dict[str, list[int]] = {}
        by_word: dict[str, list[int]] = {}
        for row, search in enumerate(searches):
            for term in query_terms(search.parsed.text):
                by_stem.setdefault(stem_word(term), []).append(row)
                if len(term) >= FuzzyParams().min_length:
                    by_word.setdefault(term, []).append(row)
        return cls(by_stem, by_word, Vocabulary(by_word))

    def sharing(self, cluster_words: Sequence[set[str]], searches: int) -> np.ndarray:
        """searches x clusters: whether a search's words (or close spellings of them)
        occur in a cluster's words at all. A pair that shares none finds none of the
        query's words whatever its passages: its relevance is bounded by the vector
        alone."""
        from rapidfuzz import fuzz, process

        out = np.zeros((searches, len(cluster_words)), dtype=bool)
        for ci, words in enumerate(cluster_words):
            rows: set[int] = set()
            for word in words:
                if word in STOPWORDS:
                    continue
                rows.update(self.by_stem.get(stem_word(word), ()))
                if len(word) >= 4:
                    close = process.extract(
                        word,
                        self.words.candidates(word, WORD_BOUND_RATIO),
                        scorer=fuzz.ratio,
                        score_cutoff=WORD_BOUND_RATIO,
                        limit=None,
                    )
                    for found, _, _ in close:
                        rows.update(self.by_word[found])
            out[sorted(rows), ci] = True
        return out


def percolate(
    searches: Sequence[SavedSearch],
    clusters: dict[str, Cluster],
    passages: dict[str, list[tuple[Field, int, str, np.ndarray]]],
    background: np.ndarray,
    context: Callable[[SavedSearch], QueryContext],
    relevance: RelevanceParams,
    params: AlertParams,
    queries: np.ndarray | None = None,
    index: SavedIndex | None = None,
) -> list[Match]:
    """Every (saved search, cluster) pair whose calibrated relevance reaches the
    search's minimum and whose cluster passes its filters. `passages`: each cluster's
    (field, position, text, vector); `context`: what a saved query's search would know
    of the index (its unknown words, its words' idf, its best cosine) — asked only of
    the searches that could match (below); `queries` and `index`: the searches'
    vectors as one matrix and their words (`SavedIndex`), when the caller keeps them.

    The cost follows new passages x saved searches (one matrix product) and then the
    searches that could match only: the most relevance a pair can reach (every query
    word found if the cluster holds any of them or a close spelling, none otherwise;
    the cluster the search's best hit anywhere) is worked out for every pair from the
    product and the word index alone, and a search none of whose pairs reach its
    minimum stops there, before its context (a nearest-passage search of its own) is
    asked. At 10,000 saved searches that context, asked of every search, was the
    ingest's cost whatever its size."""
    live = [s for s in searches if s.vector]
    cids = [c for c in clusters if passages.get(c)]
    if not live or not cids:
        return []
    if queries is None or len(queries) != len(live):
        queries = np.asarray([s.vector for s in live], dtype=np.float32)  # S x d
    rows = [p for cid in cids for p in passages[cid]]  # each cluster's passages together
    starts = np.cumsum([0] + [len(passages[cid]) for cid in cids[:-1]])
    matrix = np.vstack([p[3] for p in rows]).astype(np.float32)  # P x d
    sims = queries @ matrix.T  # S x P: the cost that grows with the ingest
    best = np.maximum.reduceat(sims, starts, axis=1)  # S x C: each cluster's best passage
    weights, bias = relevance.semantic.weights, relevance.semantic.bias
    if weights[1] >= 0 and weights[2] >= 0:  # (words add, a gap <= 0 takes: the bound)
        index = index if index is not None else SavedIndex.build(live)
        words = [{w for p in passages[cid] for w in _WORDS.findall(fold(p[2]))} for cid in cids]
        share = index.sharing(words, len(live)).astype(np.float32)
        z = bias + weights[0] * best + weights[1] * share
        upper = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        minimums = np.array([s.min_relevance for s in live], dtype=np.float32)
        keep = np.flatnonzero((upper >= minimums[:, None]).any(axis=1))
        live = [live[i] for i in keep]
        if not live:
            return []
        queries, sims, best = queries[keep], sims[keep], best[keep]
    known_context = {s.id: context(s) for s in live}
    if len(background) > 1:
        bg = queries @ background.T
        means, spreads = bg.mean(axis=1), bg.std(axis=1)
    else:
        means, spreads = np.zeros(len(live)), np.zeros(len(live))
    with np.errstate(divide="ignore", invalid="ignore"):
        standing = np.where(spreads[:, None] > 0, (best - means[:, None]) / spreads[:, None], 0.0)
    # How far each cluster's cosine falls under the query's best in the index (the
    # cluster itself included): 0 when it would be the search's first hit.
    tops = np.array(
        [known_context[s.id].best if known_context[s.id].best is not None else -1.0 for s in live],
        dtype=np.float32,
    )
    gaps = best - np.maximum(tops[:, None], best)
    # The most the words could add (all of them found), for every pair at once: most
    # pairs stop here, before any text is read.
    z = bias + weights[0] * best + weights[1] + weights[2] * gaps
    ceiling = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    facts = {cid: ClusterFacts.of(clusters[cid]) for cid in cids}
    stem_sets: dict[int, set[str]] = {}

    def stems(row: int) -> set[str]:
        """A passage's word stems, worked out once for all the searches."""
        found = stem_sets.get(row)
        if found is None:
            words = _WORDS.findall(fold(rows[row][2]))
            found = stem_sets[row] = {stem_word(w) for w in words if w not in STOPWORDS}
        return found

    ends = list(starts[1:]) + [len(rows)]
    out: list[Match] = []
    for si, search in enumerate(live):
        candidates = np.flatnonzero(ceiling[si] >= search.min_relevance)
        if not len(candidates):
            continue
        parsed = search.parsed
        terms = query_terms(parsed.text)
        known = known_context[search.id]
        coverage = _TermCoverage(parsed.text, terms, known.words, known.weights)
        if max(0.0, 1.0 - relevance.names_discount * coverage.names_missing) == 0.0:
            continue  # the query names only what the index never mentions
        for ci in candidates:
            cid = cids[ci]
            if not matches(search.filters, facts[cid]):
                continue
            if parsed.constrains and not parsed.admits(" ".join(cluster_texts(clusters[cid]))):
                continue
            lo, hi = int(starts[ci]), int(ends[ci])
            order = np.argsort(-sims[si, lo:hi], kind="stable")[: params.shown_passages]
            # The query's words in the best passages, by stem (as a search's highlights).
            seen = set().union(*(stems(lo + int(i)) for i in order))
            evidence = Evidence(
                float(best[si, ci]),
                float(standing[si, ci]),
                coverage.found(seen),
                1.0,
                coverage.names_missing,
                coverage.weighted_found(seen),
                float(gaps[si, ci]),
            )
            value = score_hits([evidence], relevance)[0]
            if value >= search.min_relevance:
                out.append(Match(search, clusters[cid], value))
    return out


@dataclass
class QueryContext:
    """What a saved query's search would know of the index at the time of matching."""

    words: QueryWords  # its unknown words and the index's words found for them
    weights: dict[str, float]  # its words' idf
    best: float | None  # its best passage cosine in the index
