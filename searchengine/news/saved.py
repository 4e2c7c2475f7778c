"""Saved searches and their alerts for one engine: keeping a query, listing and
removing it, and matching every newly indexed cluster against all of them (the
percolation itself, its scoring and the webhook deliveries are alerts.py's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from searchengine.backends.index import IndexBackend
from searchengine.backends.storage import RecordStore
from searchengine.core.contract import Filters
from searchengine.core.dates import user_time
from searchengine.core.text import query_terms
from searchengine.errors import BadRequest, UnknownId
from searchengine.news.alerts import (
    AlertParams,
    QueryContext,
    SavedIndex,
    SavedSearch,
    now_iso,
    percolate,
    retention_cutoff,
)
from searchengine.news.outbox import Outbox
from searchengine.query.search import RankingParams, Searcher


class Host(Protocol):
    """What saved searches need of the engine that holds them (its current parameters
    are read at each call: a caller may change them)."""

    folder: IndexBackend
    params: RankingParams

    @property
    def store(self) -> RecordStore: ...
    def encode_query(self, text: str) -> np.ndarray: ...


class Reader(Protocol):
    """The reading state a saved search is matched in (queries.Queries)."""

    def background(self, generation: int) -> np.ndarray: ...
    def searcher(self) -> Searcher: ...


class SavedSearches:
    """The engine's saved searches."""

    def __init__(self, engine: Host, reader: Reader) -> None:
        self.engine = engine
        self.reader = reader
        self.params = AlertParams()
        self._cache: tuple[str, list[SavedSearch], np.ndarray, SavedIndex] | None = None
        self.outbox = Outbox(lambda: engine.store, self._webhooks_of, self.params.outbox)

    def _webhooks_of(self, search_ids: set[str]) -> dict[str, tuple[str, str | None]]:
        """(webhook, secret) of these saved searches, those that still exist (from the
        kept searches: reading every record per batch of deliveries was their cost)."""
        searches, _, _ = self._searches()
        return {s.id: (s.webhook, s.secret) for s in searches if s.id in search_ids and s.webhook}

    def save(
        self,
        query: str,
        filters: Filters | None = None,
        min_relevance: float | None = None,
        webhook: str | None = None,
    ) -> SavedSearch:
        engine = self.engine
        search = SavedSearch.build(query, filters, min_relevance, webhook)
        search.vector = [float(x) for x in engine.encode_query(search.parsed.text)]
        with engine.folder.write_lock():
            with engine.folder.reading():
                count = engine.store.saved_count()
            if count >= self.params.max_saved:
                raise BadRequest(f"this index holds {count} saved searches, the most it keeps")
            engine.store.put_saved_search(search.id, search.to_dict(vector=True))
        return search

    def all(self) -> list[SavedSearch]:
        with self.engine.folder.reading():
            return [SavedSearch.from_dict(d) for d in self.engine.store.saved_searches()]

    def remove(self, search_id: str) -> None:
        with self.engine.folder.write_lock():
            if not self.engine.store.delete_saved_search(search_id):
                raise UnknownId(f"no saved search with id {search_id}")

    def alerts(
        self, after: str | None = None, limit: int | None = None, since: str | None = None
    ) -> list[dict[str, Any]]:
        """Alerts recorded after the one with id `after`, in the order they were
        recorded (the next page starts after the last id); `since`: only those matched
        after that time (`dates.user_time`: an ISO time, a date, `yesterday`, `7d`)."""
        since = user_time(since, "since")
        with self.engine.folder.reading():
            return self.engine.store.alerts_after(after, limit or self.params.page, since)

    def match_unmatched(self) -> list[dict[str, Any]]:
        """Match every cluster written but not yet matched (this ingest's, and those an
        ingest killed after committing them left) against the saved searches; their
        alerts, in the order recorded."""
        alerts: list[dict[str, Any]] = []
        tried: set[str] = set()
        while True:
            with self.engine.folder.reading():
                todo = self.engine.store.unmatched(self.params.match_chunk)
            if not todo or tried.issuperset(todo):  # (never round a mark that will not clear)
                self.outbox.kick()  # (and what earlier ingests left due goes out too)
                return alerts
            tried.update(todo)
            alerts += self.percolate(todo)

    def _searches(self) -> tuple[list[SavedSearch], np.ndarray, SavedIndex]:
        """The saved searches and their vectors as one matrix, read again only when a
        search was saved or removed since (the index's saved-search version): reading
        and decoding 10,000 records with their vectors on every ingest was a cost that
        never depended on the ingest."""
        store = self.engine.store
        with self.engine.folder.reading():
            version = store.saved_version()
            cached = self._cache
            if cached is not None and cached[0] == version:
                return cached[1], cached[2], cached[3]
            searches = [SavedSearch.from_dict(d) for d in store.saved_searches()]
        live = [s for s in searches if s.vector]
        matrix = (
            np.asarray([s.vector for s in live], dtype=np.float32)
            if live
            else np.zeros((0, 0), np.float32)
        )
        index = SavedIndex.build(live)
        self._cache = (version, searches, matrix, index)
        return searches, matrix, index

    def percolate(self, cluster_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Match these clusters against every saved search; record (and send) alerts,
        and that the clusters have been matched, together."""
        engine = self.engine
        store = engine.store
        searches, queries, index = self._searches()
        if not searches or not cluster_ids:
            with engine.folder.write_lock():
                store.add_alerts([], matched=cluster_ids)
            return []
        with engine.folder.reading() as generation:
            clusters = store.get_clusters(list(cluster_ids))
            passages = store.cluster_passages(list(cluster_ids))
            background = self.reader.background(generation)
            searcher = self.reader.searcher()

            def context(s: SavedSearch) -> QueryContext:
                """What the search would know of the index (asked only of those that
                could match: alerts.percolate)."""
                return QueryContext(
                    searcher.query_words(s.parsed.text),
                    searcher.term_weights(query_terms(s.parsed.text)),
                    searcher.best_cosine(np.asarray(s.vector, dtype=np.float32))
                    if s.vector
                    else None,
                )

            matches = percolate(
                searches,
                clusters,
                passages,
                background,
                context,
                engine.params.relevance,
                self.params,
                queries,
                index,
            )
        stamp = now_iso()
        rows = [
            {
                **m.to_dict(),
                "matched_at": stamp,
                "delivery": "pending" if m.search.webhook else None,
            }
            for m in matches
        ]
        with engine.folder.write_lock():
            ids = store.add_alerts(rows, matched=cluster_ids)
            if rows:
                store.prune_alerts(retention_cutoff(self.params.retention_days))
        return [{"id": a, **r} for a, r in zip(ids, rows, strict=True)]
