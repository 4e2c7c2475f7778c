"""The front door: `Engine.open(path)` -> answer / search / related / recommend / add.

No rules of its own: searches are `query/queries.py`'s, story questions
`stories/desk.py`'s, story and entity pages `news/views.py`'s, writes the indexer's
(`ingest/indexer.py`), saved searches and alerts `news/saved.py`'s, copies
`ingest/copying.py`'s, and the notes an answer carries `query/notes.py`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.backends.index import IndexBackend, open_or_create
from searchengine.backends.manifest import IndexStats
from searchengine.backends.memory import give_back_memory, steady_heap
from searchengine.backends.storage import RecordStore
from searchengine.core.contract import (
    RecommendRequest,
    RelatedRequest,
    Request,
    Response,
    SearchRequest,
    SimilarRequest,
    ThreadRequest,
    as_request,
)
from searchengine.core.documents import Article, Cluster
from searchengine.core.hits import Hit
from searchengine.encoders.encoder import Encoder, EncoderId, LazyModel
from searchengine.ingest.copying import copy_clusters, target_index
from searchengine.ingest.indexer import AddReport, Indexer, IndexRun, Known, read_paths
from searchengine.limits import DEFAULT_LIMITS, InputLimits
from searchengine.news.saved import SavedSearches
from searchengine.news.views import NewsViews
from searchengine.query.filter_help import helped
from searchengine.query.notes import recommend_notes, thread_notes
from searchengine.query.queries import Queries
from searchengine.query.search import RankingParams
from searchengine.stories.desk import StoryDesk
from searchengine.stories.related import RelatedStory

log = logging.getLogger("searchengine")


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
        self.stories = StoryDesk(self)
        self.news = NewsViews(self.stories)  # coverage and entity pages
        self.queries = Queries(self, self.stories.judgements)
        self.saved = SavedSearches(self, self.queries)  # and their alerts
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
        folder, encoder = open_or_create(
            path, model, encoder, create, index_type, runtime, precision
        )
        return cls(folder, encoder, params, runtime, precision)

    def close(self) -> None:
        """Checkpoint the vectors if this engine wrote, then close the database."""
        self.saved.outbox.close()
        try:
            if self._dirty:
                with self.folder.write_lock():
                    self.folder.settle(force=True)
        finally:
            self.folder.close()
            give_back_memory()  # (a daily job's engine: its graph and copies are gone)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def store(self) -> RecordStore:
        return self.folder.store

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use (stats and show never need it)."""
        return self.model.get()

    def serve_mode(self, wait: bool = False) -> None:
        """Prepare for many queries: load the model now (not on the first query) and
        keep the passages in memory, following every write, from now on (built in
        the background unless `wait`; searches read SQLite until it is there)."""
        self.encoder  # noqa: B018 - loads the model
        steady_heap()  # (a server lives for months: what it frees goes back to the OS)
        self.folder.keep_in_memory(wait=wait)
        self.saved.outbox.poll_forever()  # (alerts' retries come due while it serves)

    def encode_query(self, text: str) -> np.ndarray:
        """A query's vector; each distinct query is encoded once per process."""
        return self.model.query(text)

    def add(
        self, clusters: Sequence[Cluster], *, progress: bool = False, known: Known | None = None
    ) -> AddReport:
        """Index clusters: new ones are added, changed ones replaced, unchanged ones skipped.
        The added and replaced ones are then matched against the saved searches — unless
        they are a copy from another index (`known`: its embeddings by text hash, so
        nothing is encoded; copying.py)."""
        report = self._indexer.add(clusters, progress=progress, known=known)
        if report.changed:
            self._wrote()
        if known is None:  # a copy alerts no one
            try:  # (also what an earlier ingest committed and died before matching)
                report.alerts = self.saved.match_unmatched()
            except Exception:  # noqa: BLE001 - the clusters are in; a matching failure is logged
                log.exception("matching the new clusters against the saved searches failed")
        return report

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
        with Engine(target_index(self.folder.manifest, target, index_type)) as copy:
            return copy_clusters(self, copy, progress=progress)

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

    def answer(self, request: Request) -> Response:
        """Any request record -> its response envelope (what the CLI and the API call);
        its filters forgiving and an answer they emptied explained (`filter_help.py`)."""
        return helped(request, self._answer, self.store, self.folder.reading)

    def _answer(self, request: Request) -> Response:
        stories, judge = self.stories, self.queries
        if isinstance(request, SearchRequest):
            return Response(request, *judge.search_with_notes(request))
        if isinstance(request, RelatedRequest):
            return Response(request, stories.related(request, judge.search_by_vector))
        if isinstance(request, SimilarRequest):
            return Response(request, stories.similar(request, self.encode_query(request.text)))
        if isinstance(request, ThreadRequest):
            found = stories.thread(request)
            return Response(request, found.stories, thread_notes(request, found.cut))
        liked = stories.recommend(request)
        return Response(request, liked, recommend_notes(request, liked))

    def _results(self, request: Request) -> list[Any]:
        """`answer`'s results: the library's calls forgive what the CLI's do (`bbc`)."""
        return list(self.answer(request).results)

    def search(self, request: SearchRequest | str, **options: Any) -> list[Hit]:
        """Ranked clusters (or articles) for a natural-language query. Each hit carries
        its calibrated relevance; those under `request.min_relevance` are dropped."""
        return self._results(as_request(SearchRequest, request, options))

    def get(self, item_id: str) -> tuple[Cluster, Article | None]:
        """A cluster, or an article with its cluster; UnknownId if neither."""
        return self.stories.get(item_id)

    def related(self, request: RelatedRequest | str, **options: Any) -> list[RelatedStory]:
        """Other clusters (for a cluster id) or articles (for an article id) about the
        same or a related story, best first; the item itself never appears."""
        return self._results(as_request(RelatedRequest, request, options))

    def similar(self, request: SimilarRequest | str, **options: Any) -> list[RelatedStory]:
        """Clusters like a paragraph of free text ("stories like this")."""
        return self._results(as_request(SimilarRequest, request, options))

    def thread(self, request: ThreadRequest | str, **options: Any) -> list[RelatedStory]:
        """The developing story of a cluster (or an article's), by date; `answer` notes a cut."""
        return self._results(as_request(ThreadRequest, request, options))

    def recommend(self, request: RecommendRequest | None = None, **kw: Any) -> list[RelatedStory]:
        """Unseen clusters for a reader, from what they liked (`ID`, `ID:WEIGHT` or
        `(id, weight)`) and disliked; diverse (MMR) and, with a half-life, fresh."""
        return self._results(as_request(RecommendRequest, request, kw))

    def generation(self) -> int:
        """The newest committed generation (what /health reports)."""
        with self.folder.reading() as gen:
            return gen

    def stats(self) -> IndexStats:
        """Counts, model, index type, size on disk, generation — one consistent state."""
        return self.folder.stats()
