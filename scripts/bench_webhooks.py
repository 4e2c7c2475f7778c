"""Saved searches with webhooks on ingest: does an ingest of a few clusters cost more
when thousands of saved searches with webhooks match it, how many threads does the
process reach, and how does every alert end?

Two indexes are built alike (a SYNTHETIC corpus, scripts/synthetic.py), each with the
same N saved searches (UCI headlines cut to their first words); in one every search
has a webhook to a local receiver. The same day's ingest (real UCI headlines) goes
into both; the table gives the ingest's time (`engine.add`: indexing, matching,
recording the alerts), the peak thread count while it and the deliveries ran, and
the alerts' delivery states once the outbox is done.

    .venv/bin/python scripts/bench_webhooks.py --saved 10000 --day 10
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
UCI_ALL = ROOT.parent / "shared" / "data" / "news" / "uci" / "items.jsonl.gz"
UCI = UCI_ALL if UCI_ALL.exists() else ROOT / "tests" / "data" / "uci_random_1pct.jsonl.gz"


class Receiver:
    """A local webhook receiver answering 204 (a live, fast receiver)."""

    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["content-length"]))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def ours() -> int:
    """Threads of the engine's own (the receiver's are the other side's)."""
    return sum(t.name.startswith("searchengine") for t in threading.enumerate())


def run(work: Path, saved: int, day: int, webhook: str | None, model: str) -> dict:
    from synthetic import generate

    from searchengine import Engine
    from searchengine.ingest.parse import iter_files

    base = work / "base"
    if not base.exists():
        generate(2000, base, seed=7)
    news = [json.loads(line) for line in gzip.open(UCI, "rt", encoding="utf-8")]
    random.Random(11).shuffle(news)
    fresh = work / "day.jsonl"
    fresh.write_text("".join(json.dumps(r) + "\n" for r in news[:day]))
    clusters = [c for _, r in iter_files([fresh]) for c in r.clusters]
    pool = news[day:]  # (cycled past the 7,454 other headlines: 10,000 and more)
    queries = [" ".join(pool[i % len(pool)]["title"].split()[:6]) for i in range(saved)]
    engine = Engine.open(work / ("hooked" if webhook else "plain"), model=model, create=True)
    engine.add_paths([base])
    for query in queries:
        engine.saved.save(query, webhook=webhook)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, ours())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    report = engine.add(clusters)
    ingest = time.perf_counter() - started
    engine.saved.outbox.wait(600)
    total = time.perf_counter() - started
    done.set()
    sampler.join()
    states = Counter(
        str(a.get("delivery") or "none").split(" ")[0].rstrip(":")
        for a in engine.saved.alerts(limit=100_000)
    )
    engine.close()
    return {
        "saved": len(queries),
        "alerts": len(report.alerts),
        "ingest_s": ingest,
        "delivered_by_s": total,
        "peak_threads": peak,
        "states": dict(states),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saved", type=int, default=10_000)
    parser.add_argument("--day", type=int, default=10, help="clusters in the ingest")
    parser.add_argument("--model", default="hashing-384")
    args = parser.parse_args()
    os.environ["SEARCHENGINE_WEBHOOK_ALLOW"] = "127.0.0.1"
    receiver = Receiver()
    print("| webhooks | saved | alerts | ingest s | all delivered by s | peak threads | states |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="searchengine-hooks-") as tmp:
        for hook in (None, receiver.url):
            r = run(Path(tmp), args.saved, args.day, hook, args.model)
            print(
                f"| {'yes' if hook else 'no'} | {r['saved']:,} | {r['alerts']} | "
                f"{r['ingest_s']:.2f} | {r['delivered_by_s']:.2f} | {r['peak_threads']} | "
                f"{r['states']} |",
                flush=True,
            )
    print(f"receiver got {receiver.count} deliveries")


if __name__ == "__main__":
    main()
