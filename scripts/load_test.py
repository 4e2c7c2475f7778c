"""Load test: a bounded number of /search requests at a given concurrency against a
running server on loopback; prints requests/s and latency percentiles.

    .venv/bin/searchengine serve --index indexes/default &
    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:8000 --requests 400 --concurrency 8

With `--tool wrk` the requests come from wrk (C, apt-get install wrk) instead of
this Python client, which on a 2-core machine takes about a core away from the
server it measures; wrk runs for a duration and the queries are cycled from a
Lua script (distinct for the whole run with --distinct).

Only loopback addresses are accepted: this is for measuring our own server.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

WRK_SCRIPT = """
local queries = {%s}
local n, step, at = #queries, 1, 1
function setup(thread)
  thread:set("first", (setup_count or 0) + 1)
  setup_count = (setup_count or 0) + 1
  thread:set("step", 0)
end
function init(args)
  at = first
  step = tonumber(args[1])
end
function request()
  local q = queries[((at - 1) %% n) + 1]
  at = at + step
  return wrk.format("GET", "/search?k=10&q=" .. q)
end
"""

DEFAULT_QUERIES = Path(__file__).resolve().parent.parent / "tests" / "data" / "queries.tsv"


def read_queries(path: Path) -> list[str]:
    """The queries of a `qid<TAB>text` file, in order."""
    return [
        line.split("\t", 1)[1].strip() for line in path.read_text().splitlines() if "\t" in line
    ]


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


def run_wrk(url: str, queries: list[str], seconds: int, concurrency: int) -> dict:
    """The same /search load from wrk: requests/s, latency percentiles, errors."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    from urllib.parse import quote

    threads = min(2, concurrency)
    quoted = ",".join('"' + quote(q, safe="") + '"' for q in queries)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT % quoted)
        script = fh.name
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            url,
            "--",
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script).unlink()

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%?\s+([\d.]+)(us|ms|s)\b", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 1)

    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "tool": "wrk",
        "requests": total,
        "concurrency": concurrency,
        "errors": int(bad.group(1)) if bad else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
        "seconds": seconds,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms("50"),
        "p95_ms": float("nan"),
        "p99_ms": ms("99"),
        "mean_ms": ms("Latency"),
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
        "--tool", choices=("httpx", "wrk"), default="httpx", help="who sends the requests"
    )
    parser.add_argument("--seconds", type=int, default=10, help="run length with --tool wrk")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="make every request's query different (the server's query cache stays cold)",
    )
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        raise SystemExit("--requests must be between 1 and 100000")
    loopback_only(args.url)
    queries = read_queries(args.queries)
    if args.distinct:
        queries = distinct_queries(queries, args.requests)
    if args.tool == "wrk":
        if args.distinct:
            queries = distinct_queries(queries, 60_000)  # more than any run sends
        result = run_wrk(args.url, queries, args.seconds, args.concurrency)
        result["distinct_queries"] = len(set(queries[: result["requests"]]))
    else:
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
