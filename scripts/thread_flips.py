"""Count thread memberships that flip between an int8 and an fp32 index of the same
collection: for each sampled seed, the clusters in one thread and not the other.

    .venv/bin/python scripts/thread_flips.py /tmp/study/dev-int8 /tmp/study/dev-fp32 --sample 0
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from searchengine.core.contract import ThreadRequest
from searchengine.engine import Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("int8")
    parser.add_argument("fp32")
    parser.add_argument("--sample", type=int, default=300, help="seeds (0: every cluster)")
    args = parser.parse_args()
    threads: list[dict[str, set[str]]] = []
    seeds: list[str] = []
    for path in (args.int8, args.fp32):
        with Engine.open(path) as engine:
            if not seeds:
                with engine.folder.reading():
                    seeds = sorted(engine.store.cluster_ids())
                if args.sample and len(seeds) > args.sample:
                    seeds = sorted(random.Random(0).sample(seeds, args.sample))
            threads.append(
                {s: {r.id for r in engine.thread(ThreadRequest(s))} - {s} for s in seeds}
            )
    members = sum(len(threads[0][s] | threads[1][s]) for s in seeds)
    flips = sum(len(threads[0][s] ^ threads[1][s]) for s in seeds)
    changed = sum(threads[0][s] != threads[1][s] for s in seeds)
    print(
        json.dumps(
            {"seeds": len(seeds), "members": members, "flips": flips, "threads_changed": changed}
        )
    )


if __name__ == "__main__":
    sys.exit(main())
