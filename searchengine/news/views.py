"""The news pages of a story and of a name: who covered a story and how, along its
thread, and what happened with an entity over time (the aggregates are coverage.py's;
this module picks the clusters they are computed over, in one committed state)."""

from __future__ import annotations

from typing import Any

from searchengine.core.contract import Filters, ThreadRequest
from searchengine.core.documents import fold
from searchengine.errors import BadRequest, UnknownId
from searchengine.news.coverage import EntityParams, coverage, entity_timeline
from searchengine.stories.desk import StoryDesk


class NewsViews:
    """Coverage and entity pages over the story desk's index."""

    def __init__(self, desk: StoryDesk) -> None:
        self.desk = desk

    def coverage(self, item_id: str) -> dict[str, Any]:
        """Who covered a story and how, and along its thread, day by day (coverage.py)."""
        with self.desk.host.folder.reading():
            cluster, _ = self.desk.get(item_id)
            members = self.desk.judgements().thread(cluster.id, ThreadRequest(cluster.id)).stories
            thread = self.desk.host.store.get_clusters([s.id for s in members])
        return coverage(cluster, list(thread.values()))

    def entity(self, name: str, params: EntityParams | None = None) -> dict[str, Any]:
        """An entity's stories over time, the entities named with it, and the sentiment
        of the articles naming it per period; matched as the entity filter matches."""
        if not isinstance(name, str) or not fold(name):
            raise BadRequest("name: the entity name is empty")
        store = self.desk.host.store
        with self.desk.host.folder.reading():
            ids = store.allowed_cluster_ids(Filters(entities=(name.strip(),)))
            clusters = store.get_clusters(ids)
        if not clusters:
            raise UnknownId(f"no story names {name.strip()!r}")
        return entity_timeline(name.strip(), list(clusters.values()), params or EntityParams())
