"""The filter rule, written once: what a stored value is compared by, and the same
rule compiled three ways — an SQL condition (the embedded store), a Milvus boolean
expression (the Milvus store) and a Python predicate (alerts, which judge clusters as
they arrive, before any store query).

It used to be written in each of those three places, and the copies drifted apart:
a JSON record's `"sentiment": "Positive"` was stored as written, so `sentiment=positive`
found nothing on the embedded index while the facets offered `Positive: 1`, and Milvus
lower-cased article sentiments but not cluster sentiments. Now every writer stores
`sentiment_key`/`host_key`/`fold` values and every compiler compares against the same
keys (`tests/test_filters.py` checks the three agree on random clusters and filters).
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from searchengine.core.contract import Filters
from searchengine.core.documents import Cluster, fold


@functools.cache
def _suffixes() -> Any:
    """The Public Suffix List (the copy the package ships: nothing is fetched)."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@functools.lru_cache(maxsize=65536)
def host_key(host: str) -> str:
    """How an outlet is stored and compared: its registered domain, lower-case.
    `www.bbc.co.uk`, `https://BBC.co.uk/news` and `bbc.co.uk` are one outlet, and so
    are `edition.cnn.com` and `cnn.com`: the UCI headlines store
    `www.huffingtonpost.com`, and `--source huffingtonpost.com` found nothing. A
    name with no registered domain (`bbc`, `localhost`) is kept as typed, lower-case.
    """
    text = host.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1]  # user:pass@
    if text.count(":") == 1:  # a port (an IPv6 address has several colons)
        text = text.split(":", 1)[0]
    text = text.strip(".")
    if not text:
        return host.strip().lower()
    try:
        ipaddress.ip_address(text.strip("[]"))
        return text  # an address has no registered domain
    except ValueError:
        return str(_suffixes().privatesuffix(text) or text)


def sentiment_key(value: str | None) -> str | None:
    """How a sentiment is stored and compared: lower-case, None when blank."""
    if value is None:
        return None
    value = str(value).strip().lower()
    return value or None


def cluster_sentiment(cluster: Cluster) -> str | None:
    """The prevailing sentiment of a cluster's articles ('mixed' on a tie)."""
    counts = Counter(k for a in cluster.articles if (k := sentiment_key(a.sentiment)))
    if not counts:
        return None
    (top, n), *rest = counts.most_common()
    return "mixed" if rest and rest[0][1] == n else top


@dataclass(frozen=True)
class ClusterFacts:
    """What the filters test of one cluster, in stored form (the keys above)."""

    date: str | None
    hosts: frozenset[str]
    entity_keys: frozenset[str]
    sentiment: str | None
    article_sentiments: frozenset[str]
    has_articles: bool

    @classmethod
    def of(cls, cluster: Cluster) -> ClusterFacts:
        return cls(
            date=cluster.date or None,
            hosts=frozenset(host_key(h) for h in cluster.sources),
            entity_keys=frozenset(fold(n) for a in cluster.articles for n in a.entities),
            sentiment=cluster_sentiment(cluster),
            article_sentiments=frozenset(
                k for a in cluster.articles if (k := sentiment_key(a.sentiment))
            ),
            has_articles=bool(cluster.articles),
        )


def _wanted(filters: Filters) -> tuple[list[str], list[str], str | None]:
    """The filter's hosts, entity keys and sentiment in stored form."""
    hosts = sorted({host_key(h) for h in filters.sources if host_key(h)})
    keys = [fold(e) for e in filters.entities]
    return hosts, keys, sentiment_key(filters.sentiment)


def matches(filters: Filters, facts: ClusterFacts) -> bool:
    """Whether a cluster passes `filters`: the Python form of the rule (alerts)."""
    hosts, keys, sentiment = _wanted(filters)
    if filters.date_from and not (facts.date and facts.date >= filters.date_from):
        return False
    if filters.date_to and not (facts.date and facts.date <= filters.date_to):
        return False
    if hosts and not facts.hosts & set(hosts):
        return False
    if any(k not in facts.entity_keys for k in keys):
        return False
    if filters.articles_only and not facts.has_articles:
        return False
    if sentiment:
        if filters.articles_only:
            return sentiment in facts.article_sentiments
        return facts.sentiment == sentiment
    return True


def to_sql(filters: Filters) -> tuple[str, list[object]]:
    """The rule as a WHERE clause over `passages p JOIN clusters c` (embedded store)."""
    hosts, keys, sentiment = _wanted(filters)
    where: list[str] = []
    args: list[object] = []
    if filters.date_from:
        where.append("c.date >= ?")
        args.append(filters.date_from)
    if filters.date_to:
        where.append("c.date <= ?")
        args.append(filters.date_to)
    if hosts:
        marks = ",".join("?" * len(hosts))
        where.append(f"c.id IN (SELECT cluster_id FROM sources WHERE host IN ({marks}))")
        args.extend(hosts)
    for key in keys:  # each named entity must be present (AND)
        where.append("c.id IN (SELECT cluster_id FROM entities WHERE key = ?)")
        args.append(key)
    if filters.articles_only:
        where.append("p.article_id IS NOT NULL")
    if sentiment:
        if filters.articles_only:
            where.append("p.article_id IN (SELECT id FROM articles WHERE sentiment = ?)")
        else:
            where.append("c.sentiment = ?")
        args.append(sentiment)
    return (" AND ".join(where) or "1"), args


def literal(value: str) -> str:
    """A string as a Milvus expression literal (JSON's escaping is Milvus')."""
    return json.dumps(value, ensure_ascii=False)


def to_milvus(filters: Filters, passages: bool) -> str:
    """The rule as a Milvus boolean expression, over the passages collection
    (`passages`) or the clusters collection ("" when nothing is filtered)."""
    hosts, keys, sentiment = _wanted(filters)
    out: list[str] = []
    if filters.date_from:
        out.append(f'date >= {literal(filters.date_from)} and date != ""')
    if filters.date_to:
        out.append(f'date <= {literal(filters.date_to)} and date != ""')
    if hosts:
        out.append(f"array_contains_any(sources, [{', '.join(map(literal, hosts))}])")
    for key in keys:
        out.append(f"array_contains(entity_keys, {literal(key)})")
    if filters.articles_only:
        out.append("is_article == true" if passages else "n_articles > 0")
    if sentiment:
        value = literal(sentiment)
        if filters.articles_only and passages:
            out.append(f"article_sentiment == {value}")
        elif filters.articles_only:
            out.append(f"array_contains(article_sentiments, {value})")
        else:
            out.append(f"sentiment == {value}")
    return " and ".join(out)


def stored_hosts(hosts: Iterable[str]) -> list[str]:
    """A cluster's hosts as stored, one each."""
    return sorted({host_key(h) for h in hosts if host_key(h)})
