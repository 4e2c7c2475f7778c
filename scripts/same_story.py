"""Calibrate `same_story`: score every pair of an index's clusters that a families file
judges, and print precision and recall of the same-story decision for a flat bar and
for bars that rise with the days between two stories (`SimilarityParams`).

    .venv/bin/searchengine index seeds/ --index /tmp/tri-idx
    .venv/bin/python scripts/same_story.py --index /tmp/tri-idx \\
        --families ../shared/eval/families.tsv \\
        --different 2025-10-10-c2,2026-01-09-c10

Every pair of judged clusters counts (not only those a related list returns), plus
each `--different` pair, which is known to be two stories (the Nobel Prize of
Venezuela's opposition leader and Venezuela's prisoner release three months later).
Families named SINGLE-* are one-off stories.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace

from searchengine.engine import Engine
from searchengine.evaluate import read_families
from searchengine.stories.similarity import is_same_story, same_story_bar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--families", required=True)
    parser.add_argument("--different", action="append", default=[], metavar="A,B")
    args = parser.parse_args()

    families = read_families(args.families)
    different = {frozenset(p.split(",")) for p in args.different}
    extra = {c for pair in different for c in pair}
    with Engine.open(args.index, create=False) as engine, engine.folder.reading():
        sim = engine.stories.judgements().sim
        ids = sorted(c for c in set(families) | extra if c in sim.matrix.position)
        profiles = sim.profiles(ids)
        dates = {c: engine.get(c)[0].date for c in ids}
        pairs = []
        for a, b in itertools.combinations(ids, 2):
            family = families.get(a)
            same = (
                family is not None
                and family == families.get(b)
                and not family.startswith("SINGLE")
                and frozenset((a, b)) not in different
            )
            pairs.append((a, b, sim.score(profiles[a], profiles[b]), same))
        params = engine.stories.similarity_params

    out = []
    for base in (0.26, 0.28, 0.30, 0.32, 0.33):
        for per_day in (0.0, 0.0003, 0.0005, 0.0008):
            p = replace(params, same_story=base, same_story_per_day=per_day)
            flagged = [
                (a, b, same) for a, b, s, same in pairs if is_same_story(s, dates[a], dates[b], p)
            ]
            right = sum(same for _, _, same in flagged)
            true = sum(same for *_, same in pairs)
            out.append(
                {
                    "bar": base,
                    "per_day": per_day,
                    "precision": round(right / len(flagged), 4) if flagged else None,
                    "recall": round(right / true, 4) if true else None,
                    "different_pairs_flagged": sorted(
                        f"{a},{b}" for a, b, _ in flagged if frozenset((a, b)) in different
                    ),
                    "current": (base, per_day) == (params.same_story, params.same_story_per_day),
                }
            )
    named = [
        {
            "pair": f"{a},{b}",
            "score": round(s, 4),
            "bar": round(same_story_bar(dates[a], dates[b], params), 4),
        }
        for a, b, s, _ in pairs
        if frozenset((a, b)) in different
    ]
    print(json.dumps({"pairs": len(pairs), "named": named, "bars": out}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
