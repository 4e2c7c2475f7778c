"""Score `related` on a judged collection (every member of a family of two or more asks
for its related clusters; the other members are relevant), optionally for several
values of one `SimilarityParams` field (default: `related_standing`, the related floor).

    .venv/bin/python scripts/related_eval.py --index /tmp/study/uci_random_1pct-int8 \\
        --families story_id [--param hub_weight --values 0 0.25 0.5]

Unlike `searchengine eval --families`, no recommendation trials (they take long on
thousands of items). `--families`: a families.tsv or a record field (JSONL story_id).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from searchengine.engine import Engine
from searchengine.evaluate import evaluate_related, load_families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--families", required=True)
    parser.add_argument("--param", default="related_standing", help="a SimilarityParams field")
    parser.add_argument("--values", type=float, nargs="*", default=[])
    args = parser.parse_args()
    with Engine.open(args.index) as engine:
        families = load_families(engine, args.families)
        base = engine.stories.similarity_params
        for value in args.values or [getattr(base, args.param)]:
            engine.stories.similarity_params = replace(base, **{args.param: value})
            report = evaluate_related(engine, families)
            metrics = {k: round(v, 4) for k, v in report.metrics.items()}
            print(json.dumps({args.param: value, **metrics, **report.extra}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
