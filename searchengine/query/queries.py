"""The engine's searches: a request record -> ranked hits, over one committed state.

The ranking itself is `search.py`'s; this module decides what state it reads (the
index folder's `reading()`, a server's memory copy for the unknown-word list), keeps
the per-generation background sample a hit's cosine is measured against, re-orders
for freshness, date or one-per-story (`ordering.py`), and counts facets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from searchengine.backends.index import IndexBackend
from searchengine.backends.storage import RecordStore
from searchengine.core.contract import Kind, SearchRequest, Sort, request_to_dict
from searchengine.core.documents import cluster_texts
from searchengine.core.hits import Hit
from searchengine.core.query_syntax import parse_query
from searchengine.query.notes import search_notes
from searchengine.query.ordering import OrderingParams, candidate_k, collapse, order
from searchengine.query.search import QueryWords, RankingParams, Searcher, dense_text
from searchengine.stories.related import Stories


@dataclass(frozen=True)
class FacetParams:
    """How far facets look. The hit set is the strong hits (relevance over the cut-off)
    among the first `depth`: weaker matches would count stories nobody asked about.
    100 is ten pages of results; at 20k passages a 100-hit search costs about twice a
    10-hit one. `entities`: a page shows a short list of the commonest."""

    depth: int = 100
    entities: int = 15


class Host(Protocol):
    """What searching needs of the engine (its parameters read per call)."""

    folder: IndexBackend
    params: RankingParams

    @property
    def store(self) -> RecordStore: ...
    def encode_query(self, text: str) -> np.ndarray: ...


class Queries:
    """Searches over one engine's index. `stories`: the story judgements of the
    current reading state (one result per story needs `same_story`)."""

    def __init__(self, host: Host, stories: Callable[[], Stories]) -> None:
        self.host = host
        self.stories = stories
        self.ordering_params = OrderingParams()
        self._background_sample: tuple[int, np.ndarray] | None = None

    def search(self, request: SearchRequest) -> list[Hit]:
        """Ranked clusters (or articles); those under `request.min_relevance` dropped.
        Quoted phrases, `-word`/`NOT word` and `OR` are honoured (`query_syntax.py`):
        the ranking reads the query's words, and the hits are held to the rest."""
        return self.search_with_notes(request)[0]

    def search_with_notes(self, request: SearchRequest) -> tuple[list[Hit], list[str]]:
        """`search`, and the notes its answer carries (`notes.search_notes`, and one on
        the query syntax: when no story has a quoted phrase -- a headline's scare
        quotes, a misremembered phrase -- the hits without it, and a note saying so, as
        web search engines do)."""
        parsed, asked = parse_query(request.query), request
        if not parsed.text:  # ("-Gaza", "NOT", a lone quote)
            return [], ["the query only excludes words: add words to search for"]
        notes: list[str] = []
        if parsed.text != request.query:
            wanted = request.k
            deeper = candidate_k(wanted, self.ordering_params) if parsed.constrains else wanted
            request = replace(request, query=parsed.text, k=deeper)
        hits = self._reordered(request) if request.reorders else self._ranked(request)
        if parsed.constrains:
            texts = self._texts(hits)
            kept = [h for h in hits if h.id in texts and parsed.admits(texts[h.id])]
            if not kept and hits and parsed.phrases:
                loose = replace(parsed, phrases=())
                kept = [h for h in hits if h.id in texts and loose.admits(texts[h.id])]
                quoted = " ".join(f'"{" ".join(p)}"' for g in parsed.phrases for p in g)
                notes.append(f"no story has {quoted} as written; these match the words")
            hits = kept[:wanted]
        if request.min_relevance is not None:
            hits = [h for h in hits if h.relevance >= request.min_relevance]
        return hits, notes + search_notes(asked, hits, self.host.params.relevance.cutoff)

    def _texts(self, hits: list[Hit]) -> dict[str, str]:
        """Each hit's text, by hit id: its cluster's, or for an article its own (a hit
        whose cluster is gone since ranking is left out: it is dropped)."""
        with self.host.folder.reading():
            clusters = self.host.store.get_clusters(list(dict.fromkeys(h.cluster_id for h in hits)))
        out: dict[str, str] = {}
        for hit in hits:
            cluster = clusters.get(hit.cluster_id)
            if cluster is None:
                continue
            if hit.kind is Kind.ARTICLES:
                out[hit.id] = " ".join(
                    f"{a.title} {a.summary}" for a in cluster.articles if a.id == hit.id
                )
            else:
                out[hit.id] = " ".join(cluster_texts(cluster))
        return out

    def _reordered(self, request: SearchRequest) -> list[Hit]:
        """Fresh first, newest first or one per story (ordering.py): the ranking's first
        `candidate_k` hits, re-ordered, then cut to k."""
        host = self.host
        ranked = self._ranked(
            replace(
                request,
                k=candidate_k(request.k, self.ordering_params),
                half_life_days=None,
                sort=Sort.RELEVANCE,
                collapse=False,
                min_relevance=None,
            )
        )
        with host.folder.reading():
            oldest, newest = host.store.date_range() if request.half_life_days else (None, None)
            hits = order(ranked, request, newest, oldest)
            if request.collapse:
                hits = collapse(hits, self.stories().same_story_as)
        return hits[: request.k]

    def _ranked(self, request: SearchRequest) -> list[Hit]:
        """The hits in ranking order (the ranking's own k)."""
        if request.mode == "lexical":
            return self.search_by_vector(request, None)
        # Encode outside any lock: it is the slow part. The encoder also reads the
        # index's words found for unknown ones ("Afeganistão" -> afghanistan).
        words = self.query_words(request.query)
        vector = self.host.encode_query(dense_text(request.query, words))
        return self.search_by_vector(request, vector, words)

    def search_by_vector(
        self,
        request: SearchRequest,
        vector: np.ndarray | None,
        words: QueryWords | None = None,
    ) -> list[Hit]:
        """A search whose query vector is already known (an article's, a cached one)."""
        with self.host.folder.reading() as generation:
            background = self.background(generation) if vector is not None else None
            return self.searcher().search(request, vector, words, background)

    def background(self, generation: int) -> np.ndarray:
        """A fixed sample of the index's vectors (call inside `reading()`), once per
        generation: what a hit's cosine is measured against (`Evidence.standing`)."""
        cached = self._background_sample
        if cached is not None and cached[0] == generation:
            return cached[1]
        host = self.host
        sample = host.store.sample_embeddings(
            host.params.relevance.background, host.folder.manifest.dimension
        )
        self._background_sample = (generation, sample)
        return sample

    def query_words(self, query: str) -> QueryWords:
        """The index's words closest to the query's unknown ones. A server asks its
        memory copy (no snapshot: at most one write behind, which a word list can be);
        a one-shot command asks the database."""
        host = self.host
        memory = host.folder.latest_memory()
        if memory is not None:
            return Searcher(host.store, None, host.params, memory).query_words(query)
        with host.folder.reading():
            return self.searcher().query_words(query)

    def searcher(self) -> Searcher:
        """A searcher over this thread's reading state (call inside `folder.reading()`)."""
        folder = self.host.folder
        return Searcher(self.host.store, folder.vectors, self.host.params, folder.memory())

    def facets(self, request: SearchRequest, params: FacetParams | None = None) -> dict[str, Any]:
        """Counts of sources, entities, sentiment and dates over a search's hit set —
        its strong hits among the first `params.depth` — for a page to filter by."""
        params = params or FacetParams()
        deep = SearchRequest(
            request.query,
            k=params.depth,
            mode=request.mode,
            kind=request.kind,
            filters=request.filters,
        )
        hits = [h for h in self.search(deep) if not h.weak]
        clusters = list(dict.fromkeys(h.cluster_id for h in hits))
        with self.host.folder.reading():
            counts = self.host.store.facet_counts(clusters, params.entities)
        # The request as facets read it: k and min_relevance play no part.
        asked = {
            key: value
            for key, value in request_to_dict(request).items()
            if key not in ("k", "min_relevance")
        }
        return {"request": {**asked, "depth": params.depth}, "hits": len(hits), "facets": counts}
