"""Result records -> plain JSON-able dicts, shared by the CLI's `--json` and the HTTP API,
so both answer with the same fields."""

from __future__ import annotations

from typing import Any

from .documents import Article, Cluster
from .errors import BadRequest
from .indexer import AddReport
from .parse import ParseError, parse_date
from .related import RelatedStory
from .search import Hit, MatchedPassage


def passage_to_dict(p: MatchedPassage) -> dict[str, Any]:
    return {
        "field": p.field.value,
        "position": p.position,
        "article_id": p.article_id,
        "text": p.text,
        "score": p.score,
        "highlights": [list(span) for span in p.highlights],
    }


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": hit.id,
        "kind": hit.kind.value.rstrip("s"),
        "cluster_id": hit.cluster_id,
        "date": hit.date,
        "title": hit.title,
        "sources": hit.sources,
        "score": hit.score,
        "passages": [passage_to_dict(p) for p in hit.passages],
    }
    if hit.publisher is not None:
        out["publisher"] = hit.publisher
    return out


def related_to_dict(story: RelatedStory) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": story.id,
        "cluster_id": story.cluster_id,
        "date": story.date,
        "title": story.title,
        "sources": story.sources,
        "score": story.score,
        "same_story": story.same_story,
    }
    if story.publisher is not None:
        out["publisher"] = story.publisher
    return out


def parse_liked(values: list[str]) -> list[tuple[str, float]]:
    """`ID` or `ID:WEIGHT` -> (id, weight)."""
    out = []
    for value in values:
        item, sep, weight = value.rpartition(":")
        if sep and item and _is_number(weight):
            out.append((item, float(weight)))
        else:
            out.append((value, 1.0))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def cluster_to_dict(cluster: Cluster) -> dict[str, Any]:
    data = cluster.to_dict()
    data["entities"] = cluster.entities
    return data


def article_to_dict(article: Article, cluster: Cluster) -> dict[str, Any]:
    data = dict(article.__dict__)
    data.update(cluster_id=cluster.id, cluster_title=cluster.title, date=cluster.date)
    return data


def parse_error_to_dict(err: ParseError) -> dict[str, Any]:
    return {"source": err.source, "line": err.line, "reason": err.reason}


def add_report_to_dict(report: AddReport) -> dict[str, Any]:
    return {
        "added": report.added,
        "replaced": report.replaced,
        "unchanged": report.unchanged,
        "passages_encoded": report.passages_encoded,
        "passages_reused": report.passages_reused,
        "passages_per_second": round(report.passages_per_second, 1),
        "seconds": round(report.total_seconds, 3),
    }


def iso_date(value: str | None, name: str) -> str | None:
    """A user's date (ISO or day-first) -> ISO, or BadRequest naming the parameter."""
    if value is None or value == "":
        return None
    try:
        return parse_date(value).isoformat()
    except ValueError:
        raise BadRequest(f"{name}: bad date {value!r}; use YYYY-MM-DD or DD-MM-YYYY") from None


def snippet(
    text: str, spans: list[tuple[int, int]], width: int = 240
) -> tuple[str, list[tuple[int, int]]]:
    """A window of `text` around the first highlight, with spans moved to match."""
    if len(text) <= width:
        return text, spans
    start = 0
    if spans:
        start = max(0, spans[0][0] - width // 4)
        space = text.rfind(" ", 0, start)
        start = space + 1 if start and space != -1 else start
    end = min(len(text), start + width)
    space = text.rfind(" ", start, end)
    if end < len(text) and space > start:
        end = space
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    moved = [(a + shift, b + shift) for a, b in spans if a >= start and b <= end]
    return prefix + text[start:end] + suffix, moved
