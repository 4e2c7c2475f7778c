"""Parser speed on hostile input: the seed digest with a run of N spaces in one
article title (a backtracking parser took 12.9 s at 20k spaces, 57 s at 40k),
and the real inputs (seeds, SciFact and UCI JSONL). Prints the best of --rounds.

    .venv/bin/python scripts/bench_parse.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from searchengine.ingest.digest import parse_digest
from searchengine.ingest.parse import read_file

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_04a9b59b936e3d08.txt"
SHARED = ROOT.parent / "shared" / "data"


def best_of(rounds: int, work) -> float:  # noqa: ANN001
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    seed = SEED.read_text(encoding="utf-8")
    for spaces in (20_000, 40_000, 200_000):
        title = "Venezuelan government begins" + " " * spaces + "x - Publisher"
        text = seed.replace("Venezuelan government begins", title)
        seconds = best_of(args.rounds, lambda text=text: parse_digest(text))
        print(f"{spaces:>7,} spaces ({len(text) / 1024:,.0f} KB): {seconds * 1000:8.2f} ms")
    for path in (SHARED / "beir/scifact/corpus.jsonl.gz", SHARED / "news/uci/items.jsonl.gz"):
        if path.exists():
            result = read_file(path)
            seconds = best_of(max(1, args.rounds // 2), lambda path=path: read_file(path))
            rate = len(result.clusters) / seconds
            print(f"{path.name}: {len(result.clusters):,} records, {seconds:.2f} s ({rate:,.0f}/s)")


if __name__ == "__main__":
    main()
