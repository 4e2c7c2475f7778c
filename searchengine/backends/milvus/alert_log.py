"""The Milvus backend's saved searches (rows of the meta collection) and alerts (a
collection of their own, `<prefix>_alerts`, keyed by a sequence number).

Alert ids only grow: writers take them from a counter in the meta rows under the
index's write lease (lease.py), moving the counter before inserting, so a writer
killed in between leaves a gap, never an id used twice. A reader pages by id (never
by time: the alerts of one ingest share their time, and paging by it lost them),
asking for windows of ids up to the counter and sorting each itself (a Milvus query
returns rows in no set order).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from searchengine.backends.milvus.connection import MAX_LIMIT, UNMATCHED, unmatched_key
from searchengine.backends.milvus.schema import MilvusCollections
from searchengine.backends.storage import (
    SAVED_VERSION,
    JsonObject,
    alert_id,
    alert_seq,
    first_due,
)
from searchengine.core.filters import literal

ALERT_SEQ = "alert_seq"  # the meta row holding the last alert id given out
# Ids asked for per query when paging (ids are dense but for a killed writer's gaps):
# twice the page, at least 64.
WINDOW_PER_PAGE = 2
MIN_WINDOW = 64


class MilvusAlertLog(MilvusCollections):
    """Saved searches and alerts."""

    def saved_searches(self) -> list[JsonObject]:
        rows = self._query(self.meta_name, 'key like "search:%"', ["value"], limit=MAX_LIMIT)
        found = [json.loads(r["value"]) for r in rows]
        return sorted(found, key=lambda r: (r.get("created_at", ""), r["id"]))

    def saved_count(self) -> int:
        return self._count(self.meta_name, 'key like "search:%"')

    def saved_version(self) -> str:
        """Changes whenever a search is saved or removed (what a cache of them checks)."""
        return self.get_meta(SAVED_VERSION) or "0"

    def put_saved_search(self, search_id: str, record: JsonObject) -> None:
        version = str(time.time_ns())
        self.put_meta({f"search:{search_id}": json.dumps(record), SAVED_VERSION: version})

    def delete_saved_search(self, search_id: str) -> bool:
        key = literal(f"search:{search_id}")
        if not self._query(self.meta_name, f"key == {key}", ["key"]):
            return False
        self.call("delete", self.meta_name, filter=f"key == {key}")
        self.put_meta({SAVED_VERSION: str(time.time_ns())})
        return True

    def _last_alert(self) -> int:
        return int(self.get_meta(ALERT_SEQ) or 0)

    def mark_unmatched(self, cluster_ids: Sequence[str]) -> None:
        """(Inside `write()`: sent before the clusters' rows, connection.py `_send`.)"""
        pending = self._pending()
        pending.unmatched.update({unmatched_key(c): c for c in cluster_ids})

    def unmatched(self, limit: int) -> list[str]:
        expr = f'key like "{UNMATCHED}%"'
        return [r["value"] for r in self._query(self.meta_name, expr, ["value"], limit=limit)]

    def add_alerts(self, rows: Sequence[JsonObject], matched: Sequence[str] = ()) -> list[str]:
        """Record alerts under the next ids (module docstring), then that the clusters
        `matched` have been matched (a writer killed in between has them matched again:
        an alert may come twice, never not at all)."""
        ids = self._insert_alerts(rows) if rows else []
        for expr in self._in("key", [unmatched_key(c) for c in matched]):
            self.call("delete", self.meta_name, filter=expr)
        return ids

    def _insert_alerts(self, rows: Sequence[JsonObject]) -> list[str]:
        with self.lease.holding():
            start = self._last_alert()
            self.put_meta({ALERT_SEQ: str(start + len(rows))})
            records = [
                _alert_row(
                    start + i,
                    str(row["matched_at"]),
                    row,
                    first_due(row) or "",
                )
                for i, row in enumerate(rows, 1)
            ]
            for i in range(0, len(records), self.params.batch):
                self.call("upsert", self.alerts_name, records[i : i + self.params.batch])
        return [alert_id(start + i) for i in range(1, len(rows) + 1)]

    def set_alert_delivery(
        self, alert: str, status: str, attempts: int = 0, due: str | None = None
    ) -> None:
        """What the last delivery did, and when the alert is due again (None: never)."""
        seq = alert_seq(alert)
        rows = self._query(self.alerts_name, f"id == {seq}", ["matched_at", "record"])
        if rows:
            record = {**json.loads(rows[0]["record"]), "delivery": status, "attempts": attempts}
            self._put_alert(seq, rows[0]["matched_at"], record, due or "")

    def _put_alert(self, seq: int, matched_at: str, record: JsonObject, due: str) -> None:
        self.call("upsert", self.alerts_name, [_alert_row(seq, matched_at, record, due)])

    def due_alerts(self, now: str, limit: int, claim_until: str) -> list[JsonObject]:
        """Alerts due by `now`, claimed until `claim_until` under the write lease (two
        processes never claim the same alert)."""
        with self.lease.holding():
            rows = self._query(
                self.alerts_name,
                f'due != "" and due <= {literal(now)}',
                ["id", "matched_at", "due", "record"],
                limit=MAX_LIMIT,
            )
            rows = sorted(rows, key=lambda r: (r["due"], int(r["id"])))[:limit]
            if rows:  # (one call claims the batch)
                claimed = [
                    _alert_row(int(r["id"]), r["matched_at"], json.loads(r["record"]), claim_until)
                    for r in rows
                ]
                self.call("upsert", self.alerts_name, claimed)
        return [{"id": alert_id(int(r["id"])), **json.loads(r["record"])} for r in rows]

    def alerts_after(
        self, after: str | None, limit: int, since: str | None = None
    ) -> list[JsonObject]:
        """Alerts after the one with id `after`, in id order (module docstring)."""
        low, top = alert_seq(after) if after else 0, self._last_alert()
        window = max(MIN_WINDOW, WINDOW_PER_PAGE * limit)
        when = f" and matched_at > {literal(since)}" if since else ""
        found: list[dict] = []
        while len(found) < limit and low < top:
            high = min(low + window, top)
            expr = f"id > {low} and id <= {high}{when}"
            rows = self._query(self.alerts_name, expr, ["id", "record"], limit=MAX_LIMIT)
            found += sorted(rows, key=lambda r: int(r["id"]))
            low = high
        return [{"id": alert_id(int(r["id"])), **json.loads(r["record"])} for r in found[:limit]]

    def prune_alerts(self, before: str) -> int:
        """Remove alerts matched before this time; how many (counted first: milvus-lite
        reports 0 deleted for a delete by expression)."""
        expr = f"matched_at < {literal(before)}"
        count = self._count(self.alerts_name, expr)
        if count:
            self.call("delete", self.alerts_name, filter=expr)
        return count


def _alert_row(seq: int, matched_at: str, record: JsonObject, due: str) -> dict[str, object]:
    """A row of the alerts collection."""
    return {
        "id": seq,
        "matched_at": matched_at,
        "due": due,
        "record": json.dumps(record),
        "vector": [1.0, 0.0],
    }
