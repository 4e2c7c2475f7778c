"""Relevance evaluation over TREC qrels, with ranx computing the metrics.

Queries: `qid<TAB>text`. Qrels: `qid 0 docid grade` (TREC; whitespace
separated, CRLF tolerated). Runs are what the engine returns: cluster ids
with their scores. Queries with no judgments cannot be scored; they are
reported apart (with their top score) so false positives stay visible.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchengine.errors import BadRequest, InputNotFound

SEARCH_METRICS = ("ndcg@10", "recall@10", "mrr@10")


def read_queries(path: str | Path) -> dict[str, str]:
    """`qid<TAB>text` lines (a header line `query-id...` is skipped)."""
    out: dict[str, str] = {}
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        qid, sep, text = line.partition("\t")
        if not sep:
            raise BadRequest(f"{path}:{number}: expected 'qid<TAB>text'")
        out[qid.strip()] = text.strip()
    return out


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """TREC qrels (`qid 0 docid grade`) or BEIR TSV (`query-id corpus-id score`, with header)."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 4:
            qid, _, doc, grade = parts
        elif len(parts) == 3:
            qid, doc, grade = parts
        else:
            raise BadRequest(f"{path}:{number}: expected 'qid 0 docid grade'")
        try:
            value = int(float(grade))
        except ValueError:
            if number == 1:  # a header line, as BEIR's qrels have
                continue
            raise BadRequest(f"{path}:{number}: grade {grade!r} is not a number") from None
        qrels.setdefault(qid, {})[doc] = value
    return qrels


def _lines(path: str | Path) -> list[str]:
    p = Path(path)
    raw = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
    return raw.decode("utf-8-sig").splitlines()  # splitlines drops the \r of CRLF files


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(path) if line.strip()]


@dataclass
class EvalReport:
    """Overall metrics, per-query metrics, and the unjudged queries' top results."""

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    unjudged: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, metric_names: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {name: round(self.metrics[name], 4) for name in metric_names}
        out["queries"] = {
            qid: {name: round(v, 4) for name, v in scores.items()}
            for qid, scores in sorted(self.per_query.items())
        }
        if self.unjudged:
            out["unjudged"] = {
                qid: [{"id": d, "score": round(s, 6)} for d, s in hits]
                for qid, hits in sorted(self.unjudged.items())
            }
        out.update(self.extra)
        return out


def score_run(
    qrels: dict[str, dict[str, int]],
    run: dict[str, dict[str, float]],
    metrics: Sequence[str] = SEARCH_METRICS,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """ranx over the judged queries: (mean metrics, per-query metrics). ranx's numba
    kernels warn about a cast of theirs the first time they compile (a cold cache
    printed a NumbaTypeSafetyWarning into `eval`'s output): not ours to act on."""
    import warnings

    from numba.core.errors import NumbaTypeSafetyWarning
    from ranx import Qrels, Run, evaluate

    judged = {q: docs for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    # ranx needs every judged query in the run; a query with no results scores 0.
    full_run = {q: (run.get(q) or {"__none__": 0.0}) for q in judged}
    ranx_qrels = Qrels(judged)
    ranx_run = Run(full_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaTypeSafetyWarning)
        means = evaluate(ranx_qrels, ranx_run, list(metrics), make_comparable=True)
    if isinstance(means, float):
        means = {metrics[0]: means}
    per_query: dict[str, dict[str, float]] = {q: {} for q in judged}
    for name in metrics:
        scores = ranx_run.scores.get(name, {})
        for q in judged:
            per_query[q][name] = float(scores.get(q, 0.0))
    return {k: float(v) for k, v in means.items()}, per_query


def evaluate_search(
    search: Callable[[str], list[tuple[str, float]]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    metrics: Sequence[str] = SEARCH_METRICS,
    progress: bool = False,
) -> EvalReport:
    """Run every query through `search` (text -> [(doc id, score)]) and score the run."""
    run: dict[str, dict[str, float]] = {}
    unjudged: dict[str, list[tuple[str, float]]] = {}
    items: Any = list(queries.items())
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="queries", unit="query")
    for qid, text in items:
        hits = search(text)
        if qid in qrels:
            run[qid] = _dedupe(hits)
        else:
            unjudged[qid] = hits[:3]
    means, per_query = score_run(qrels, run, metrics)
    return EvalReport(means, per_query, unjudged)


def _dedupe(hits: list[tuple[str, float]]) -> dict[str, float]:
    # ranx breaks ties by doc id; nudge tied scores so the engine's order is kept.
    out: dict[str, float] = {}
    n = len(hits)
    for rank, (doc, _) in enumerate(hits):
        out.setdefault(doc, float(n - rank))
    return out


def write_tsv(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter="\t").writerows(rows)


def evaluate_engine(
    engine: Any,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    mode: str = "hybrid",
    k: int = 10,
    metrics: Sequence[str] = SEARCH_METRICS,
    progress: bool = False,
) -> EvalReport:
    """Score an engine's cluster search on judged queries."""

    def search(text: str) -> list[tuple[str, float]]:
        return [(h.id, h.score) for h in engine.search(text, k=k, mode=mode)]

    return evaluate_search(search, queries, qrels, metrics, progress)


def evaluate_collapse(
    engine: Any,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    families: dict[str, str],
    mode: str = "hybrid",
    k: int = 10,
) -> dict[str, Any]:
    """Story collapse on judged queries: how many different stories (families; a
    cluster outside every family is its own story) the top k shows with and without
    collapse, and nDCG@k counting each story once at its best member's grade."""
    from searchengine.core.contract import Mode, SearchRequest

    def story(cid: str) -> str:
        return f"family:{families[cid]}" if cid in families else cid

    story_qrels: dict[str, dict[str, int]] = {}
    for qid, docs in qrels.items():
        graded: dict[str, int] = {}
        for doc, grade in docs.items():
            graded[story(doc)] = max(graded.get(story(doc), 0), grade)
        story_qrels[qid] = graded
    distinct: dict[str, list[int]] = {"plain": [], "collapsed": []}
    runs: dict[str, dict[str, dict[str, float]]] = {"plain": {}, "collapsed": {}}
    for qid, text in queries.items():
        if qid not in qrels:
            continue
        for name, collapse in (("plain", False), ("collapsed", True)):
            hits = engine.search(SearchRequest(text, k=k, mode=Mode(mode), collapse=collapse))
            stories = [story(h.cluster_id) for h in hits]
            distinct[name].append(len(set(stories)))
            runs[name][qid] = _dedupe([(s, 0.0) for s in stories])
    out: dict[str, Any] = {}
    for name in ("plain", "collapsed"):
        means, _ = score_run(story_qrels, runs[name], [f"ndcg@{k}"])
        counts = distinct[name]
        out[name] = {
            f"distinct_stories@{k}": round(sum(counts) / max(1, len(counts)), 2),
            f"story_ndcg@{k}": round(means[f"ndcg@{k}"], 4),
        }
    return out


RELATED_METRICS = ("ndcg@10", "map", "precision@1")


def read_families(path: str | Path) -> dict[str, str]:
    """`cluster_id<TAB>family` lines."""
    out: dict[str, str] = {}
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise BadRequest(f"{path}:{number}: expected 'cluster_id<TAB>family'")
        out[parts[0].strip()] = parts[1].strip()
    return out


def families_from_field(engine: Any, field_name: str) -> dict[str, str]:
    """Families from a field of the indexed records (e.g. JSONL documents' `story_id`)."""
    out: dict[str, str] = {}
    ids = engine.store.cluster_ids()
    for cid, cluster in engine.store.get_clusters(ids).items():
        value = cluster.extra.get(field_name)
        if value is not None and str(value) != "":
            out[cid] = str(value)
    if not out:
        raise BadRequest(f"no indexed record has a {field_name!r} field")
    return out


def load_families(engine: Any, spec: str) -> dict[str, str]:
    """Families from a `cluster_id<TAB>family` file, or else from that field of the
    indexed records (e.g. `story_id`)."""
    return read_families(spec) if Path(spec).is_file() else families_from_field(engine, spec)


def _groups(families: dict[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for cid, fam in sorted(families.items()):
        groups.setdefault(fam, []).append(cid)
    return groups


def evaluate_related(
    engine: Any, families: dict[str, str], k: int = 10, progress: bool = False
) -> EvalReport:
    """Related-cluster retrieval: each member of a family of two or more asks for its
    related clusters; the other members are the relevant ones. Also the `same_story`
    flag's precision and recall over the returned pairs."""
    groups = _groups(families)
    known = set(engine.store.cluster_ids())
    queries = [c for c in families if c in known and len(groups[families[c]]) >= 2]
    qrels = {q: {o: 1 for o in groups[families[q]] if o != q and o in known} for q in queries}
    run: dict[str, dict[str, float]] = {}
    flagged = flagged_right = 0
    items: Any = queries
    if progress:
        from tqdm import tqdm

        items = tqdm(queries, desc="related", unit="query")
    for q in items:
        results = engine.related(q, k=max(k, 10))
        run[q] = _dedupe([(r.id, r.score) for r in results])
        for r in results:
            if r.same_story:
                flagged += 1
                flagged_right += r.id in qrels[q]
    true_pairs = sum(len(v) for v in qrels.values())
    means, per_query = score_run(qrels, run, RELATED_METRICS)
    metrics = {"ndcg@10": means["ndcg@10"], "map": means["map"], "p@1": means["precision@1"]}
    per_q = {
        q: {"ndcg@10": v["ndcg@10"], "map": v["map"], "p@1": v["precision@1"]}
        for q, v in per_query.items()
    }
    report = EvalReport(metrics, per_q)
    report.extra["same_story"] = {
        "threshold": engine.stories.similarity_params.same_story,
        "per_day": engine.stories.similarity_params.same_story_per_day,
        "precision": round(flagged_right / flagged, 4) if flagged else None,
        "recall": round(flagged_right / true_pairs, 4) if true_pairs else None,
    }
    return report


def evaluate_recommend(engine: Any, families: dict[str, str], k: int = 5) -> dict[str, Any]:
    """Leave one out: for each family of three or more, like all members but one;
    how often is the held-out member among the top k?"""
    groups = _groups(families)
    known = set(engine.store.cluster_ids())
    trials = hits = 0
    for members in groups.values():
        members = [m for m in members if m in known]
        if len(members) < 3:
            continue
        for held in members:
            liked = [m for m in members if m != held]
            got = [r.id for r in engine.recommend(liked=liked, k=k)]
            trials += 1
            hits += held in got
    return {f"recommend_hit@{k}": round(hits / trials, 4) if trials else None, "trials": trials}


BEIR_METRICS = ("ndcg@10", "recall@100")


@dataclass
class BeirData:
    """A BEIR folder: the corpus as generic documents, the test queries and qrels."""

    documents: list[Any]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _first_existing(folder: Path, names: Sequence[str]) -> Path:
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise InputNotFound(f"{folder} has none of {', '.join(names)}")


def read_beir(folder: str | Path, split: str = "test") -> BeirData:
    """`corpus.jsonl[.gz]`, `queries.jsonl[.gz]` and `qrels/<split>.tsv` (CRLF or LF)."""
    from searchengine.ingest.parse import record_to_cluster

    root = Path(folder)
    corpus_path = _first_existing(root, ["corpus.jsonl", "corpus.jsonl.gz"])
    queries_path = _first_existing(root, ["queries.jsonl", "queries.jsonl.gz"])
    qrels = read_qrels(_first_existing(root / "qrels", [f"{split}.tsv"]))
    documents = []
    for number, record in enumerate(read_jsonl(corpus_path), 1):
        record = {
            "id": record.get("_id", record.get("id")),
            "title": record.get("title", ""),
            "text": record.get("text", ""),
        }
        documents.append(record_to_cluster(record, str(corpus_path), number))
    queries = {}
    for record in read_jsonl(queries_path):
        qid = str(record.get("_id", record.get("id")))
        if qid in qrels:
            queries[qid] = str(record["text"])
    return BeirData(documents, queries, qrels)
