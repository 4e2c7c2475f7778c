"""What parsing a file gives: the good clusters and the errors, each with its line."""

from __future__ import annotations

from dataclasses import dataclass, field

from searchengine.core.documents import Cluster
from searchengine.errors import ParseError


@dataclass
class ParseResult:
    """What one input yielded: the good clusters and an error for each bad one."""

    clusters: list[Cluster] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


def _check_unique_ids(result: ParseResult, source: str) -> None:
    seen: set[str] = set()
    kept: list[Cluster] = []
    for cluster in result.clusters:
        if cluster.id in seen:
            line = int((cluster.origin or ":0").rsplit(":", 1)[1])
            result.errors.append(ParseError(source, line, f"duplicate cluster id {cluster.id}"))
            continue
        seen.add(cluster.id)
        kept.append(cluster)
    result.clusters = kept
