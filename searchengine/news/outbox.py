"""The delivery outbox: alerts waiting for their webhook are kept in the index (the
alert log's `due` time), not in a process, and delivered by a fixed pool of threads.

An alert with a webhook is recorded due at once, in the transaction that records it.
A drainer (one thread, started when alerts are recorded and, in a server, every
`poll` seconds) claims a small batch of due alerts — moving their due time past the
claim, so another process's drainer leaves them alone — and hands them to the pool.
Every ingest starts one, so what an earlier command left due goes out with it.
Each delivery ends in one of: delivered; refused (a webhook the server will not call,
a redirect: trying again cannot help); failed, and due again after a growing pause;
or, after `attempts` failures, dead: kept with the last reason, never tried again.
A drainer that dies with its batch claimed loses nothing: the claim runs out and the
batch is due again. A one-shot command waits for its deliveries at most `close_wait`,
then finishes the batch in hand and leaves the rest due, for a server (or the next
command) to deliver. So delivery is at least once; a receiver dedupes by the alert's
`id`, which the signed body carries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from searchengine.backends.storage import JsonObject
from searchengine.core.dates import stamp
from searchengine.news.webhooks import WebhookParams, deliver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxParams:
    """`workers`: deliveries at once, whatever the number of alerts (10,000 matching
    searches once started 3,017 threads, one per alert); at a 10 s deadline each, 4
    get through ~1,400 dead receivers an hour, and a live receiver takes milliseconds.
    `attempts` and `first_retry`: tries before an alert is dead, and the pause before
    the second, doubling after each (30 s, 1, 2, 4, 8 minutes: a receiver down for a
    quarter of an hour still gets its alerts). `claim`: how long a claimed alert is
    one drainer's (the deadline, with room). `batch`: alerts claimed at a time (a
    few per worker: a claim never outlives its batch). `poll`: how often a server
    looks for retries that came due. `close_wait`: how long a closing engine (a
    one-shot command) goes on delivering before it leaves the rest due: a live
    receiver takes milliseconds an alert, so an ingest that raised a few thousand
    delivers them before it exits; a dead one costs the command this much at most."""

    webhooks: WebhookParams = field(default_factory=WebhookParams)
    close_wait: float = 30.0
    workers: int = 4
    attempts: int = 6
    first_retry: float = 30.0
    claim: float = 60.0
    batch: int = 16
    poll: float = 30.0


class AlertQueue(Protocol):
    """What the outbox needs of the index (the store's alert log, and who may call)."""

    def due_alerts(self, now: str, limit: int, claim_until: str) -> list[JsonObject]: ...
    def set_alert_delivery(
        self, alert_id: str, status: str, attempts: int = 0, due: str | None = None
    ) -> None: ...


class Outbox:
    """Delivers the index's due alerts (module docstring)."""

    def __init__(
        self,
        queue: Callable[[], AlertQueue],
        webhooks_of: Callable[[set[str]], dict[str, tuple[str, str | None]]],
        params: OutboxParams | None = None,
    ) -> None:
        """`queue`: the alert log; `webhooks_of`: saved searches' (webhook, secret) by
        id (a search removed since is left out)."""
        self.queue = queue
        self.webhooks_of = webhooks_of
        self.params = params or OutboxParams()
        self._cond = threading.Condition()
        self._work = False  # a kick not yet taken up
        self._busy = False  # a drain in progress
        self._stop = False
        self._polling = False
        self._pool: ThreadPoolExecutor | None = None
        # One drainer thread for the outbox's life, woken by kicks (and by the clock when
        # polling): a thread per kick opened a database connection each (a server's
        # descriptors grew by one every poll).
        self._drainer: threading.Thread | None = None

    def kick(self) -> None:
        """Deliver what is due, in the background."""
        with self._cond:
            if self._stop:
                return
            self._work = True
            self._cond.notify_all()
            if self._drainer is None or not self._drainer.is_alive():
                self._drainer = threading.Thread(
                    target=self._run, name="searchengine-outbox", daemon=True
                )
                self._drainer.start()

    def poll_forever(self) -> None:
        """Look for due alerts every `poll` seconds too, until `close` (a server:
        retries come due)."""
        with self._cond:
            self._polling = True
        self.kick()

    def wait(self, timeout: float | None = None) -> None:
        """Until nothing is left to do now (a test, or a command before exiting)."""
        deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
        with self._cond:
            while (self._work or self._busy) and self._drainer is not None:
                if not self._drainer.is_alive():
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(min(remaining, 1.0))

    def close(self) -> None:
        """Go on delivering for up to `close_wait`, finish the batch in hand, and
        leave the rest due for whoever delivers next."""
        self.wait(self.params.close_wait)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            drainer = self._drainer
        if drainer is not None:
            drainer.join(self.params.webhooks.deadline * 2 + 1)
        with self._cond:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # --- the drainer -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._work and not self._polling:
                    self._drainer = None  # (an engine that does not poll keeps no thread)
                    self._cond.notify_all()
                    return
                while not self._work and not self._stop:
                    if not self._cond.wait(self.params.poll):
                        self._work = True  # (the poll came round)
                if self._stop:
                    self._cond.notify_all()
                    return
                self._work, self._busy = False, True
            try:
                self._drain()
            except Exception:  # noqa: BLE001 - what it claimed comes due again; say why
                log.exception("delivering alerts failed; they are tried again later")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _drain(self) -> None:
        while not self._stop:
            batch = self._claim()
            if not batch:
                return
            targets = self.webhooks_of({str(a.get("search_id")) for a in batch})
            jobs = [
                self._workers().submit(self._deliver, a, targets.get(str(a.get("search_id"))))
                for a in batch
            ]
            futures_wait(jobs)

    def _workers(self) -> ThreadPoolExecutor:
        with self._cond:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.params.workers, thread_name_prefix="searchengine-webhook"
                )
            return self._pool

    def _claim(self) -> list[JsonObject]:
        now = datetime.now(UTC)
        until = stamp(now + timedelta(seconds=self.params.claim))
        return self.queue().due_alerts(stamp(now), self.params.batch, until)

    def _deliver(self, alert: JsonObject, target: tuple[str, str | None] | None) -> None:
        alert_id = str(alert["id"])
        attempts = int(str(alert.get("attempts") or 0)) + 1
        payload: dict[str, Any] = {
            k: v for k, v in alert.items() if k not in ("delivery", "attempts")
        }
        if target is None:
            status = "refused: its saved search was removed"
        else:
            status = deliver(target[0], payload, target[1], self.params.webhooks)
        due: str | None = None
        if status.startswith("failed"):
            if attempts >= self.params.attempts:
                status = f"dead after {attempts} attempts; last: {status}"
            else:
                pause = self.params.first_retry * 2 ** (attempts - 1)
                due = stamp(datetime.now(UTC) + timedelta(seconds=pause))
                status = f"{status} (attempt {attempts}; next at {due[:19]}Z)"
        self.queue().set_alert_delivery(alert_id, status, attempts, due)
