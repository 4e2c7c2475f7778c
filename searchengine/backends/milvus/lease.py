"""The write lease of a Milvus index: writers in any number of processes, on any number
of machines, take turns.

Milvus has no lock and no compare-and-set, but its reads at Strong consistency see
every write acknowledged before them, and that is enough for mutual exclusion by
claims: a writer puts its own claim row (`lease:<owner>`) in the meta collection,
then reads every claim. If it sees no live claim but its own, it holds the lease;
otherwise it takes its claim back and tries again after a random pause. Two writers
cannot both win: whichever of them reads second has written its claim after the other
wrote its own, so it sees it. (Both may see each other and both step back: the random,
growing pauses break the tie.)

A claim names the clusters its writer is about to change before it changes any. A
claim is dead when it has not been renewed for `lease_seconds`, or at once when its
process, on this machine, is gone: the next writer then repairs those clusters (each
left with exactly its cluster row's version, `MilvusConnection.drop_stale`) and
removes the claim. A writer killed at any point is recovered by the next write, with
no manual step.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from searchengine.core.filters import literal
from searchengine.errors import BackendUnavailable


class LeaseParams(Protocol):
    """The settings the lease reads (`MilvusParams`)."""

    @property
    def lease_seconds(self) -> float: ...
    @property
    def lease_wait(self) -> float: ...


class Claims(Protocol):
    """What the lease needs of the connection it guards (`MilvusConnection`): the
    lease sits below it, so the connection can hold one without an import circle."""

    uri: str
    meta_name: str

    @property
    def params(self) -> LeaseParams: ...
    def call(self, method: str, *args: Any, **kwargs: Any) -> Any: ...
    def put_meta(self, values: dict[str, str]) -> None: ...
    def meta_rows(self, expr: str) -> dict[str, str]: ...
    def drop_stale(
        self, cluster_ids: Sequence[str], versions: dict[str, str] | None = None
    ) -> None: ...


CLAIM = "lease:"  # meta keys of write claims
# The first pause after stepping back; it doubles up to `MAX_PAUSE`. A write of one
# batch takes ~0.1-2 s here: a waiting writer asks a few times a second, no more.
FIRST_PAUSE = 0.02
MAX_PAUSE = 0.5


@dataclass(frozen=True)
class Claim:
    """One writer's claim, as read back from the meta collection."""

    owner: str
    host: str
    pid: int
    renewed: float  # wall clock (seconds): claims are compared across machines
    clusters: tuple[str, ...]

    def dead(self, now: float, lease_seconds: float) -> bool:
        if now - self.renewed > lease_seconds:
            return True
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:  # someone else's process: alive
                return False
        return False


class WriteLease:
    """This process's turn at writing one index (re-entrant within the process)."""

    def __init__(self, connection: Claims) -> None:
        self.connection = connection
        self.owner = secrets.token_hex(8)  # (a meta key holds 64 characters: no host name)
        self._lock = threading.RLock()  # threads of this process take turns here first
        self._depth = 0
        self._renewed = 0.0
        self._clusters: tuple[str, ...] = ()
        self._owed: tuple[str, ...] = ()  # clusters a failed write of ours left to repair

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the lease for the block (waiting for it up to `lease_wait` seconds)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._acquire()
            self._depth += 1
            failed = False
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                self._depth -= 1
                if outer:
                    self._release(failed)

    def intend(self, clusters: Sequence[str]) -> None:
        """Say which clusters the write is about to change (before it changes any): a
        writer that dies on them leaves their names for the next one to repair."""
        self._clusters = tuple(dict.fromkeys(clusters))
        self._put()

    def renew(self) -> None:
        """Keep the claim alive through a long write (a cheap local check first). A
        claim left unrenewed past `lease_seconds` may have been taken: writing on would
        race the writer who took it, so the write stops with an error instead."""
        lease_seconds = self.connection.params.lease_seconds
        elapsed = time.time() - self._renewed
        if elapsed > lease_seconds:
            raise BackendUnavailable(
                f"{self.connection.uri}: this write went {elapsed:.0f} s without renewing "
                f"its lease (limit {lease_seconds:.0f} s); another writer may have taken "
                "it, so the write stopped. Run it again."
            )
        if elapsed > lease_seconds / 4:
            self._put()

    # --- the claim protocol (module docstring) ---------------------------------------------

    def _acquire(self) -> None:
        params = self.connection.params
        deadline = time.monotonic() + params.lease_wait
        pause = FIRST_PAUSE
        self._clusters = self._owed  # (still named in our claim while we wait)
        while True:
            self._put()
            now = time.time()
            others = [c for c in self.claims() if c.owner != self.owner]
            live = [c for c in others if not c.dead(now, params.lease_seconds)]
            if not live:
                for claim in others:  # a dead writer's clusters, repaired
                    self.connection.drop_stale(claim.clusters)
                    self._delete(claim.owner)
                if self._owed:
                    self.connection.drop_stale(self._owed)
                    self._owed = ()
                return
            self._delete(self.owner)
            if time.monotonic() > deadline:
                holder = live[0]
                raise BackendUnavailable(
                    f"{self.connection.uri}: another writer (process {holder.pid} on "
                    f"{holder.host}) has held the "
                    f"write lease for over {params.lease_wait:.0f} s; try again later"
                )
            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, MAX_PAUSE)

    def _release(self, failed: bool) -> None:
        """Take the claim back. After a failed write, first leave each cluster it named
        with one version; when even that fails (Milvus went away), the claim stays, and
        whoever writes next (this process or, once the claim is dead, another) repairs
        them."""
        if failed and self._clusters:
            try:
                self.connection.drop_stale(self._clusters)
            except Exception:  # noqa: BLE001 - the write's own error is the one to report
                self._owed = self._clusters
                return
        self._delete(self.owner)
        self._clusters = ()

    def claims(self) -> list[Claim]:
        """Every claim on the index, read at Strong consistency."""
        rows = self.connection.meta_rows(f'key like "{CLAIM}%"')
        found: list[Claim] = []
        for key, value in rows.items():
            data = json.loads(value)
            found.append(
                Claim(
                    owner=key[len(CLAIM) :],
                    host=str(data.get("host", "")),
                    pid=int(data.get("pid", 0)),
                    renewed=float(data.get("renewed", 0.0)),
                    clusters=tuple(data.get("clusters", ())),
                )
            )
        return found

    def _put(self) -> None:
        self._renewed = time.time()
        value = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "renewed": self._renewed,
            "clusters": list(self._clusters),
        }
        self.connection.put_meta({CLAIM + self.owner: json.dumps(value)})

    def _delete(self, owner: str) -> None:
        self.connection.call(
            "delete", self.connection.meta_name, filter=f"key == {literal(CLAIM + owner)}"
        )
