"""Count strong/weak decisions that flip between two indexes of the same collection,
one with int8 vectors and one with fp32 (int8 kernels round differently per CPU; fp32
is what they all approximate).

    .venv/bin/python scripts/strong_flips.py --queries ../shared/eval/queries.tsv \\
        /tmp/study/dev-int8 /tmp/study/dev-fp32

Prints, over every query's top 10 (hybrid): hits found in both, how many of them are
strong in one and weak in the other, how many sit within 0.02 of the cut-off, and
queries whose first hit flips; as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from searchengine.engine import Engine
from searchengine.evaluate import read_queries
from searchengine.query.relevance import RelevanceParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("int8")
    parser.add_argument("fp32")
    parser.add_argument("--queries", required=True, help="qid<TAB>text")
    parser.add_argument("--sample", type=int, default=600)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    queries = dict(list(read_queries(args.queries).items())[: args.sample])
    runs = []
    for path in (args.int8, args.fp32):
        with Engine.open(path) as engine:
            runs.append({q: engine.search(text, k=args.k) for q, text in queries.items()})
    cut = RelevanceParams().cutoff
    both = flips = near = first_flips = 0
    examples = []
    for q in queries:
        a = {h.id: h for h in runs[0][q]}
        b = {h.id: h for h in runs[1][q]}
        for cid in a.keys() & b.keys():
            both += 1
            near += min(abs(a[cid].relevance - cut), abs(b[cid].relevance - cut)) < 0.02
            if a[cid].weak != b[cid].weak:
                flips += 1
                examples.append(f"{q} {cid}: {a[cid].relevance:.3f} / {b[cid].relevance:.3f}")
        if runs[0][q] and runs[1][q]:
            first_flips += runs[0][q][0].weak != runs[1][q][0].weak
    print(
        json.dumps(
            {
                "queries": len(queries),
                "hits_in_both": both,
                "strong_weak_flips": flips,
                "within_0.02_of_the_cut": near,
                "queries_whose_first_hit_flips": first_flips,
                "examples": examples[:10],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
