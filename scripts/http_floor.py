"""What an HTTP search can reach on this machine at all: the same distinct-query wrk load
(`load_test.py --tool wrk --distinct`) against servers that do less and less than ours.

    .venv/bin/python scripts/http_floor.py --seconds 10 --runs 2

In one run, side by side (each `--workers` uvicorn processes, ONNX Runtime int8 with
one thread per worker, queries from tests/data/queries.tsv, each request different):

- `uvicorn`: a bare ASGI app answering a fixed body (the HTTP server alone);
- `uvicorn+encode`: the same app, encoding each request's query first;
- `fastapi+encode`: a FastAPI sync endpoint (our routes' shape) that only encodes;
- `searchengine`: `searchengine serve` over an index of seeds/ (encode and search).

The encode-only servers are a ceiling for any server that must encode every query
with this model on these cores: what they leave per request is all the search,
ranking, highlighting and JSON may cost for a target throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from load_test import DEFAULT_QUERIES, distinct_queries, read_queries, run_wrk  # noqa: E402

BODY = b'{"hits":[]}'
_encoder = None


def _encode(query: str) -> None:
    """One query through the engine's default encoder (loaded once per worker)."""
    global _encoder
    if _encoder is None:
        from searchengine.encoders.encoder import DEFAULT_MODEL, load_encoder

        _encoder = load_encoder(DEFAULT_MODEL)
    _encoder.encode([query])


async def _asgi(scope, receive, send, encode: bool) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if encode:
                    _encode("warm up")
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if encode:
        _encode(parse_qs(scope["query_string"].decode()).get("q", [""])[0])
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def bare_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await _asgi(scope, receive, send, encode=False)


async def encode_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await _asgi(scope, receive, send, encode=True)


def fastapi_app():  # type: ignore[no-untyped-def]
    """A FastAPI app whose /search (sync, run in the thread pool as ours is) only encodes."""
    from fastapi import FastAPI, Query
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/search")
    def search(q: str = Query(min_length=1), k: int = Query(10, ge=1, le=100)) -> Response:
        _encode(q)
        return Response(BODY, media_type="application/json")

    _encode("warm up")
    return app


def wait_ready(url: str, path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} was not ready in {timeout:.0f} s")


def start(name: str, port: int, workers: int, index: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SEARCHENGINE_ENCODER_THREADS": "1"}
    bin_dir = Path(sys.executable).parent
    if name == "searchengine":
        cmd = [str(bin_dir / "searchengine"), "serve", "--index", str(index)]
        cmd += ["--port", str(port), "--workers", str(workers)]
    else:
        target = {
            "uvicorn": ["http_floor:bare_app"],
            "uvicorn+encode": ["http_floor:encode_app"],
            "fastapi+encode": ["http_floor:fastapi_app", "--factory"],
        }[name]
        cmd = [str(bin_dir / "uvicorn"), *target, "--app-dir", str(SCRIPTS)]
        cmd += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
        cmd += ["--log-level", "warning", "--http", "httptools", "--loop", "uvloop"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk run length")
    parser.add_argument("--runs", type=int, default=2, help="runs per server (alternated)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument(
        "--servers",
        default="uvicorn,uvicorn+encode,fastapi+encode,searchengine",
        help="comma-separated, from: uvicorn, uvicorn+encode, fastapi+encode, searchengine",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    queries = distinct_queries(read_queries(DEFAULT_QUERIES), 60_000)
    results: dict[str, list[dict]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        if "searchengine" in names:
            print("indexing seeds/ ...", file=sys.stderr, flush=True)
            subprocess.run(
                [str(Path(sys.executable).parent / "searchengine"), "index", str(ROOT / "seeds")]
                + ["--index", str(index), "--quiet"],
                check=True,
            )
        for run in range(args.runs):
            for name in names:
                url = f"http://127.0.0.1:{args.port}"
                proc = start(name, args.port, args.workers, index)
                try:
                    # Our /health answers 200 only once the index is loaded.
                    wait_ready(url, "/health" if name == "searchengine" else "/search?q=x")
                    result = run_wrk(url, queries, args.seconds, args.concurrency)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                results[name].append(result)
                print(
                    f"run {run + 1} {name:15s} {result['requests_per_second']:8.1f} req/s  "
                    f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
                    f"errors {result['errors']}",
                    file=sys.stderr,
                    flush=True,
                )
    if args.json:
        print(json.dumps(results))
        return
    print(f"\n| server ({args.workers} workers) | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for name in names:
        rows = results[name]

        def column(key: str, rows: list[dict] = rows) -> str:
            return " / ".join(f"{r[key]:.0f}" for r in rows)

        print(
            f"| {name} | {column('requests_per_second')} | {column('p50_ms')} | "
            f"{column('p99_ms')} |"
        )


if __name__ == "__main__":
    main()
