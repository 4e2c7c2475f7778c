"""Round trips to Milvus per question: how many client calls a search (each mode), a
related list and a one-cluster write make, on the seed digests in a milvus-lite
server started for the run. Prints a table (BENCHMARKS.md, "Milvus backend").

    python scripts/milvus_calls.py [--model hashing]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from searchengine import Engine
from searchengine.backends.milvus.store import MilvusStore
from searchengine.encoders.encoder import HashingEncoder
from searchengine.ingest.parse import parse_text

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ("Venezuela prisoner releases", "peace plan Ukraine", "bitcoin price falls")


def counting() -> Counter[str]:
    """Count every client call MilvusStore makes from now on."""
    calls: Counter[str] = Counter()
    real = MilvusStore.call

    def call(self: MilvusStore, method: str, *args: Any, **kwargs: Any) -> Any:
        calls[method] += 1
        return real(self, method, *args, **kwargs)

    MilvusStore.call = call  # type: ignore[method-assign]
    return calls


def per_call(calls: Counter[str], run: Callable[[], object], times: int) -> str:
    calls.clear()
    for _ in range(times):
        run()
    total = sum(calls.values()) / times
    detail = ", ".join(f"{m} {n / times:g}" for m, n in sorted(calls.items()))
    return f"{total:g} ({detail})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.conftest import start_milvus

    data = Path(tempfile.mkdtemp())
    proc, address = start_milvus(data)
    try:
        uri = f"milvus://{address}/calls"
        encoder = HashingEncoder(384)
        with Engine.open(uri, encoder=encoder, create=True) as engine:
            engine.add_paths([ROOT / "seeds"])
            calls = counting()
            print("| question | Milvus calls (by method) |")
            print("|---|---|")
            for mode in ("hybrid", "dense", "lexical"):
                for query in QUERIES:
                    row = per_call(calls, lambda m=mode, q=query: engine.search(q, mode=m), 3)
                    print(f"| search --mode {mode} {query!r} | {row} |")
            cid = engine.search(QUERIES[0], k=1)[0].id
            engine.related(cid)  # (the first builds the per-process story copy)
            print(f"| related (warm) | {per_call(calls, lambda: engine.related(cid), 3)} |")
            first = (ROOT / "seeds").glob("*.txt").__next__().read_text()
            (cluster, *_) = parse_text(first, "x.txt").clusters
            changed = cluster.__class__.from_dict({**cluster.to_dict(), "title": "Changed"})
            print(
                f"| index one changed cluster | {per_call(calls, lambda: engine.add([changed]), 1)} |"
            )
    finally:
        proc.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
