"""In-process query latency on real text: hybrid search and related stories.

The corpus is real and public: BEIR SciFact (5,183 abstracts, ~12k windows), the
UCI news headlines (7,464 items in 408 stories) and seeds/ — about 20k passages
and 12.7k stories. The index is built under --index incrementally (what is there already is
skipped; start from a copy of an `eval --beir` index to skip re-encoding
SciFact).

    .venv/bin/python scripts/bench_query.py --index /tmp/bench-real

Prints p50/p95/p99 of: hybrid search as a one-shot command runs it (words and
owners read from SQLite; query vectors cached), then as a server runs it (the
passages kept in memory, see memory_index.py) with a cold query cache (every
query a different text: the model encodes it) and the same queries again (warm
cache: no model), and `related` for stories picked at random.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def percentiles(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)

    def pick(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * len(ordered))) - 1)], 2)

    return {"p50_ms": pick(50), "p95_ms": pick(95), "p99_ms": pick(99), "n": len(ordered)}


def build(index: Path) -> None:
    from searchengine import Engine
    from searchengine.evaluate import read_beir
    from searchengine.ingest.parse import parse_jsonl

    engine = Engine.open(index, create=True)
    try:
        scifact = read_beir(SHARED / "data" / "beir" / "scifact")
        report = engine.add(scifact.documents, progress=True)
        print(f"SciFact: {report.passages_encoded} encoded, {report.passages_reused} reused")
        uci = gzip.decompress((SHARED / "data" / "news" / "uci" / "items.jsonl.gz").read_bytes())
        items = parse_jsonl(uci.decode("utf-8"), "uci")
        report = engine.add(items.clusters, progress=True)
        print(f"UCI: {report.passages_encoded} encoded, {report.passages_reused} reused")
        run = engine.add_paths([ROOT / "seeds"])
        print(f"seeds: {run.report.passages_encoded} encoded")
    finally:
        engine.close()


def queries() -> list[str]:
    """Real questions: SciFact's claims, then UCI headlines (distinct texts)."""
    out = []
    with gzip.open(SHARED / "data" / "beir" / "scifact" / "queries.jsonl.gz", "rt") as fh:
        out.extend(json.loads(line)["text"] for line in fh if line.strip())
    with gzip.open(SHARED / "data" / "news" / "uci" / "items.jsonl.gz", "rt") as fh:
        out.extend(json.loads(line)["title"] for line in fh if line.strip())
    return list(dict.fromkeys(out))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--related", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    build(args.index)  # incremental: what is indexed already costs nothing

    from searchengine import Engine

    engine = Engine.open(args.index)
    stats = engine.stats()
    rng = random.Random(5)
    texts = rng.sample(queries(), args.queries)
    engine.search("warm up the model and the index", k=args.k)
    # First as a one-shot command reads (SQLite for words and owners), on a warm
    # query cache; then as a server does, with the passages in memory.
    sqlite_path = []
    for q in texts:
        engine.encode_query(q)
    for q in texts:
        t = time.perf_counter()
        engine.search(q, k=args.k)
        sqlite_path.append((time.perf_counter() - t) * 1000)
    engine.close()
    engine = Engine.open(args.index)
    t = time.perf_counter()
    engine.serve_mode(wait=True)
    build_s = time.perf_counter() - t
    engine.search("warm up the model and the index", k=args.k)
    cold, warm = [], []
    for q in texts:
        t = time.perf_counter()
        engine.search(q, k=args.k)
        cold.append((time.perf_counter() - t) * 1000)
    for q in texts:
        t = time.perf_counter()
        engine.search(q, k=args.k)
        warm.append((time.perf_counter() - t) * 1000)
    ids = engine.store.cluster_ids()
    picks = rng.sample(ids, min(args.related, len(ids)))
    engine.related(picks[0], k=10)  # the cluster matrix is loaded once per generation
    related = []
    for cid in picks:
        t = time.perf_counter()
        engine.related(cid, k=10)
        related.append((time.perf_counter() - t) * 1000)
    result: dict[str, Any] = {
        "passages": stats["passages"],
        "stories": stats["clusters"],
        "encoder": stats["encoder"],
        "index_type": stats["index_type"],
        "memory_build_s": round(build_s, 2),
        "hybrid_sqlite_warm_cache": percentiles(sqlite_path),
        "hybrid_cold_cache": percentiles(cold),
        "hybrid_warm_cache": percentiles(warm),
        "related": percentiles(related),
        "related_mean_ms": round(statistics.fmean(related), 2),
    }
    engine.close()
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['passages']:,} passages, {result['stories']:,} stories, encoder {stats['encoder']},"
        f" {stats['index_type']}; memory copy built in {build_s:.2f} s"
    )
    for name in ("hybrid_sqlite_warm_cache", "hybrid_cold_cache", "hybrid_warm_cache", "related"):
        r = result[name]
        print(
            f"  {name:<18} p50 {r['p50_ms']:7.2f}  p95 {r['p95_ms']:7.2f}  p99 {r['p99_ms']:7.2f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())
