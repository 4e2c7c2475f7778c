"""Fit the calibrated relevance score on the dev set alone and print how it holds.

The `semantic` model of `RelevanceParams` is now fitted on real news across
collections by `scripts/calibrate.py`; this script still fits the `words` model
(lexical search) and checks either on the dev cut-offs and BEIR SciFact.

Runs every judged query of the dev set (and optionally BEIR SciFact) in each search
mode, takes each of the top 10 hits' evidence (best cosine, share of the query's words
found, share of the best fused score) and whether the judgments call it relevant,
and fits a logistic regression. It prints:

- the coefficients to paste into `RelevanceParams` (fitted on every dev hit), for
  the semantic model (standing, coverage) and the words-only one (coverage; lexical);
- calibration measured out of sample (refitted with a sixth of the queries held out
  at a time), as AUC, Brier score and a reliability table;
- per mode and candidate cut-off: the share of main answers and of partly relevant
  hits under it, of non-relevant hits over it, and which no-answer and answerable
  queries come back with no strong hit;
- with --beir, how the dev fit holds on another domain (SciFact: abstracts).

    .venv/bin/searchengine index seeds/ --index /tmp/tri-idx
    .venv/bin/python scripts/fit_relevance.py --index /tmp/tri-idx \\
        --queries ../shared/eval/queries.tsv --qrels ../shared/eval/qrels.txt \\
        --beir ../shared/data/beir/scifact --beir-index /tmp/evals/scifact-v2

scikit-learn is used here only (it comes with sentence-transformers); the engine
applies the fitted numbers itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from searchengine.core.contract import SearchRequest
from searchengine.engine import Engine
from searchengine.evaluate import read_beir, read_qrels, read_queries
from searchengine.query.relevance import RelevanceParams, model_inputs, names_factor

MODES = ("hybrid", "dense", "lexical")
FOLDS = 6


@dataclass
class Row:
    corpus: str
    qid: str
    mode: str
    rank: int
    model: str  # "semantic" (a query vector) or "words" (lexical)
    x: list[float]
    grade: int
    factor: float  # names_factor: applied after the model (not fitted)


def collect(
    engine: Engine,
    corpus: str,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    modes: tuple[str, ...],
    k: int,
) -> list[Row]:
    params = RelevanceParams()
    rows: list[Row] = []
    for qid, query in queries.items():
        judged = qrels.get(qid, {})
        for mode in modes:
            for rank, hit in enumerate(engine.search(SearchRequest(query, k=k, mode=mode)), 1):
                assert hit.evidence is not None
                model, x = model_inputs(hit.evidence, params)
                name = "semantic" if model is params.semantic else "words"
                factor = names_factor(hit.evidence, params)
                rows.append(Row(corpus, qid, mode, rank, name, x, judged.get(hit.id, 0), factor))
    return rows


def fit(x: np.ndarray, y: np.ndarray) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000).fit(x, y)
    return [float(w) for w in model.coef_[0]], float(model.intercept_[0])


def predict(weights: list[float], bias: float, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ np.array(weights) + bias)))


def monotone(rows: list[Row], scores: np.ndarray) -> np.ndarray:
    """As the engine scores: never above the hit ranked before."""
    out = scores.copy()
    for i in range(1, len(rows)):
        a, b = rows[i - 1], rows[i]
        if (a.corpus, a.qid, a.mode) == (b.corpus, b.qid, b.mode):
            out[i] = min(out[i], out[i - 1])
    return out


def held_out_scores(rows: list[Row]) -> tuple[np.ndarray, dict[str, tuple[list[float], float]]]:
    """Each dev row scored by a model fitted without its query; and the models fitted
    on every dev row."""
    scores = np.zeros(len(rows))
    fitted: dict[str, tuple[list[float], float]] = {}
    queries = sorted({r.qid for r in rows})
    fold = {q: i % FOLDS for i, q in enumerate(queries)}
    for name in ("semantic", "words"):
        index = [i for i, r in enumerate(rows) if r.model == name]
        if not index:
            continue
        x = np.array([rows[i].x for i in index])
        y = np.array([rows[i].grade > 0 for i in index])
        folds = np.array([fold[rows[i].qid] for i in index])
        for f in range(FOLDS):
            w, b = fit(x[folds != f], y[folds != f])
            scores[np.array(index)[folds == f]] = predict(w, b, x[folds == f])
        fitted[name] = fit(x, y)
    scores *= np.array([r.factor for r in rows])
    return monotone(rows, scores), fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, help="the dev index (seeds/ indexed)")
    parser.add_argument("--queries", required=True)
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--beir", help="a BEIR folder to check the dev fit on (out of domain)")
    parser.add_argument("--beir-index", help="its index (built by `eval --beir --index`)")
    parser.add_argument("--beir-queries", type=int, default=300, help="at most this many")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    queries, qrels = read_queries(args.queries), read_qrels(args.qrels)
    with Engine.open(args.index, create=False) as engine:
        rows = collect(engine, "dev", queries, qrels, MODES, args.k)
    no_answer = sorted(q for q in queries if not any(v > 0 for v in qrels.get(q, {}).values()))
    held_out, fitted = held_out_scores(rows)
    y = np.array([r.grade > 0 for r in rows])
    out: dict[str, Any] = {
        "fitted": {
            name: {"weights": [round(w, 3) for w in ws], "bias": round(b, 3)}
            for name, (ws, b) in fitted.items()
        },
        "current": {
            name: {"weights": list(m.weights), "bias": m.bias}
            for name, m in (
                ("semantic", RelevanceParams().semantic),
                ("words", RelevanceParams().words),
            )
        },
        "dev_hits": len(rows),
        "dev_relevant": int(y.sum()),
        "held_out": {},
        "cutoffs": {},
    }
    for name in ("semantic", "words"):
        mask = np.array([r.model == name for r in rows])
        if mask.any() and len(set(y[mask])) > 1:
            out["held_out"][name] = {
                "auc": round(auc(held_out[mask], y[mask]), 4),
                "brier": round(float(np.mean((held_out[mask] - y[mask]) ** 2)), 4),
                "brier_base_rate": round(float(np.mean((y[mask].mean() - y[mask]) ** 2)), 4),
                "reliability": reliability(held_out[mask], y[mask]),
            }
    for mode in MODES:
        table = []
        for cut in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            table.append(cut_off_row(rows, held_out, mode, cut, no_answer))
        out["cutoffs"][mode] = table

    if args.beir and args.beir_index:
        data = read_beir(args.beir)
        beir_queries = dict(list(data.queries.items())[: args.beir_queries])
        with Engine.open(args.beir_index, create=False) as engine:
            beir_rows = collect(engine, "beir", beir_queries, data.qrels, ("hybrid",), args.k)
        ws, b = fitted["semantic"]
        factors = np.array([r.factor for r in beir_rows])
        scores = monotone(beir_rows, predict(ws, b, np.array([r.x for r in beir_rows])) * factors)
        yb = np.array([r.grade > 0 for r in beir_rows])
        cut = RelevanceParams().cutoff
        out["beir_with_dev_fit"] = {
            "hits": len(beir_rows),
            "relevant_share": round(float(yb.mean()), 4),
            "mean_score": round(float(scores.mean()), 4),
            "auc": round(auc(scores, yb), 4),
            f"relevant_under_{cut}": round(float(np.mean(scores[yb] < cut)), 4),
            f"non_relevant_over_{cut}": round(float(np.mean(scores[~yb] >= cut)), 4),
        }
    print(json.dumps(out, indent=1))


def cut_off_row(
    rows: list[Row], scores: np.ndarray, mode: str, cut: float, no_answer: list[str]
) -> dict[str, Any]:
    idx = [i for i, r in enumerate(rows) if r.mode == mode]
    grade2 = [i for i in idx if rows[i].grade >= 2]
    grade1 = [i for i in idx if rows[i].grade == 1]
    non = [i for i in idx if rows[i].grade == 0]
    strong = {rows[i].qid for i in idx if scores[i] >= cut}
    answerable = {rows[i].qid for i in idx} - set(no_answer)
    return {
        "cutoff": cut,
        "main_answers_weak": round(float(np.mean([scores[i] < cut for i in grade2])), 3),
        "partly_relevant_weak": round(float(np.mean([scores[i] < cut for i in grade1])), 3),
        "non_relevant_strong": round(float(np.mean([scores[i] >= cut for i in non])), 3),
        "no_answer_queries_empty": sorted(set(no_answer) - strong),
        "answerable_queries_empty": sorted(answerable - strong),
    }


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def reliability(scores: np.ndarray, y: np.ndarray) -> list[str]:
    lines = []
    for low in np.arange(0.0, 1.0, 0.2):
        mask = (scores >= low) & ((scores < low + 0.2) if low < 0.8 else (scores <= 1.0))
        if mask.any():
            lines.append(
                f"[{low:.1f}, {low + 0.2:.1f}): {int(mask.sum())} hits, "
                f"mean score {scores[mask].mean():.3f}, judged relevant {y[mask].mean():.3f}"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
