"""Saved searches on ingest: the time to match one day's new clusters against many
saved searches, at two index sizes (the cost should follow new clusters x saved
searches, not the index).

The index is a SYNTHETIC digest corpus (scripts/synthetic.py) of the given sizes;
the day's ingest is real news — headlines of tests/data/uci_random_1pct.jsonl.gz
(UCI News Aggregator, public domain) — and the saved searches are the other
headlines of that file, cut to their first words (as a reader would type them), so
a saved search matches the day's stories about its own event and mostly nothing
else. The bundled model by default (`--model hashing-384` runs without it):
matching itself never runs the model; saving encodes each query once.

    .venv/bin/python scripts/bench_alerts.py --saved 1000 --day 100 --index-sizes 2000 20000
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


UCI = ROOT / "tests" / "data" / "uci_random_1pct.jsonl.gz"
# All 7,464 UCI headlines, where the shared data is beside the checkout: enough saved
# searches for 5,000 and more (the 1% sample holds 1,166).
UCI_ALL = ROOT.parent / "shared" / "data" / "news" / "uci" / "items.jsonl.gz"


def run(index_passages: int, saved: int, day: int, workdir: Path, rounds: int, model: str) -> dict:
    from synthetic import generate

    from searchengine import Engine
    from searchengine.ingest.parse import iter_files

    base = workdir / f"base-{index_passages}"
    generate(index_passages, base, seed=7)
    source = UCI_ALL if UCI_ALL.exists() else UCI
    news = [json.loads(line) for line in gzip.open(source, "rt", encoding="utf-8")]
    random.Random(11).shuffle(news)
    fresh = workdir / f"day-{index_passages}.jsonl"
    fresh.write_text("".join(json.dumps(r) + "\n" for r in news[:day]))
    day_clusters = [c for _, r in iter_files([fresh]) for c in r.clusters]
    queries = [" ".join(r["title"].split()[:6]) for r in news[day : day + saved]]
    engine = Engine.open(workdir / f"idx-{index_passages}", model=model, create=True)
    engine.add_paths([base])
    last_saves = []
    for i, query in enumerate(queries):
        t = time.perf_counter()
        engine.saved.save(query)
        if i >= len(queries) - 100:  # the last 100: what a save costs at this many
            last_saves.append(time.perf_counter() - t)
    report = engine._indexer.add(day_clusters)  # the day's write, without matching
    ids = report.added + report.replaced
    times, alerts = [], 0
    for _ in range(rounds):
        t = time.perf_counter()
        alerts = len(engine.saved.percolate(ids))
        times.append(time.perf_counter() - t)
    stats = engine.stats()
    engine.close()
    return {
        "index_passages": stats["passages"],
        "index_clusters": stats["clusters"],
        "saved_searches": len(queries),
        "new_clusters": len(ids),
        "match_seconds_median": round(statistics.median(times), 3),
        "match_seconds_min": round(min(times), 3),
        "alerts": alerts,
        "save_ms_at_this_many": round(statistics.median(last_saves) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saved", type=int, nargs="+", default=[1000])
    parser.add_argument("--day", type=int, default=100, help="new clusters in the day's ingest")
    parser.add_argument(
        "--index-sizes", type=int, nargs="+", default=[2000, 20000], metavar="PASSAGES"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    print(
        f"{'index passages':>14} {'clusters':>8} {'saved':>6} {'new':>4} "
        f"{'match s (median/min)':>21} {'alerts':>6} {'save ms':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="searchengine-alerts-") as tmp:
        for size in args.index_sizes:
            for saved in args.saved:
                work = Path(tmp) / f"s{saved}"
                work.mkdir()
                r = run(size, saved, args.day, work, args.rounds, args.model)
                print(
                    f"{r['index_passages']:>14,} {r['index_clusters']:>8,} "
                    f"{r['saved_searches']:>6} {r['new_clusters']:>4} "
                    f"{r['match_seconds_median']:>12} / {r['match_seconds_min']:<6} "
                    f"{r['alerts']:>6} {r['save_ms_at_this_many']:>8}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
