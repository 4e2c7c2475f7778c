"""A writer process for the Milvus writer tests (test_milvus_writers.py): writes
versions of one cluster to an index, and, when asked, kills itself with SIGKILL at
a chosen step of a write — a real process dying where a crash would.

    python -m tests.milvus_writer URI WORD FIRST ROUNDS [STEP]

Version r of the cluster carries the marker word `WORD` + `r` (r from FIRST to
FIRST+ROUNDS-1). STEP, when given, is where the last write dies: `intent` (the lease
claim names the cluster, nothing written yet), `passages` (the new passages are in,
the cluster row is not) or `row` (the row switched, the old passages not yet gone).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from searchengine import Engine
from searchengine.backends.milvus.store import MilvusStore
from searchengine.encoders.encoder import HashingEncoder
from searchengine.ingest.parse import parse_text

from .test_processes import digest

DAY, NUMBER = 3, 50  # the cluster every writer writes: 2026-03-03-c50
DIMENSION = 128


def die_at(step: str) -> None:
    """Patch the Milvus client calls so that the process kills itself at `step`."""
    real = MilvusStore.call

    def call(self: MilvusStore, method: str, *args: Any, **kwargs: Any) -> Any:
        name = args[0] if args else ""
        if step == "passages" and method == "upsert" and name == self.clusters_name:
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(self, method, *args, **kwargs)
        if step == "intent" and method == "upsert" and name == self.meta_name:
            if any(self.lease._clusters):  # the claim that names the cluster is in
                os.kill(os.getpid(), signal.SIGKILL)
        if step == "row" and method == "upsert" and name == self.clusters_name:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    MilvusStore.call = call  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    uri, word, first, rounds = argv[0], argv[1], int(argv[2]), int(argv[3])
    step = argv[4] if len(argv) > 4 else None
    print(os.getpid(), flush=True)  # (what a test matches the dead writer's claim by)
    with Engine.open(uri, encoder=HashingEncoder(DIMENSION), create=True) as engine:
        for r in range(first, first + rounds):
            if step is not None and r == first + rounds - 1:
                die_at(step)
            text = digest(DAY, NUMBER, f"{word}{r}")
            engine.add(parse_text(text, f"{word}{r}.txt").clusters)


if __name__ == "__main__":
    main(sys.argv[1:])
