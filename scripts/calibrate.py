"""Fit the calibrated relevance (`RelevanceParams.semantic`) on real news and check it
across collections: each set is scored by a model fitted without it.

A set is NAME=INDEX:QUERIES[:QRELS]. Without QRELS every hit is non-relevant (questions
from another collection). QUERIES is a `qid<TAB>text` file or a JSONL of records (their
`title` is the query). `--sample N` takes the first N queries of each set.

    S=/tmp/study; N=../shared/data/news/neus_train; E=../shared/eval
    .venv/bin/python scripts/calibrate.py --sample 300 \\
        --set dev=$S/dev-int8:$E/queries.tsv:$E/qrels.txt \\
        --set neus=$S/neus_digests-int8:$N/queries.tsv:$N/qrels.txt \\
        --set neus_to_dev=$S/dev-int8:$N/queries.tsv \\
        --set uci_to_neus=$S/neus_digests-int8:$S/uci_random_1pct.jsonl \\
        --diagram docs/reliability.svg

Prints, per set: known-item success (the right story first and strong), main answers
left weak, non-relevant hits left strong, queries with any strong hit; the expected
calibration error and a reliability table of the held-out scores; the model fitted on
every set (to paste into `RelevanceParams`). Hybrid search, top 10.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.core.contract import SearchRequest
from searchengine.engine import Engine
from searchengine.evaluate import read_qrels, read_queries
from searchengine.query.relevance import RelevanceParams, model_inputs, names_factor


@dataclass
class Row:
    set: str
    qid: str
    rank: int
    x: list[float]
    grade: int
    factor: float
    hit: str
    title: str
    evidence: dict[str, Any]


def read_any_queries(path: str) -> dict[str, str]:
    if path.endswith(".jsonl") or path.endswith(".jsonl.gz"):
        import gzip

        opener: Any = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            return {r["id"]: r["title"] for r in map(json.loads, fh) if r.get("title")}
    return read_queries(path)


def collect(name: str, spec: str, sample: int, k: int) -> tuple[list[Row], dict[str, str]]:
    index, queries_path, *rest = spec.split(":")
    queries = dict(list(read_any_queries(queries_path).items())[:sample])
    qrels = read_qrels(rest[0]) if rest else {}
    params = RelevanceParams()
    rows: list[Row] = []
    with Engine.open(index, create=False) as engine:
        for qid, query in queries.items():
            for rank, hit in enumerate(engine.search(SearchRequest(query, k=k)), 1):
                assert hit.evidence is not None
                model, x = model_inputs(hit.evidence, params)
                if model is not params.semantic:
                    continue
                grade = qrels.get(qid, {}).get(hit.id, 0)
                factor = names_factor(hit.evidence, params)
                ev = dict(hit.evidence.__dict__)
                rows.append(Row(name, qid, rank, x, grade, factor, hit.id, hit.title, ev))
    return rows, queries


def fit(rows: list[Row]) -> tuple[np.ndarray, float]:
    """A logistic regression over the rows, each set weighing the same in all (the 36
    dev queries' 360 hits count as much as 600 NeuS queries' 6,000)."""
    from sklearn.linear_model import LogisticRegression

    size: dict[str, int] = {}
    for r in rows:
        size[r.set] = size.get(r.set, 0) + 1
    x = np.array([r.x for r in rows])
    y = np.array([r.grade > 0 for r in rows])
    weight = np.array([1000.0 / size[r.set] for r in rows])
    model = LogisticRegression(max_iter=2000).fit(x, y, sample_weight=weight)
    return model.coef_[0], float(model.intercept_[0])


def scores_of(rows: list[Row], w: np.ndarray, b: float) -> np.ndarray:
    x = np.array([r.x for r in rows])
    p = 1.0 / (1.0 + np.exp(-(x @ w + b))) * np.array([r.factor for r in rows])
    for i in range(1, len(rows)):  # as the engine: never above the hit ranked before
        if (rows[i].set, rows[i].qid) == (rows[i - 1].set, rows[i - 1].qid):
            p[i] = min(p[i], p[i - 1])
    return p


def report(rows: list[Row], p: np.ndarray, cut: float, judged: bool) -> dict[str, Any]:
    y = np.array([r.grade > 0 for r in rows])
    by_q: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_q.setdefault(r.qid, []).append(i)
    out: dict[str, Any] = {
        "queries": len(by_q),
        "hits": len(rows),
        "queries_with_a_strong_hit": round(
            float(np.mean([any(p[i] >= cut for i in ix) for ix in by_q.values()])), 4
        ),
    }
    if judged:
        first = [ix[0] for ix in by_q.values()]
        out["right_story_first_and_strong"] = round(
            float(np.mean([rows[i].grade >= 2 and p[i] >= cut for i in first])), 4
        )
        out["right_story_first"] = round(float(np.mean([rows[i].grade >= 2 for i in first])), 4)
        main = [i for i, r in enumerate(rows) if r.grade >= 2]
        out["main_answers_weak"] = round(float(np.mean([p[i] < cut for i in main])), 4)
    out["non_relevant_strong"] = round(float(np.mean(p[~y] >= cut)), 4) if (~y).any() else None
    return out


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error (bin-weighted |mean score - relevant share|) and bins."""
    edges = np.linspace(0, 1, bins + 1)
    table, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            table.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "hits": int(m.sum()),
                    "mean_score": round(float(p[m].mean()), 3),
                    "relevant": round(float(y[m].mean()), 3),
                }
            )
            ece += m.mean() * abs(float(p[m].mean()) - float(y[m].mean()))
    return round(ece, 4), table


def draw(table: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect")
    xs = [b["mean_score"] for b in table]
    ys = [b["relevant"] for b in table]
    ax.plot(xs, ys, "o-", color="C0", label="held out")
    for b in table:
        ax.annotate(
            str(b["hits"]),
            (b["mean_score"], b["relevant"]),
            fontsize=7,
            xytext=(3, -9),
            textcoords="offset points",
        )
    ax.set_xlabel("relevance (held-out score)")
    ax.set_ylabel("share judged relevant")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="NAME=INDEX:QUERIES[:QRELS]")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--cut", type=float, default=RelevanceParams().cutoff)
    parser.add_argument("--diagram", help="write the held-out reliability diagram here (SVG)")
    parser.add_argument("--dump", help="pickle the collected rows here (for study)")
    parser.add_argument(
        "--show", type=int, default=10, help="strong hits of unanswerable sets shown"
    )
    args = parser.parse_args()

    sets: dict[str, list[Row]] = {}
    judged: dict[str, bool] = {}
    for spec in args.set:
        name, rest = spec.split("=", 1)
        sets[name], _ = collect(name, rest, args.sample, args.k)
        judged[name] = len(rest.split(":")) > 2
        print(f"collected {name}: {len(sets[name])} hits", file=sys.stderr)
    every = [r for rows in sets.values() for r in rows]
    w, b = fit(every)
    out: dict[str, Any] = {
        "fitted_on_every_set": {"weights": [round(float(v), 3) for v in w], "bias": round(b, 3)},
        "cut": args.cut,
        "held_out": {},
        "in_sample": {},
    }
    if args.dump:
        import pickle

        Path(args.dump).write_bytes(pickle.dumps(sets))
    held_p, held_y = [], []
    for name, rows in sets.items():
        rest = [r for n, rr in sets.items() if n != name for r in rr]
        wn, bn = fit(rest)
        p = scores_of(rows, wn, bn)
        out["held_out"][name] = report(rows, p, args.cut, judged[name])
        out["in_sample"][name] = report(rows, scores_of(rows, w, b), args.cut, judged[name])
        held_p.append(p)
        held_y.append(np.array([r.grade > 0 for r in rows]))
        if not judged[name]:
            strong = [
                (r, s)
                for r, s in zip(rows, scores_of(rows, w, b), strict=True)
                if r.rank == 1 and s >= args.cut
            ]
            out["in_sample"][name]["strong_examples"] = [
                f"{r.qid}: {r.hit} {r.title[:70]} ({s:.2f})" for r, s in strong[: args.show]
            ]
    ece, table = reliability(np.concatenate(held_p), np.concatenate(held_y))
    out["held_out_calibration"] = {"ece": ece, "bins": table}
    if args.diagram:
        draw(table, args.diagram, f"relevance, each set held out (ECE {ece:.3f})")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.exit(main())
