"""How many same-story decisions flip between int8 and fp32 vectors: read two outputs of
`scripts/story_pairs.py` (the same collection indexed in each precision, same sampling
seed), judge every pair both hold with today's `SimilarityParams`, and count the
decisions that differ, with the scores' largest gap.

    .venv/bin/python scripts/flip_study.py /tmp/dev-int8.npz /tmp/dev-fp32.npz [--items]

`--items`: the collection is single items (JSONL records), judged by the item bars.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from searchengine.stories.similarity import SimilarityParams


def bars(days: np.ndarray, items: bool, p: SimilarityParams) -> np.ndarray:
    if items:
        dated = p.item_same_story + p.item_same_story_per_day * days
        return np.where(np.isnan(days), p.undated_item_same_story, dated)
    return np.where(np.isnan(days), p.same_story, p.same_story + p.same_story_per_day * days)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("int8")
    parser.add_argument("fp32")
    parser.add_argument("--items", action="store_true")
    args = parser.parse_args()
    p = SimilarityParams()
    runs = []
    for path in (args.int8, args.fp32):
        d = np.load(path)
        keys = [f"{a}\t{b}" for a, b in zip(d["source"], d["other"], strict=True)]
        runs.append(dict(zip(keys, zip(d["score"], d["days"], strict=True), strict=True)))
    both = sorted(set(runs[0]) & set(runs[1]))
    s8 = np.array([runs[0][k][0] for k in both])
    s32 = np.array([runs[1][k][0] for k in both])
    days = np.array([runs[0][k][1] for k in both], dtype=float)
    bar = bars(days, args.items, p)
    d8, d32 = s8 >= bar, s32 >= bar
    near = np.abs(s32 - bar) < 0.01
    print(
        json.dumps(
            {
                "pairs": len(both),
                "same_story_int8": int(d8.sum()),
                "same_story_fp32": int(d32.sum()),
                "flips": int((d8 != d32).sum()),
                "flip_share": round(float((d8 != d32).mean()), 5) if both else None,
                "within_0.01_of_the_bar": int(near.sum()),
                "score_gap_max": round(float(np.abs(s8 - s32).max()), 4) if both else None,
                "score_gap_p99": round(float(np.percentile(np.abs(s8 - s32), 99)), 4)
                if both
                else None,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
