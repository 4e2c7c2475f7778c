"""An ingest that dies (SIGKILL) right after its first batch commits, for the alert
tests (test_alerts.py): a real process killed between committing clusters and
matching them against the saved searches.

    python -m tests.killed_ingest INDEX FILE BATCH
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import searchengine.ingest.indexer as indexer
from searchengine import Engine


def main(index: str, path: str, batch: int) -> None:
    indexer.BATCH_CLUSTERS = batch
    real = indexer.Indexer._write

    def write_then_die(self: indexer.Indexer, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    indexer.Indexer._write = write_then_die  # type: ignore[method-assign]
    with Engine.open(index) as engine:
        engine.add_paths([path])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
