"""Dump the story evidence behind `same_story`, `thread` and `related` on a judged
collection, for fitting and checking the story judgements offline.

For every judged cluster (or a sample of them) it writes, for each of its top
candidates, the kinds of evidence `similarity.StorySimilarity` sees (dense chamfer,
term and entity cosines, the score, the days apart) and whether the two belong to one
story, plus the source's background: its scores against a random sample of the index.

    .venv/bin/python scripts/story_pairs.py --index /tmp/uci-idx \\
        --build ../shared/data/news/uci/items.jsonl --families story_id \\
        --out /tmp/uci-pairs.npz

`--families` is a field of the indexed records (JSONL `story_id`) or a families.tsv.
Read the output with numpy (`np.load(..., allow_pickle=False)`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np

from searchengine.core.contract import Filters
from searchengine.engine import Engine
from searchengine.evaluate import load_families


def days_apart(a: str | None, b: str | None) -> float:
    if not a or not b:
        return np.nan
    return float(abs((date.fromisoformat(a) - date.fromisoformat(b)).days))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--build", nargs="*", default=[], help="paths to index first")
    parser.add_argument("--precision", default=None, help="int8 or fp32 (a new index)")
    parser.add_argument("--families", required=True)
    parser.add_argument("--sources", type=int, default=1500, help="sampled source clusters")
    parser.add_argument("--top", type=int, default=30, help="candidates kept per source")
    parser.add_argument("--background", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    create = bool(args.build) and not Path(args.index).exists()
    with Engine.open(args.index, create=create, precision=args.precision) as engine:
        if create:
            run = engine.add_paths([Path(p) for p in args.build], progress=True)
            print(f"indexed {run.report}", file=sys.stderr)
        families = load_families(engine, args.families)
        rng = np.random.default_rng(args.seed)
        with engine.folder.reading():
            sim = engine.stories.judgements().sim
            ids = list(sim.matrix.ids)
            dates = {c: cl.date for c, cl in engine.store.get_clusters(ids).items()}
            judged = [c for c in ids if c in families]
            sources = (
                list(rng.choice(judged, size=args.sources, replace=False))
                if len(judged) > args.sources
                else judged
            )
            cols: dict[str, list[float | str]] = {
                k: []
                for k in (
                    "source",
                    "other",
                    "rank",
                    "dense",
                    "terms",
                    "entities",
                    "score",
                    "days",
                    "same",
                )
            }
            bg_mean, bg_std, bg_dense_mean, bg_dense_std, story_size = [], [], [], [], []
            for n, cid in enumerate(sources):
                profile = sim.profiles([cid])[cid]
                ranked = sim.rank(profile, Filters(), exclude={cid}, want=args.top)[: args.top]
                ev = sim.evidence_many(profile, [c for c, _ in ranked])
                for r, row in enumerate(ev.rows):
                    other = sim.matrix.ids[int(row)]
                    cols["source"].append(cid)
                    cols["other"].append(other)
                    cols["rank"].append(r)
                    cols["dense"].append(float(ev.dense[r]))
                    cols["terms"].append(float(ev.terms[r]))
                    cols["entities"].append(float(ev.entities[r]))
                    cols["score"].append(float(ev.score[r]))
                    cols["days"].append(days_apart(dates.get(cid), dates.get(other)))
                    cols["same"].append(float(families.get(other) == families[cid]))
                sample = [
                    c
                    for c in rng.choice(ids, size=min(args.background, len(ids)), replace=False)
                    if c != cid
                ]
                bg = sim.evidence_many(profile, sample)
                bg_mean.append(float(bg.score.mean()))
                bg_std.append(float(bg.score.std()))
                bg_dense_mean.append(float(bg.dense.mean()))
                bg_dense_std.append(float(bg.dense.std()))
                story_size.append(sum(1 for c in judged if families[c] == families[cid]))
                if n % 200 == 0:
                    print(f"{n}/{len(sources)}", file=sys.stderr)
    np.savez(
        args.out,
        **{k: np.array(v) for k, v in cols.items()},
        sources=np.array(sources),
        bg_mean=np.array(bg_mean),
        bg_std=np.array(bg_std),
        bg_dense_mean=np.array(bg_dense_mean),
        bg_dense_std=np.array(bg_dense_std),
        story_size=np.array(story_size),
    )


if __name__ == "__main__":
    sys.exit(main())
