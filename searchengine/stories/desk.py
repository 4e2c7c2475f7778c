"""The engine's story questions: an item by id, related stories, "stories like this",
the thread a story belongs to, recommendations.

Each question reads one committed state (`folder.reading()`) and hands the story
judgements to `related.py` over the cluster matrix of that generation (built once per
generation, `similarity.MatrixCache`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from searchengine.backends.index import IndexBackend
from searchengine.backends.storage import RecordStore
from searchengine.core.contract import (
    RecommendRequest,
    RelatedRequest,
    SimilarRequest,
    ThreadRequest,
)
from searchengine.core.documents import Article, Cluster
from searchengine.errors import UnknownId
from searchengine.stories.related import (
    RecommendParams,
    RelatedStory,
    SearchByVector,
    Stories,
    Thread,
    ThreadParams,
)
from searchengine.stories.similarity import MatrixCache, SimilarityParams


class Host(Protocol):
    """What the story questions need of the engine."""

    folder: IndexBackend

    @property
    def store(self) -> RecordStore: ...


class StoryDesk:
    """Story questions over one engine's index. The parameter records may be swapped
    between questions (an evaluation script sweeping a value does)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.similarity_params = SimilarityParams()
        self.thread_params = ThreadParams()
        self.recommend_params = RecommendParams()
        self._matrices = MatrixCache()  # one cluster matrix per generation

    def get(self, item_id: str) -> tuple[Cluster, Article | None]:
        """A cluster, or an article with its cluster; UnknownId if neither."""
        folder, store = self.host.folder, self.host.store
        with folder.reading():
            cluster = store.get_cluster(item_id)
            if cluster is not None:
                return cluster, None
            cluster_id = store.cluster_of_article(item_id)
            cluster = store.get_cluster(cluster_id) if cluster_id else None
        if cluster is None:
            hint = ""
            if ":" in item_id:  # `ID:WEIGHT` with a weight that is not a number
                hint = " (to weigh a liked story, write ID:NUMBER, e.g. 2025-10-10-c2:2)"
            raise UnknownId(f"no cluster or article with id {item_id}{hint}")
        return cluster, next(a for a in cluster.articles if a.id == item_id)

    def judgements(self) -> Stories:
        """The story judgements over this thread's reading state."""
        host = self.host
        dimension = host.folder.manifest.dimension
        with host.folder.reading() as generation:  # (re-entrant: the caller's read)
            matrix = self._matrices.at(host.store, dimension, generation)
        return Stories(
            host.store,
            matrix,
            dimension,
            self.similarity_params,
            self.thread_params,
            self.recommend_params,
        )

    def related(self, request: RelatedRequest, search: SearchByVector) -> list[RelatedStory]:
        """Other clusters (for a cluster id) or articles (for an article id) about the
        same or a related story, best first; the item itself never appears."""
        with self.host.folder.reading():
            cluster, article = self.get(request.id)
            if article is None:
                return self.judgements().related_clusters(cluster, request)
            return self.judgements().related_articles(cluster, article, request, search)

    def similar(self, request: SimilarRequest, vector: np.ndarray) -> list[RelatedStory]:
        """Clusters like a paragraph of free text, whose vector is `vector`."""
        with self.host.folder.reading():
            return self.judgements().similar(request, vector)

    def thread(self, request: ThreadRequest) -> Thread:
        """The developing story a cluster (or an article's cluster) belongs to, by date."""
        with self.host.folder.reading():
            cluster, _ = self.get(request.id)
            return self.judgements().thread(cluster.id, request)

    def recommend(self, request: RecommendRequest) -> list[RelatedStory]:
        """Unseen clusters for a reader, from what they liked and disliked."""
        with self.host.folder.reading():
            liked = [(self.get(x.id)[0].id, x.weight) for x in request.liked]
            disliked = [self.get(d)[0].id for d in request.disliked]
            return self.judgements().recommend(request, liked, disliked)
