"""Saved searches and their alerts in the embedded index's database. Writing them
bumps no generation: they change no answer of a search."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from searchengine.backends.embedded.database import Database
from searchengine.backends.storage import (
    SAVED_VERSION,
    JsonObject,
    alert_id,
    alert_seq,
    first_due,
)


class AlertLog(Database):
    """The saved searches and alerts tables."""

    def saved_searches(self) -> list[JsonObject]:
        rows = self.db.execute("SELECT record FROM saved_searches ORDER BY created_at, id")
        return [json.loads(r[0]) for r in rows]

    def saved_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM saved_searches").fetchone()[0])

    def saved_version(self) -> str:
        """Changes whenever a search is saved or removed (what a cache of them checks)."""
        return self.get_meta(SAVED_VERSION) or "0"

    def put_saved_search(self, search_id: str, record: JsonObject) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO saved_searches(id, record, created_at) VALUES (?, ?, ?)",
                (search_id, json.dumps(record), record.get("created_at", "")),
            )
            self.set_meta(SAVED_VERSION, str(time.time_ns()))

    def delete_saved_search(self, search_id: str) -> bool:
        with self.transaction() as db:
            gone = db.execute("DELETE FROM saved_searches WHERE id = ?", (search_id,)).rowcount
            self.set_meta(SAVED_VERSION, str(time.time_ns()))
            return gone > 0

    def mark_unmatched(self, cluster_ids: Sequence[str]) -> None:
        """(Inside `write()`: in the transaction that commits the clusters.)"""
        self.db.executemany(
            "INSERT OR IGNORE INTO unmatched(cluster_id) VALUES (?)", [(c,) for c in cluster_ids]
        )

    def unmatched(self, limit: int) -> list[str]:
        rows = self.db.execute("SELECT cluster_id FROM unmatched ORDER BY rowid LIMIT ?", (limit,))
        return [r[0] for r in rows]

    def add_alerts(self, rows: Sequence[JsonObject], matched: Sequence[str] = ()) -> list[str]:
        """Record alerts, and that the clusters `matched` have been matched, in one
        transaction; returns the alerts' ids ("a" + a sequence number that only grows:
        AUTOINCREMENT never reuses one, even after the newest rows are pruned)."""
        ids: list[str] = []
        with self.transaction() as db:
            db.executemany("DELETE FROM unmatched WHERE cluster_id = ?", [(c,) for c in matched])
            for row in rows:
                cur = db.execute(
                    "INSERT INTO alerts(matched_at, search_id, cluster_id, record, due)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        row["matched_at"],
                        row["search_id"],
                        row["cluster_id"],
                        json.dumps(row),
                        first_due(row),
                    ),
                )
                ids.append(alert_id(int(cur.lastrowid or 0)))
        return ids

    def set_alert_delivery(
        self, alert_id: str, status: str, attempts: int = 0, due: str | None = None
    ) -> None:
        """What the last delivery did, and when the alert is due again (None: never)."""
        seq = alert_seq(alert_id)
        with self.transaction() as db:
            row = db.execute("SELECT record FROM alerts WHERE seq = ?", (seq,)).fetchone()
            if row:
                record = {**json.loads(row[0]), "delivery": status, "attempts": attempts}
                db.execute(
                    "UPDATE alerts SET record = ?, due = ? WHERE seq = ?",
                    (json.dumps(record), due, seq),
                )

    def due_alerts(self, now: str, limit: int, claim_until: str) -> list[JsonObject]:
        """Alerts due for delivery by `now`, claimed until `claim_until` (one
        transaction: two processes never claim the same alert)."""
        with self.transaction() as db:
            rows = db.execute(
                "UPDATE alerts SET due = ? WHERE seq IN (SELECT seq FROM alerts"
                " WHERE due IS NOT NULL AND due <= ? ORDER BY due LIMIT ?)"
                " RETURNING seq, record",
                (claim_until, now, limit),
            ).fetchall()
        return [{"id": alert_id(seq), **json.loads(record)} for seq, record in rows]

    def alerts_after(
        self, after: str | None, limit: int, since: str | None = None
    ) -> list[JsonObject]:
        """Alerts after the one with id `after` (None: from the first), in the order
        they were recorded; `since`: only those matched after that time."""
        rows = self.db.execute(
            "SELECT seq, record FROM alerts WHERE seq > ? AND matched_at > ? ORDER BY seq LIMIT ?",
            (alert_seq(after) if after else 0, since or "", limit),
        )
        return [{"id": alert_id(seq), **json.loads(record)} for seq, record in rows]

    def prune_alerts(self, before: str) -> int:
        """Remove alerts matched before this time (the retention setting)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM alerts WHERE matched_at < ?", (before,)).rowcount
