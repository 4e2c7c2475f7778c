"""Load test: a bounded number of /search requests at a given concurrency against a
running server on loopback; prints requests/s and latency percentiles.

    .venv/bin/searchengine serve --index indexes/default &
    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:8000 --requests 400 --concurrency 8

Only loopback addresses are accepted: this is for measuring our own server.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import statistics
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

DEFAULT_QUERIES = Path(__file__).resolve().parent.parent / "tests" / "data" / "queries.tsv"


def loopback_only(url: str) -> None:
    host = urlparse(url).hostname or ""
    addr = ipaddress.ip_address(socket.gethostbyname(host))
    if not addr.is_loopback:
        raise SystemExit(f"refusing to load-test {host}: only loopback addresses are allowed")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def distinct_queries(queries: list[str], total: int) -> list[str]:
    """`total` different queries (every request a cache miss): each base query with a
    different word from the other queries appended."""
    words = sorted({w.strip("?,.") for q in queries for w in q.split() if len(w) > 3})
    out: list[str] = []
    for i in range(total):
        base = queries[i % len(queries)]
        extra = words[(i // len(queries)) % len(words)] if i >= len(queries) else ""
        round_ = i // (len(queries) * len(words))
        out.append(" ".join(x for x in (base, extra, str(round_) if round_ else "") if x))
    return out


async def run(url: str, queries: list[str], total: int, concurrency: int, timeout: float) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                q = queries[i % len(queries)]
                start = time.perf_counter()
                try:
                    r = await client.get("/search", params={"q": q, "k": 10})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "requests": total,
        "concurrency": concurrency,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(total / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=400, help="total requests (bounded)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="qid<TAB>text file")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="make every request's query different (the server's query cache stays cold)",
    )
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        raise SystemExit("--requests must be between 1 and 100000")
    loopback_only(args.url)
    queries = [
        line.split("\t", 1)[1].strip()
        for line in args.queries.read_text().splitlines()
        if "\t" in line
    ]
    if args.distinct:
        queries = distinct_queries(queries, args.requests)
    result = asyncio.run(run(args.url, queries, args.requests, args.concurrency, args.timeout))
    result["distinct_queries"] = len(set(queries[: args.requests]))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['requests']} requests at concurrency {result['concurrency']}: "
            f"{result['requests_per_second']} req/s, p50 {result['p50_ms']} ms, "
            f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, errors {result['errors']}"
        )


if __name__ == "__main__":
    main()
