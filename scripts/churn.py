"""Daily churn: add the newest day, remove the oldest, and watch the index's size.

A digest pipeline adds ~N clusters a day and drops what falls out of a window
of W days, so the content stays the same size; the files should too. Each day
runs as a daily job would (open, add, remove, close), without a model (random
unit vectors seeded by each text's hash: the model does not change what is
stored) on SYNTHETIC digests (scripts/synthetic.py).

    .venv/bin/python scripts/churn.py --days 90 --per-day 100 --window 30

Prints, every 10 days and per index type: clusters, meta.sqlite (+WAL) and
vector file sizes, the time to add and to remove one day, and peak RSS; ends
with the growth from day 30 (the window full) to the last day.

With `--reader`, a server's engine (serve mode) searches the same index without
pause from a thread while the days go by, as readers do while a daily job runs;
each day's longest search shows whether the job's writes ever hold readers up
(a graph past its share of hidden removals is rebuilt: ~15 s at 30k passages).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from synthetic import Chain, cluster_text  # noqa: E402


class HashedRandomEncoder:
    """A unit vector per text, drawn from a generator seeded by the text's hash: what
    is stored has the model's shape and size, at no encoding cost (the `hashing`
    encoder's Python feature hashing made each simulated day ~30 s)."""

    def __init__(self, dimension: int = 384) -> None:
        from searchengine.encoders.encoder import HashingEncoder

        base = HashingEncoder(dimension)  # for the identity fields an index records
        self.dimension, self.name = dimension, base.name
        self.runtime, self.precision, self.weights = base.runtime, base.precision, base.weights

    def encode(self, texts, *, progress: bool = False):  # type: ignore[no-untyped-def]
        import hashlib

        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension)
            out[row] = vector / np.linalg.norm(vector)
        return out


def rss_mb(kind: str = "VmRSS") -> int:
    """The process's resident memory now, in MB (peak RSS only ever grows: it cannot
    show a release). `RssAnon` is the memory the process holds; `RssFile` is file
    pages mapped into it — SQLite reads the database through a memory map, so pages
    of the index file it touched count in VmRSS while they are the OS's page cache,
    shared and given back under pressure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) // 1024
    return 0


def folder_sizes(path: Path) -> dict[str, int]:
    meta = sum(f.stat().st_size for f in path.glob("meta.sqlite*"))
    wal = path / "meta.sqlite-wal"
    vectors = sum(f.stat().st_size for f in path.glob("vectors*.faiss"))
    return {
        "meta_bytes": meta,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "vectors_bytes": vectors,
    }


class Reader:
    """A server's engine searching without pause on a thread; the longest search and the
    count since the last `take`."""

    def __init__(self, path: Path, encoder: HashedRandomEncoder) -> None:
        import numpy as np

        from searchengine import Engine
        from searchengine.core.contract import Mode, SearchRequest

        self.engine = Engine.open(path, encoder=encoder)
        self.engine.serve_mode(wait=True)
        self.request = SearchRequest("reader", mode=Mode.DENSE, k=10)
        self.vectors = encoder.encode([f"query {i}" for i in range(64)])
        self.np = np
        self.longest, self.count, self.total = 0.0, 0, 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            t = time.perf_counter()
            self.engine.queries.search_by_vector(self.request, self.vectors[i % len(self.vectors)])
            took = time.perf_counter() - t
            with self._lock:
                self.longest, self.count = max(self.longest, took), self.count + 1
                self.total += 1
            i += 1

    def settle(self, timeout: float = 300.0) -> None:
        """Wait until the server has caught up with the job's last write: its copy of the
        passages at the newest generation, no graph being rebuilt beside the one it
        serves from, and two searches since (the first takes up what changed). Measured
        mid-swap, a server holds the old graph and the new one: on 4 of 15 graph-rebuild
        days of a 90-day run, ~100 MB more for the ~30 s of the rebuild."""
        deadline = time.monotonic() + timeout
        newest, folder = self.engine.generation(), self.engine.folder
        swapping = getattr(folder, "swapping_graphs", lambda: False)
        while folder.memory_state()["generation"] != newest or swapping():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        with self._lock:
            wanted = self.total + 2
        while time.monotonic() < deadline:
            with self._lock:
                if self.total >= wanted:
                    return
            time.sleep(0.01)

    def take(self) -> tuple[float, int]:
        with self._lock:
            out = (self.longest, self.count)
            self.longest, self.count = 0.0, 0
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.close()


def run(
    index_type: str, days: int, per_day: int, window: int, workdir: Path, reader: bool = False
) -> list[dict]:
    from searchengine import Engine
    from searchengine.ingest.parse import parse_text

    rng = random.Random(11)
    corpus = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))
    )
    chain = Chain(corpus, rng)
    encoder = HashedRandomEncoder(384)
    path = workdir / index_type.replace(",", "_")
    start = date(2025, 1, 1)
    by_day: dict[int, list[str]] = {}
    rows = []
    searcher: Reader | None = None
    for d in range(days):
        day = start + timedelta(days=d)
        text = f"{day:%d-%m-%Y}\n\n" + "\n".join(
            cluster_text(chain, rng, day, n) for n in range(1, per_day + 1)
        )
        clusters = parse_text(text, f"day{d}.txt").clusters
        engine = Engine.open(path, encoder=encoder, create=True, index_type=index_type)
        t = time.perf_counter()
        engine.add(clusters)
        added = time.perf_counter() - t
        by_day[d] = [c.id for c in clusters]
        removed_s = 0.0
        if d - window in by_day:
            t = time.perf_counter()
            engine.remove(by_day.pop(d - window))
            removed_s = time.perf_counter() - t
        stats = engine.stats()
        t = time.perf_counter()
        engine.close()  # the daily job ends: checkpoint
        closed = time.perf_counter() - t
        if reader and searcher is None:
            searcher = Reader(path, encoder)
        if searcher is not None:
            searcher.settle()
        longest, searches = searcher.take() if searcher is not None else (0.0, 0)
        rows.append(
            {
                "reader_longest_ms": round(longest * 1000, 1),
                "reader_searches": searches,
                "day": d + 1,
                "clusters": stats["clusters"],
                "passages": stats["passages"],
                **folder_sizes(path),
                "add_s": round(added, 2),
                "remove_s": round(removed_s, 2),
                "close_s": round(closed, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "rss_mb": rss_mb(),
                "rss_anon_mb": rss_mb("RssAnon"),
                "rss_file_mb": rss_mb("RssFile"),
            }
        )
    if searcher is not None:
        searcher.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=100)
    parser.add_argument("--window", type=int, default=30, help="days kept")
    parser.add_argument(
        "--index-type", action="append", help="FAISS types (default: Flat and HNSW32,Flat)"
    )
    parser.add_argument("--out", type=Path, help="write every day's figures as JSON")
    parser.add_argument(
        "--reader", action="store_true", help="a server's engine searching all along"
    )
    args = parser.parse_args()
    types = args.index_type or ["Flat", "HNSW32,Flat"]
    result: dict[str, Any] = {"days": args.days, "per_day": args.per_day, "window": args.window}
    with tempfile.TemporaryDirectory(prefix="churn-") as tmp:
        for index_type in types:
            print(
                f"{index_type}: {args.days} days of {args.per_day} clusters, window {args.window}"
            )
            rows = run(index_type, args.days, args.per_day, args.window, Path(tmp), args.reader)
            for row in rows:
                if row["day"] % 10 == 0 or row["day"] == args.days:
                    print(
                        f"  day {row['day']:3d}: {row['clusters']:5d} clusters, "
                        f"meta {row['meta_bytes'] / 1e6:7.1f} MB "
                        f"(WAL {row['wal_bytes'] / 1e6:5.1f}), "
                        f"vectors {row['vectors_bytes'] / 1e6:6.1f} MB, "
                        f"add {row['add_s']:5.2f} s, remove {row['remove_s']:5.2f} s, "
                        f"close {row['close_s']:5.2f} s, RSS {row['rss_mb']} MB "
                        f"(anon {row['rss_anon_mb']}, file {row['rss_file_mb']}; "
                        f"peak {row['peak_rss_mb']})"
                        + (
                            f", reader longest {row['reader_longest_ms']:.0f} ms "
                            f"({row['reader_searches']} searches)"
                            if args.reader
                            else ""
                        )
                    )
            full = rows[min(args.window, len(rows)) - 1]
            last = rows[-1]
            growth = {
                k: round(last[k] / full[k] - 1, 3) if full[k] else None
                for k in ("meta_bytes", "vectors_bytes", "rss_anon_mb")
            }
            removes = [r["remove_s"] for r in rows if r["remove_s"]]
            median_remove = sorted(removes)[len(removes) // 2] if removes else 0.0
            if args.reader:
                worst = max(rows, key=lambda r: r["reader_longest_ms"])
                print(
                    f"  reader: longest search {worst['reader_longest_ms']:.0f} ms "
                    f"(day {worst['day']}), {sum(r['reader_searches'] for r in rows)} searches"
                )
            print(
                f"  growth day {full['day']} -> {last['day']}: meta {growth['meta_bytes']:+.1%}, "
                f"vectors {growth['vectors_bytes']:+.1%}, anonymous memory "
                f"{growth['rss_anon_mb']:+.1%}; median remove {median_remove:.2f} s"
            )
            result[index_type] = {"rows": rows, "growth": growth, "median_remove_s": median_remove}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
