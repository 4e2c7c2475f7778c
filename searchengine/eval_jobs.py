"""The `eval` command's jobs: index what it names (a temporary index unless one is
given), then score search against judged queries, a BEIR folder, or related stories
and recommendations against story families (the scoring is `evaluate.py`'s)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchengine.errors import BadRequest, ExtraMissing
from searchengine.evaluate import (
    BEIR_METRICS,
    SEARCH_METRICS,
    evaluate_collapse,
    evaluate_engine,
    evaluate_recommend,
    evaluate_related,
    load_families,
    read_beir,
    read_families,
    read_qrels,
    read_queries,
)


@dataclass
class EvalJob:
    """What `searchengine eval` was asked to do."""

    digests: list[str]
    index: Path | str | None = None  # a folder or a Milvus URI
    model: str | None = None
    queries: str | None = None
    qrels: str | None = None
    mode: str = "hybrid"
    beir: str | None = None
    families: str | None = None
    progress: bool = False
    runtime: str | None = None
    precision: str | None = None
    sample: int | None = None  # only the first N judged queries

    def sampled(
        self, queries: dict[str, str], qrels: dict[str, dict[str, int]]
    ) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        """The queries and judgments to score: all of them, or with `sample` the first
        N judged queries and their judgments only."""
        if self.sample is None:
            return queries, qrels
        if self.sample < 1:
            raise BadRequest("--sample must be a positive number of queries")
        judged = [q for q in queries if q in qrels][: self.sample]
        return {q: queries[q] for q in judged}, {q: qrels[q] for q in judged}

    def open(self, where: Path | str, create: bool) -> Any:
        from searchengine.engine import Engine

        return Engine.open(
            where, model=self.model, create=create, runtime=self.runtime, precision=self.precision
        )


@dataclass
class EvalOutcome:
    """An evaluation's JSON document, its summary lines for a person, and any
    indexing errors met on the way."""

    data: dict[str, Any]
    lines: list[str]
    errors: list[Any] = field(default_factory=list)


def require_ranx() -> None:
    """`eval` scores with ranx, which `make run` does not install (it and what it pulls
    -- numba, llvmlite, pandas, seaborn -- are most of a runtime venv's weight): a
    missing ranx is one line saying how to add it, before any index is built."""
    import importlib.util

    if importlib.util.find_spec("ranx") is None:
        raise ExtraMissing(
            "eval scores with ranx, an extra: from the checkout, `.venv/bin/pip install -e "
            "'.[eval]'` (`make test` installs it)"
        )


def run_eval(job: EvalJob) -> EvalOutcome:
    """Index what the job names (a temporary index unless `job.index`), then score
    search (queries + qrels), BEIR, or related stories and recommendations (families)."""
    import tempfile

    require_ranx()

    if job.beir:
        return _run_beir(job)
    if not job.families and not (job.queries and job.qrels):
        raise BadRequest("give --queries and --qrels, --families, or --beir")
    with tempfile.TemporaryDirectory(prefix="searchengine-eval-") as tmp:
        errors: list[Any] = []
        if job.index and job.digests:  # index them there (kept for the next run)
            engine = job.open(job.index, create=True)
            errors = engine.add_paths(job.digests, progress=job.progress).errors
        elif job.index:
            engine = job.open(job.index, create=False)
        elif not job.digests:
            raise BadRequest("give DIGESTS or --index")
        else:
            engine = job.open(Path(tmp) / "index", create=True)
            errors = engine.add_paths(job.digests, progress=job.progress).errors
        with engine:
            if job.families and not (job.queries and job.qrels):
                outcome = _run_families(engine, job)
                outcome.errors = errors
                return outcome
            queries, qrels = job.sampled(
                read_queries(job.queries or ""), read_qrels(job.qrels or "")
            )
            report = evaluate_engine(engine, queries, qrels, mode=job.mode)
            if job.families:  # judged queries and families: what story collapse does
                families = read_families(job.families)
                report.extra["collapse"] = evaluate_collapse(
                    engine, queries, qrels, families, job.mode
                )
    lines = [
        f"mode {job.mode}: {len(report.per_query)} judged queries, {len(report.unjudged)} unjudged",
        "  ".join(f"{m} {report.metrics[m]:.4f}" for m in SEARCH_METRICS),
    ]
    for name, row in report.extra.get("collapse", {}).items():
        lines.append(f"{name}: " + "  ".join(f"{m} {v}" for m, v in row.items()))
    return EvalOutcome({"mode": job.mode, **report.to_json(SEARCH_METRICS)}, lines, errors)


def _run_beir(job: EvalJob) -> EvalOutcome:
    """BEIR: index the corpus as generic documents (or reuse job.index), score the test queries."""
    import tempfile

    data = read_beir(job.beir or "")
    with tempfile.TemporaryDirectory(prefix="searchengine-beir-") as tmp:
        where = job.index if job.index else Path(tmp) / "index"
        with job.open(where, create=True) as engine:
            added = engine.add(data.documents, progress=job.progress)
            queries, qrels = job.sampled(data.queries, data.qrels)
            report = evaluate_engine(
                engine,
                queries,
                qrels,
                mode=job.mode,
                k=100,
                metrics=BEIR_METRICS,
                progress=job.progress,
            )
            stats = engine.stats()
    report.extra.update(
        documents=len(data.documents),
        passages=stats["passages"],
        passages_encoded=added.passages_encoded,
        passages_per_second=round(added.passages_per_second, 1),
    )
    lines = [
        f"BEIR {job.beir}: {len(data.documents)} documents ({stats['passages']} passages), "
        f"{len(report.per_query)} queries, mode {job.mode}",
        "  ".join(f"{m} {report.metrics[m]:.4f}" for m in BEIR_METRICS),
    ]
    return EvalOutcome({"mode": job.mode, **report.to_json(BEIR_METRICS)}, lines)


def _run_families(engine: Any, job: EvalJob) -> EvalOutcome:
    families = load_families(engine, job.families or "")
    report = evaluate_related(engine, families, progress=job.progress)
    report.extra.update(evaluate_recommend(engine, families))
    metrics = ("ndcg@10", "map", "p@1")
    same = report.extra["same_story"]
    lines = [
        f"related: {len(report.per_query)} queries",
        "  ".join(f"{m} {report.metrics[m]:.4f}" for m in metrics),
        f"same_story (threshold {same['threshold']} + {same['per_day']}/day apart): "
        f"precision {same['precision']}, "
        f"recall {same['recall']}",
        f"recommend_hit@5 {report.extra['recommend_hit@5']} over {report.extra['trials']} trials",
    ]
    return EvalOutcome(report.to_json(metrics), lines)
