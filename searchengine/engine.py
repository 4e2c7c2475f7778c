"""The one front object: `Engine.open(path)` -> answer / search / related / recommend / add / remove.

The engine holds no rules of its own beyond the front door: requests arrive
as validated records (`contract.py`), reads run inside the index folder's
`reading()` (one committed state, vectors caught up with other processes'
writes), writes go through the indexer (`indexer.py`) under the folder's
write lock, and story questions are answered by `related.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .alerts import AlertParams, Deliveries, SavedSearch
from .backend import IndexBackend, create_index, location, open_existing, open_index
from .contract import (
    Filters,
    RecommendRequest,
    RelatedRequest,
    Request,
    Response,
    SearchRequest,
    SimilarRequest,
    Sort,
    ThreadRequest,
    as_request,
    request_to_dict,
)
from .copying import copy_clusters
from .coverage import EntityParams, coverage, entity_timeline
from .documents import Article, Cluster, fold
from .encoder import DEFAULT_MODEL, Encoder, EncoderId, LazyModel, identity, load_encoder
from .errors import BadRequest, ModelMismatch, UnknownId
from .hits import Hit
from .indexer import AddReport, Indexer, IndexRun, read_paths
from .limits import DEFAULT_LIMITS, InputLimits
from .ordering import OrderingParams, candidate_k, collapse, order
from .related import RecommendParams, RelatedStory, Stories, Thread, ThreadParams
from .saved import SavedSearches
from .search import QueryWords, RankingParams, Searcher, dense_text
from .similarity import MatrixCache, SimilarityParams
from .storage import RecordStore

log = logging.getLogger("searchengine")


@dataclass(frozen=True)
class FacetParams:
    """How far facets look. The hit set is the strong hits (relevance over the cut-off)
    among the first `depth`: weaker matches would count stories nobody asked about.
    100 is ten pages of results; at 20k passages a 100-hit search costs about twice a
    10-hit one. `entities`: a page shows a short list of the commonest."""

    depth: int = 100
    entities: int = 15


class Engine:
    """Search, related stories and recommendations over one index folder."""

    def __init__(
        self,
        folder: IndexBackend,
        encoder: Encoder | None = None,
        params: RankingParams | None = None,
        runtime: str | None = None,
        precision: str | None = None,
    ) -> None:
        self.folder = folder
        self.params = params or RankingParams()
        self.similarity_params = SimilarityParams()
        self._matrices = MatrixCache()  # related stories: one cluster matrix per generation
        self.thread_params = ThreadParams()
        self.recommend_params = RecommendParams()
        self.ordering_params = OrderingParams()
        self.alert_params = AlertParams()
        self.deliveries = Deliveries(self.alert_params)
        self._saved = SavedSearches(self)
        self._background_sample: tuple[int, np.ndarray] | None = None
        m = folder.manifest
        try:
            recorded = EncoderId.from_dict(m.encoder)
            self.model = LazyModel(m.model, m.dimension, recorded, encoder, runtime, precision)
        except BaseException:
            folder.close()
            raise
        self._indexer = Indexer(folder, self.model.get)
        self._dirty = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        model: str | None = None,
        encoder: Encoder | None = None,
        create: bool = False,
        index_type: str = "auto",
        params: RankingParams | None = None,
        runtime: str | None = None,
        precision: str | None = None,
    ) -> Engine:
        """Open the index at `path` (creating it when `create`). `model` (or an `encoder`)
        must match the model the index was built with; None means "whatever it was built
        with". The model itself is loaded only when something needs encoding."""
        where = location(path)
        wanted = encoder.name if encoder else model
        folder = open_existing(where, wanted) if create else open_index(where, wanted)
        if folder is None:
            encoder = encoder or load_encoder(model or DEFAULT_MODEL, runtime, precision)
            folder = create_index(
                where, encoder.name, encoder.dimension, index_type, identity(encoder)
            )
        return cls(folder, encoder, params, runtime, precision)

    def close(self) -> None:
        """Checkpoint the vectors if this engine wrote, then close the database."""
        self.deliveries.wait()
        try:
            if self._dirty:
                with self.folder.write_lock():
                    self.folder.settle(force=True)
        finally:
            self.folder.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path | str:
        return self.folder.path

    @property
    def store(self) -> RecordStore:
        return self.folder.store

    @property
    def model_name(self) -> str:
        return self.folder.manifest.model

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use (stats and show never need it)."""
        return self.model.get()

    def serve_mode(self, wait: bool = False) -> None:
        """Prepare for many queries: load the model now (not on the first query) and
        keep the passages in memory, following every write, from now on (built in
        the background unless `wait`; searches read SQLite until it is there)."""
        self.encoder  # noqa: B018 - loads the model
        self.folder.keep_in_memory(wait=wait)

    def encode_query(self, text: str) -> np.ndarray:
        """A query's vector; each distinct query is encoded once per process."""
        return self.model.query(text)

    # --- writing ----------------------------------------------------------------------

    def add(self, clusters: Sequence[Cluster], *, progress: bool = False) -> AddReport:
        """Index clusters: new ones are added, changed ones replaced, unchanged ones skipped.
        The added and replaced ones are then matched against the saved searches."""
        report = self._indexer.add(clusters, progress=progress)
        if report.changed:
            self._wrote()
            try:
                report.alerts = self._saved.percolate(report.added + report.replaced)
            except Exception:  # noqa: BLE001 - the clusters are in; a matching failure is logged
                log.exception("matching the new clusters against the saved searches failed")
        return report

    # --- saved searches and alerts (saved.py) ---------------------------------------------

    def save_search(
        self,
        query: str,
        filters: Filters | None = None,
        min_relevance: float | None = None,
        webhook: str | None = None,
    ) -> SavedSearch:
        """Keep a query in the index: every later ingest matches its new clusters against
        it and records an alert for each whose relevance reaches `min_relevance`."""
        return self._saved.save(query, filters, min_relevance, webhook)

    def saved_searches(self) -> list[SavedSearch]:
        return self._saved.all()

    def remove_search(self, search_id: str) -> None:
        self._saved.remove(search_id)

    def alerts(self, since: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Alerts recorded after `since` (a `matched_at` time), oldest first."""
        return self._saved.alerts(since, limit)

    def add_paths(
        self,
        paths: Iterable[str | Path],
        *,
        strict: bool = False,
        progress: bool = False,
        limits: InputLimits = DEFAULT_LIMITS,
    ) -> IndexRun:
        """Parse files and folders and index every good cluster; collect the parse errors.
        With `strict`, the first error stops the run before anything is written."""
        clusters, run = read_paths(paths, strict, limits)
        run.report = self.add(clusters, progress=progress)
        return run

    def copy_to(
        self, target: str | Path, *, index_type: str = "auto", progress: bool = False
    ) -> AddReport:
        """Copy every cluster of this index into the index at `target` (created when
        missing; a folder or a Milvus URI) with the stored embeddings (copying.py)."""
        m = self.folder.manifest
        where = location(target)
        folder = open_existing(where, m.model) or create_index(
            where, m.model, m.dimension, index_type, EncoderId.from_dict(m.encoder)
        )
        with Engine(folder) as copy:
            if copy.folder.manifest.dimension != m.dimension:
                raise ModelMismatch(
                    f"{where} holds {copy.folder.manifest.dimension}-dimensional vectors, "
                    f"this index {m.dimension}"
                )
            return copy_clusters(self, copy, progress=progress)

    def add_copied(
        self, clusters: Sequence[Cluster], known: Callable[[set[str]], dict[str, np.ndarray]]
    ) -> AddReport:
        """Clusters copied from another index, with their embeddings (`known`, by text
        hash): nothing is encoded, and saved searches are not matched (copying.py)."""
        report = self._indexer.add(clusters, known=known)
        if report.changed:
            self._wrote()
        return report

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove clusters by id; an unknown id is an error and nothing is removed."""
        removed = self._indexer.remove(ids)
        self._wrote()
        return removed

    def rebuild(self, index_type: str | None = None) -> None:
        """Rebuild the vector index from stored embeddings, optionally as another type."""
        self._indexer.set_index_type(index_type or self.folder.index_type_setting()[0])
        self._wrote(force=True)

    def _wrote(self, force: bool = False) -> None:
        """After a write: checkpoint the vectors when the policy says so (always at close)."""
        self._dirty = True
        with self.folder.write_lock():
            self.folder.settle(force=force)

    # --- reading ----------------------------------------------------------------------

    def answer(self, request: Request) -> Response:
        """Any request record -> its response envelope (what the CLI and the API call)."""
        if isinstance(request, SearchRequest):
            return self._search_response(request)
        if isinstance(request, RelatedRequest):
            return Response(request, self.related(request))
        if isinstance(request, SimilarRequest):
            return Response(request, self.similar(request))
        if isinstance(request, ThreadRequest):
            thread = self._thread(request)
            notes = (
                [f"cut at {request.limit} clusters: the story has more (ask a higher limit)"]
                if thread.cut
                else []
            )
            return Response(request, thread.stories, notes)
        stories = self.recommend(request)
        notes = [] if request.liked else ["no liked stories: ranked by how widely each was covered"]
        if request.half_life_days:
            notes.append(
                f"score = similarity x freshness (half-life {request.half_life_days:g} days, "
                "counted back from the newest story; undated stories count as the oldest)"
            )
        scores = [s.score for s in stories]
        if any(a < b for a, b in zip(scores, scores[1:], strict=False)):
            notes.append(
                f"ordered for diversity (MMR, diversity {request.diversity:g}): a story unlike "
                "those above it may come before a higher score"
            )
        return Response(request, stories, notes)

    def _search_response(self, request: SearchRequest) -> Response:
        """A search's envelope, with a note when no hit is a strong match (unless the
        request chose its own `min_relevance`)."""
        hits = self.search(request)
        notes: list[str] = []
        cutoff = self.params.relevance.cutoff
        if request.min_relevance is None and hits and all(h.weak for h in hits):
            notes.append(
                f"no strong match: every result's relevance is under {cutoff:g}; "
                "these are the closest stories"
            )
        if request.half_life_days:
            anchor = request.fresh_from or "the newest story"
            notes.append(
                f"ordered by relevance x freshness (half-life {request.half_life_days:g} days, "
                f"counted back from {anchor}; undated stories count as the oldest); "
                "strong matches before weaker ones"
            )
        if request.sort is Sort.DATE:
            notes.append(
                f"strong matches (relevance {cutoff:g} or more) newest first, undated last; "
                "weaker matches after them"
            )
        if request.collapse:
            notes.append(
                "one result per story: hits that are the same story as a result above "
                "are listed under it (`more`)"
            )
        return Response(request, hits, notes)

    def search(self, request: SearchRequest | str, **options: Any) -> list[Hit]:
        """Ranked clusters (or articles) for a natural-language query. Each hit carries
        its calibrated relevance; those under `request.min_relevance` are dropped."""
        request = as_request(SearchRequest, request, options)
        if request.reorders:
            hits = self._reordered(request)
        else:
            hits = self._ranked(request)
        if request.min_relevance is not None:
            hits = [h for h in hits if h.relevance >= request.min_relevance]
        return hits

    def _reordered(self, request: SearchRequest) -> list[Hit]:
        """Fresh first, newest first or one per story (ordering.py): the ranking's first
        `candidate_k` hits, re-ordered, then cut to k."""
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
        with self.folder.reading():
            newest = self.store.newest_date() if request.half_life_days else None
            oldest = self.store.oldest_date() if request.half_life_days else None
            hits = order(ranked, request, newest, oldest)
            if request.collapse:
                hits = collapse(hits, self._stories().same_story_as)
        return hits[: request.k]

    def _ranked(self, request: SearchRequest) -> list[Hit]:
        """The hits in ranking order (the ranking's own k)."""
        if request.mode == "lexical":
            hits = self.search_by_vector(request, None)
        else:
            # Encode outside any lock: it is the slow part. The encoder also reads the
            # index's words found for unknown ones ("Afeganistão" -> afghanistan).
            words = self._query_words(request.query)
            vector = self.encode_query(dense_text(request.query, words))
            hits = self.search_by_vector(request, vector, words)
        return hits

    def search_by_vector(
        self,
        request: SearchRequest,
        vector: np.ndarray | None,
        words: QueryWords | None = None,
    ) -> list[Hit]:
        """A search whose query vector is already known (an article's, a cached one)."""
        with self.folder.reading() as generation:
            background = self.background(generation) if vector is not None else None
            return self.searcher().search(request, vector, words, background)

    def background(self, generation: int) -> np.ndarray:
        """A fixed sample of the index's vectors (call inside `reading()`), once per
        generation: what a hit's cosine is measured against (`Evidence.standing`)."""
        cached = self._background_sample
        if cached is not None and cached[0] == generation:
            return cached[1]
        sample = self.store.sample_embeddings(
            self.params.relevance.background, self.folder.manifest.dimension
        )
        self._background_sample = (generation, sample)
        return sample

    def _query_words(self, query: str) -> QueryWords:
        """The index's words closest to the query's unknown ones. A server asks its
        memory copy (no snapshot: at most one write behind, which a word list can be);
        a one-shot command asks the database."""
        memory = self.folder.latest_memory()
        if memory is not None:
            return Searcher(self.store, None, self.params, memory).query_words(query)
        with self.folder.reading():
            return self.searcher().query_words(query)

    def searcher(self) -> Searcher:
        """A searcher over this thread's reading state (call inside `folder.reading()`)."""
        return Searcher(self.store, self.folder.vectors, self.params, self.folder.memory())

    def get(self, item_id: str) -> tuple[Cluster, Article | None]:
        """A cluster, or an article with its cluster; UnknownId if neither."""
        with self.folder.reading():
            cluster = self.store.get_cluster(item_id)
            if cluster is not None:
                return cluster, None
            cluster_id = self.store.cluster_of_article(item_id)
            cluster = self.store.get_cluster(cluster_id) if cluster_id else None
        if cluster is None:
            hint = ""
            if ":" in item_id:  # `ID:WEIGHT` with a weight that is not a number
                hint = " (to weigh a liked story, write ID:NUMBER, e.g. 2025-10-10-c2:2)"
            raise UnknownId(f"no cluster or article with id {item_id}{hint}")
        return cluster, next(a for a in cluster.articles if a.id == item_id)

    def _stories(self) -> Stories:
        with self.folder.reading() as generation:  # (re-entrant: the caller's read)
            matrix = self._matrices.at(self.store, self.folder.manifest.dimension, generation)
        return Stories(
            self.store,
            matrix,
            self.folder.manifest.dimension,
            self.similarity_params,
            self.thread_params,
            self.recommend_params,
        )

    def related(self, request: RelatedRequest | str, **options: Any) -> list[RelatedStory]:
        """Other clusters (for a cluster id) or articles (for an article id) about the
        same or a related story, best first; the item itself never appears."""
        request = as_request(RelatedRequest, request, options)
        with self.folder.reading():
            cluster, article = self.get(request.id)
            if article is None:
                return self._stories().related_clusters(cluster, request)
            return self._stories().related_articles(
                cluster, article, request, self.search_by_vector
            )

    def similar(self, request: SimilarRequest | str, **options: Any) -> list[RelatedStory]:
        """Clusters like a paragraph of free text ("stories like this")."""
        request = as_request(SimilarRequest, request, options)
        vector = self.encode_query(request.text)
        with self.folder.reading():
            return self._stories().similar(request, vector)

    def thread(self, request: ThreadRequest | str, **options: Any) -> list[RelatedStory]:
        """The developing story a cluster (or an article's cluster) belongs to, by date
        (`answer` adds a note when the limit cut it)."""
        request = as_request(ThreadRequest, request, options)
        return self._thread(request).stories

    def _thread(self, request: ThreadRequest) -> Thread:
        with self.folder.reading():
            cluster, _ = self.get(request.id)
            return self._stories().thread(cluster.id, request)

    def recommend(
        self, request: RecommendRequest | None = None, **options: Any
    ) -> list[RelatedStory]:
        """Unseen clusters for a reader, from what they liked (`ID`, `ID:WEIGHT` or
        `(id, weight)`) and disliked; diverse (MMR) and, with a half-life, fresh."""
        request = as_request(RecommendRequest, request, options)
        with self.folder.reading():
            liked = [(self._cluster_id_of(x.id), x.weight) for x in request.liked]
            disliked = [self._cluster_id_of(d) for d in request.disliked]
            return self._stories().recommend(request, liked, disliked)

    def coverage(self, item_id: str) -> dict[str, Any]:
        """Who covered a story and how (outlets, articles' tone, sentiment and intent,
        per publisher), and along its thread, day by day (coverage.py)."""
        with self.folder.reading():
            cluster, _ = self.get(item_id)
            members = self._stories().thread(cluster.id, ThreadRequest(cluster.id)).stories
            thread = self.store.get_clusters([s.id for s in members])
        return coverage(cluster, list(thread.values()))

    def entity(self, name: str, params: EntityParams | None = None) -> dict[str, Any]:
        """An entity's stories over time, the entities named with it, and the sentiment of
        the articles naming it per period; matched as the entity filter matches."""
        if not isinstance(name, str) or not fold(name):
            raise BadRequest("name: the entity name is empty")
        with self.folder.reading():
            ids = self.store.allowed_cluster_ids(Filters(entities=(name.strip(),)))
            clusters = self.store.get_clusters(ids)
        if not clusters:
            raise UnknownId(f"no story names {name.strip()!r}")
        return entity_timeline(name.strip(), list(clusters.values()), params or EntityParams())

    def _cluster_id_of(self, item_id: str) -> str:
        return self.get(item_id)[0].id  # UnknownId for anything not indexed

    def generation(self) -> int:
        """The newest committed generation (what /health reports)."""
        with self.folder.reading() as gen:
            return gen

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
        with self.folder.reading():
            counts = self.store.facet_counts(clusters, params.entities)
        # The request as facets read it: k and min_relevance play no part.
        asked = {
            key: value
            for key, value in request_to_dict(request).items()
            if key not in ("k", "min_relevance")
        }
        return {"request": {**asked, "depth": params.depth}, "hits": len(hits), "facets": counts}

    def stats(self) -> dict[str, Any]:
        """Counts, model, index type, size on disk, generation — one consistent state."""
        return self.folder.stats()
