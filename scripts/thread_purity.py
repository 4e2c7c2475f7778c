"""Measure story threads on a judged collection: purity (the share of a thread's other
clusters that belong to the seed's story), recall (the share of the seed's story the
thread finds) and length, for the current `ThreadParams` or several anchors.

    .venv/bin/python scripts/thread_purity.py --index /tmp/uci-idx --families story_id \\
        --sample 200 --anchor 1 2 3

`--families` is a field of the indexed records (JSONL `story_id`) or a families.tsv.
A seed whose story has no other indexed member is skipped (nothing to find).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import numpy as np

from searchengine.core.contract import ThreadRequest
from searchengine.engine import Engine
from searchengine.evaluate import load_families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--families", required=True)
    parser.add_argument("--sample", type=int, default=200, help="seeds sampled (0: all)")
    parser.add_argument("--anchor", type=float, nargs="*", default=[], help="anchors to try")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with Engine.open(args.index) as engine:
        families = load_families(engine, args.families)
        known = set(engine.store.cluster_ids())
        size: dict[str, int] = {}
        for cid, fam in families.items():
            if cid in known:
                size[fam] = size.get(fam, 0) + 1
        seeds = sorted(c for c in families if c in known and size[families[c]] >= 2)
        if args.sample and len(seeds) > args.sample:
            rng = np.random.default_rng(args.seed)
            seeds = sorted(rng.choice(seeds, size=args.sample, replace=False))
        out = []
        for anchor in args.anchor or [engine.stories.thread_params.anchor]:
            engine.stories.thread_params = replace(engine.stories.thread_params, anchor=anchor)
            purity, recall, capped, length, cut = [], [], [], [], 0
            for seed in seeds:
                response = engine.answer(ThreadRequest(seed, limit=args.limit))
                others = [s.id for s in response.results if s.id != seed]
                right = sum(families.get(o) == families[seed] for o in others)
                length.append(len(others) + 1)
                if others:
                    purity.append(right / len(others))
                recall.append(right / (size[families[seed]] - 1))
                # What a thread of `limit` clusters could hold of a larger story.
                capped.append(right / min(size[families[seed]] - 1, args.limit - 1))
                cut += bool(response.notes)
            out.append(
                {
                    "anchor": anchor,
                    "seeds": len(seeds),
                    "purity": round(float(np.mean(purity)), 4) if purity else None,
                    "purity_of_threads_with_others": len(purity),
                    "recall": round(float(np.mean(recall)), 4),
                    "recall_within_limit": round(float(np.mean(capped)), 4),
                    "length_mean": round(float(np.mean(length)), 2),
                    "length_max": int(max(length)),
                    "cut_at_limit": cut,
                }
            )
            print(json.dumps(out[-1]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
