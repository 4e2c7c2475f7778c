"""The news pages of a story and of a name: who covered a story and how, along its
thread, and what happened with an entity over time (the aggregates are coverage.py's;
this module picks the clusters they are computed over, in one committed state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from searchengine.core.contract import Filters, ThreadRequest
from searchengine.core.documents import fold
from searchengine.errors import BadRequest, UnknownId
from searchengine.news.coverage import EntityParams, coverage, entity_timeline
from searchengine.query.filter_help import did_you_mean, entities_near, entity_matches
from searchengine.stories.desk import StoryDesk

# Other names an entity page lists when the name asked is part of several ("Trump" ->
# "Donald Trump", and under `also` "Trump administration", "Melania Trump"): a line's worth.
ENTITY_ALSO = 5


@dataclass(frozen=True)
class FrontParams:
    """What the front page holds: a screen's worth. The newest `days` days with stories
    (`per_day` each, the most widely covered first), and above them the `widest` most
    widely covered stories of the last `window_days` -- counted back from the index's
    newest story, not the clock, so an archive has a front page too; when those days
    hold fewer than `least` stories (a sparse archive: the dev corpus has one in its
    last week), the `least` newest stories whatever their dates. `scan` bounds the rows
    read (a week of a large feed)."""

    days: int = 3
    per_day: int = 6
    widest: int = 5
    window_days: int = 7
    least: int = 50
    scan: int = 5000


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

    def front(self, params: FrontParams | None = None) -> dict[str, Any]:
        """The page before a search: `FrontParams`. Empty lists when nothing is dated."""
        params = params or FrontParams()
        store = self.desk.host.store
        with self.desk.host.folder.reading():
            _, newest = store.date_range()
            if not newest:
                return {"newest": None, "widest": [], "days": []}
            since = (date.fromisoformat(newest) - timedelta(days=params.window_days)).isoformat()
            rows = store.recent_clusters(since, params.scan)
            if len(rows) < params.least:
                rows = store.recent_clusters("", params.least)  # every dated one is >= ""
            widest = sorted(rows, key=lambda r: -r[2])[: params.widest]  # (newest first on ties)
            days: dict[str, list[tuple[str, str, int]]] = {}
            for row in rows:  # newest first, the widest first within a day
                if row[1] in days or len(days) < params.days:
                    days.setdefault(row[1], []).append(row)
            shown = {r[0] for r in widest} | {
                r[0] for d in days.values() for r in d[: params.per_day]
            }
            cards = store.cluster_cards(sorted(shown))

        def story(row: tuple[str, str, int]) -> dict[str, Any]:
            card = cards[row[0]]
            outlets = sorted(card.sources, key=lambda h: (-card.sources[h], h))
            return {
                "id": row[0],
                "date": row[1],
                "title": card.title,
                "outlets": max(row[2], len(outlets)),
                "sources": outlets,
            }

        return {
            "newest": newest,
            "widest": [story(r) for r in widest if r[0] in cards],
            "days": [
                {
                    "date": day,
                    "stories": [story(r) for r in found[: params.per_day] if r[0] in cards],
                }
                for day, found in days.items()
            ],
        }

    def entity(self, name: str, params: EntityParams | None = None) -> dict[str, Any]:
        """An entity's stories over time, the entities named with it, and the sentiment
        of the articles naming it per period; matched as the entity filter matches.
        A name no story has as written is looked up as part of longer names ("Maduro"
        -> "Nicolás Maduro"): the most widely named is shown, the others listed under
        `also` (and the name asked under `asked`)."""
        if not isinstance(name, str) or not fold(name):
            raise BadRequest("name: the entity name is empty")
        asked = name.strip()
        store = self.desk.host.store
        also: list[str] = []
        with self.desk.host.folder.reading():
            ids = store.allowed_cluster_ids(Filters(entities=(asked,)))
            if not ids:
                frequencies = store.all_entity_frequencies()
                found = entity_matches(asked, frequencies)
                if not found:
                    near = entities_near(asked, frequencies, store)
                    raise UnknownId(f"no story names {asked!r}{did_you_mean(near)}")
                name, also = found[0], found[1 : 1 + ENTITY_ALSO]
                ids = store.allowed_cluster_ids(Filters(entities=(name,)))
            clusters = store.get_clusters(ids)
        if not clusters:
            raise UnknownId(f"no story names {asked!r}")
        page = entity_timeline(name, list(clusters.values()), params or EntityParams())
        if also or fold(name) != fold(asked):
            page |= {"asked": asked, "also": also}
        return page
