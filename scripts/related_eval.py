"""Score `related` on a judged collection (every member of a family of two or more asks
for its related clusters; the other members are relevant), optionally for several
values of `SimilarityParams.related_standing` (the related floor).

    .venv/bin/python scripts/related_eval.py --index /tmp/study/uci_random_1pct-int8 \\
        --families story_id [--standing 1.5 2 2.5]

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
    parser.add_argument("--standing", type=float, nargs="*", default=[])
    args = parser.parse_args()
    with Engine.open(args.index) as engine:
        families = load_families(engine, args.families)
        base = engine.similarity_params
        for standing in args.standing or [base.related_standing]:
            engine.similarity_params = replace(base, related_standing=standing)
            report = evaluate_related(engine, families)
            metrics = {k: round(v, 4) for k, v in report.metrics.items()}
            print(json.dumps({"related_standing": standing, **metrics, **report.extra}))


if __name__ == "__main__":
    sys.exit(main())
