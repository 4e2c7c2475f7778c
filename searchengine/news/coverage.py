"""Who covered a story and how, and what happened with a name over time.

Both read only what the digests carry and general engines throw away: each
article's outlet, tone, sentiment and intent, each cluster's source counts and
entities, and the story threads of related stories.

- **Coverage** of a cluster: its outlets (the `Sources` line: host and count),
  its articles with their publisher, tone, sentiment and intent, the spread of
  each per publisher, and along its thread (`Stories.thread`) how many sources
  and articles each day had and how their sentiment moved.
- **An entity's timeline**: the stories naming it (accent- and case-folded, as
  the entity filter matches), the entities named most often with it, and the
  sentiment of the articles that name it, per month (or per day over a span of
  `EntityParams.daily_span_days` or less).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import Any

from searchengine.core.documents import Article, Cluster, fold

LABELS = ("tone", "sentiment", "intent")


@dataclass(frozen=True)
class EntityParams:
    """How an entity's timeline is cut.

    `stories`: one page of stories, newest first (the counts cover them all).
    `companions`: the entities named with it, commonest first — a short list a
    page can show as links. `daily_span_days`: a timeline spanning two months or
    less is drawn per day (as the page's date histogram is), a longer one per month."""

    stories: int = 100
    companions: int = 15
    daily_span_days: int = 62


def _spread(articles: Iterable[Article]) -> dict[str, dict[str, int]]:
    """Counts of each tone, sentiment and intent among these articles."""
    out: dict[str, Counter[str]] = {name: Counter() for name in LABELS}
    for article in articles:
        for name in LABELS:
            value = getattr(article, name)
            if value:
                out[name][value.lower()] += 1
    return {name: dict(sorted(counts.items())) for name, counts in out.items()}


def _article(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "publisher": article.publisher,
        "tone": article.tone,
        "sentiment": article.sentiment,
        "intent": article.intent,
    }


def cluster_coverage(cluster: Cluster) -> dict[str, Any]:
    """One cluster's coverage: outlets, articles, and the spread per publisher."""
    by_publisher: dict[str, list[Article]] = {}
    for article in cluster.articles:
        by_publisher.setdefault(article.publisher or "unknown", []).append(article)
    return {
        "id": cluster.id,
        "date": cluster.date,
        "title": cluster.title,
        "sources": [
            {"outlet": host, "count": n}
            for host, n in sorted(cluster.sources.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "articles": [_article(a) for a in cluster.articles],
        "publishers": [
            {"publisher": name, "articles": len(items), **_spread(items)}
            for name, items in sorted(by_publisher.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "totals": _spread(cluster.articles),
    }


def thread_coverage(clusters: Sequence[Cluster]) -> list[dict[str, Any]]:
    """Per day along a thread: its clusters, sources, articles and their sentiment."""
    days: dict[str | None, list[Cluster]] = {}
    for cluster in sorted(clusters, key=lambda c: (c.date or "", c.id)):
        days.setdefault(cluster.date, []).append(cluster)
    return [
        {
            "date": day,
            "clusters": [c.id for c in group],
            "sources": sum(sum(c.sources.values()) for c in group),
            "outlets": len({h.lower() for c in group for h in c.sources}),
            "articles": sum(len(c.articles) for c in group),
            "sentiment": _spread(a for c in group for a in c.articles)["sentiment"],
        }
        for day, group in days.items()
    ]


def coverage(cluster: Cluster, thread: Sequence[Cluster]) -> dict[str, Any]:
    """A cluster's coverage and its thread's, day by day (the cluster included)."""
    return {**cluster_coverage(cluster), "thread": thread_coverage(thread)}


def _period(day: str, daily: bool) -> str:
    return day if daily else day[:7]


def entity_timeline(name: str, clusters: Sequence[Cluster], params: EntityParams) -> dict[str, Any]:
    """An entity's stories, companions and sentiment over time, from the clusters that
    name it."""
    key = fold(name)
    spellings: Counter[str] = Counter()
    companions: Counter[str] = Counter()
    companion_names: dict[str, str] = {}
    mentions: list[tuple[str | None, Article]] = []
    stories = []
    for cluster in sorted(clusters, key=lambda c: (c.date or "", c.id), reverse=True):
        naming = [a for a in cluster.articles if any(fold(e) == key for e in a.entities)]
        if not naming:
            continue
        for article in naming:
            mentions.append((cluster.date, article))
            spellings.update(e for e in article.entities if fold(e) == key)
        others = {fold(e): e for a in cluster.articles for e in a.entities if fold(e) != key}
        for other, spelling in others.items():
            companions[other] += 1
            companion_names.setdefault(other, spelling)
        stories.append(
            {
                "id": cluster.id,
                "date": cluster.date,
                "title": cluster.title,
                "articles": len(naming),
                "sentiment": _spread(naming)["sentiment"],
            }
        )
    dates = sorted(d for d, _ in mentions if d)
    daily = (
        bool(dates)
        and (Date.fromisoformat(dates[-1]) - Date.fromisoformat(dates[0])).days
        <= params.daily_span_days
    )
    periods: dict[str, list[Article]] = {}
    for day, article in mentions:
        periods.setdefault(_period(day, daily) if day else "undated", []).append(article)
    return {
        "entity": spellings.most_common(1)[0][0] if spellings else name,
        "key": key,
        "spellings": sorted(spellings),
        "stories_total": len(stories),
        "articles_total": len(mentions),
        "first": dates[0] if dates else None,
        "last": dates[-1] if dates else None,
        "period": "day" if daily else "month",
        "timeline": [
            {"period": p, "articles": len(items), **_spread(items)}
            for p, items in sorted(periods.items(), key=lambda kv: (kv[0] == "undated", kv[0]))
        ],
        "companions": [
            {"entity": companion_names[k], "stories": n}
            for k, n in sorted(companions.items(), key=lambda kv: (-kv[1], kv[0]))[
                : params.companions
            ]
        ],
        "stories": stories[: params.stories],
    }
