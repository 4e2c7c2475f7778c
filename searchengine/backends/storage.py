"""The storage contract: what the engine, the query layer and the story layer ask of
an index's records, one small typed interface per capability.

Two backends implement all of it — the embedded folder (`store.Store`: SQLite with
FTS5) and a Milvus server (`milvus_store.MilvusStore`) — and mypy checks both against
these interfaces (`backend.IndexBackend.store` is a `RecordStore`; the upper modules
know no concrete store). Each backend's life cycle (SQLite snapshots, the write-ahead
log, FAISS generations; Milvus collections) stays inside it: nothing here is there for
one backend only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypedDict

import numpy as np

from searchengine.core.contract import Filters
from searchengine.core.documents import Cluster, Field, Passage
from searchengine.core.fuzzy import Vocabulary
from searchengine.errors import BadRequest

# What a filter lets through, in the backend's own terms: passage ids (the embedded
# store, for FAISS's id selector and the in-memory word index) or a boolean expression
# (Milvus). Made by a backend's `allowed_passage_ids`; read only by the same backend's
# vectors and word index, which is why it need not be one type.
PassageSelection = np.ndarray | str


@dataclass(frozen=True)
class PassageRow:
    """A stored passage with its id (the vector index's id)."""

    id: int
    cluster_id: str
    article_id: str | None
    field: Field
    position: int
    text: str


@dataclass(frozen=True)
class ClusterCard:
    """What a result shows of its cluster, without decoding its record."""

    date: str | None
    title: str
    sources: dict[str, int]


# A value stored as JSON (saved searches, alerts): what the stores keep is only JSON.
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
JsonObject = dict[str, Json]


class FacetCount(TypedDict):
    """One facet value and in how many of the hit set's clusters it occurs."""

    value: str
    count: int


Facets = dict[str, list[FacetCount]]


def facet_lists(
    sources: Counter[str],
    keys: Counter[str],
    names: dict[str, str],
    sentiments: Counter[str],
    dates: Counter[str],
    entities: int,
) -> Facets:
    """Facet counts as a page shows them: commonest first (ties by value), the
    `entities` commonest entities under their first-seen spelling, dates in order."""

    def ranked(counts: Counter[str], most: int | None = None) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:most]

    return {
        "sources": [{"value": h, "count": n} for h, n in ranked(sources)],
        "entities": [{"value": names[k], "count": n} for k, n in ranked(keys, entities)],
        "sentiment": [{"value": v, "count": n} for v, n in ranked(sentiments)],
        "dates": [{"value": d, "count": dates[d]} for d in sorted(dates)],
    }


class Vectors(Protocol):
    """The passages' vectors at the reading generation (FAISS, or a Milvus collection)."""

    def search(
        self, vector: np.ndarray, k: int, allowed: PassageSelection | None = None
    ) -> list[tuple[int, float]]: ...
    def __len__(self) -> int: ...


class Records(Protocol):
    """Clusters, articles and passages as stored."""

    def get_cluster(self, cluster_id: str) -> Cluster | None: ...
    def get_clusters(self, ids: Sequence[str]) -> dict[str, Cluster]: ...
    def cluster_ids(self) -> list[str]: ...
    def cluster_meta(self, ids: Sequence[str]) -> dict[str, tuple[str | None, int]]: ...
    def recent_clusters(self, since: str, limit: int) -> list[tuple[str, str, int]]: ...
    def cluster_cards(self, ids: Sequence[str]) -> dict[str, ClusterCard]: ...
    def article_cards(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]: ...
    def cluster_of_article(self, article_id: str) -> str | None: ...
    def content_hashes(self, ids: Iterable[str]) -> dict[str, str]: ...
    def counts(self) -> dict[str, int]: ...
    def state(self) -> tuple[int, str | None]: ...
    def date_range(self) -> tuple[str | None, str | None]: ...  # (oldest, newest)
    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]: ...
    def passage_owners(self, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]: ...
    def cluster_passages(
        self, ids: Sequence[str]
    ) -> dict[str, list[tuple[Field, int, str, np.ndarray]]]: ...
    def article_passages(self, article_id: str) -> list[tuple[int, str, np.ndarray]]: ...
    def facet_counts(self, ids: Sequence[str], entities: int) -> Facets: ...


class Filtering(Protocol):
    """The filter rule (filters.py) applied by the backend."""

    def allowed_cluster_ids(self, filters: Filters) -> list[str]: ...
    def source_frequencies(self) -> dict[str, int]: ...
    def allowed_passage_ids(self, filters: Filters) -> PassageSelection: ...


class Words(Protocol):
    """The word index: BM25 over passages, trigrams, the vocabulary for unknown words."""

    def word_search(
        self, terms: Sequence[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]: ...
    def trigram_search(
        self, terms: Sequence[str], chunk: int, pieces: int, limit: int, filters: Filters
    ) -> list[tuple[int, float]]: ...
    def vocabulary(self) -> Vocabulary: ...
    def unknown_terms(self, terms: Sequence[str]) -> list[str]: ...
    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]: ...
    def all_document_frequencies(self) -> Iterator[tuple[str, int]]: ...


class StoryData(Protocol):
    """What story similarity reads of every cluster (similarity.py, story_index.py)."""

    def cluster_vectors(
        self, dimension: int, ids: Sequence[str] | None = None
    ) -> tuple[list[str], np.ndarray]: ...
    def all_passage_embeddings(self) -> Iterator[tuple[int, str, bytes]]: ...
    def all_term_counts(self) -> Iterator[tuple[str, dict[str, int]]]: ...
    def all_entity_keys(self) -> dict[str, set[str]]: ...
    def all_entity_frequencies(self) -> dict[str, int]: ...
    def sample_embeddings(self, size: int, dimension: int) -> np.ndarray: ...


class Writer(Protocol):
    """Writes, in one transaction per `write()` (which yields the new generation)."""

    def write(self) -> AbstractContextManager[int]: ...
    def insert_cluster(
        self,
        cluster: Cluster,
        passages: Sequence[Passage],
        embeddings: np.ndarray,
        cluster_vector: np.ndarray,
        generation: int,
    ) -> list[int]: ...
    def delete_clusters(self, ids: Iterable[str], generation: int) -> list[int]: ...
    def embeddings_by_hash(
        self, hashes: Iterable[str], dimension: int
    ) -> dict[str, np.ndarray]: ...
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...


class AlertLog(Protocol):
    """Saved searches and the alerts they raised (alerts.py)."""

    def saved_searches(self) -> list[JsonObject]: ...
    def saved_count(self) -> int: ...
    def saved_version(self) -> str: ...
    def put_saved_search(self, search_id: str, record: JsonObject) -> None: ...
    def delete_saved_search(self, search_id: str) -> bool: ...
    def mark_unmatched(self, cluster_ids: Sequence[str]) -> None: ...
    def unmatched(self, limit: int) -> list[str]: ...
    def add_alerts(self, rows: Sequence[JsonObject], matched: Sequence[str] = ()) -> list[str]: ...
    def alerts_after(
        self, after: str | None, limit: int, since: str | None = None
    ) -> list[JsonObject]: ...
    def set_alert_delivery(
        self, alert_id: str, status: str, attempts: int = 0, due: str | None = None
    ) -> None: ...
    def due_alerts(self, now: str, limit: int, claim_until: str) -> list[JsonObject]: ...
    def prune_alerts(self, before: str) -> int: ...


# The meta key both backends bump whenever a search is saved or removed (what a cache of
# the saved searches checks: news/saved.py).
SAVED_VERSION = "saved_version"


def first_due(alert: JsonObject) -> str | None:
    """When a new alert is first due for delivery: at once when its delivery is pending
    (it has a webhook), never otherwise (news/outbox.py)."""
    return str(alert["matched_at"]) if alert.get("delivery") == "pending" else None


def alert_id(seq: int) -> str:
    """An alert's id: "a" and its sequence number, which only grows (the paging cursor:
    alerts of one ingest share their time, and paging by time lost them)."""
    return f"a{seq}"


def alert_seq(alert: str) -> int:
    """The sequence number of an alert id, or BadRequest."""
    if not (
        isinstance(alert, str) and alert[:1] == "a" and alert[1:].isdigit() and len(alert) <= 19
    ):
        raise BadRequest(f"after: an alert id such as a123, not {alert!r}")
    return int(alert[1:])


class RecordStore(Records, Filtering, Words, StoryData, Writer, AlertLog, Protocol):
    """Everything an index's records answer: what `IndexBackend.store` is."""
