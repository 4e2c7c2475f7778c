"""How the CLI prints answers for a person: hits with highlighted passages, related
lists, a story thread, a record, stats, an index run. `--json` skips all of this and
prints the response envelope itself."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from searchengine.core.documents import Article, Cluster
from searchengine.core.hits import Hit
from searchengine.ingest.indexer import IndexRun
from searchengine.stories.related import RelatedStory


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


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


def mark(text: str, spans: list[tuple[int, int]]) -> str:
    """The query's words in bold yellow on a terminal; the text as it is when piped
    or with NO_COLOR (https://no-color.org) — never Markdown a terminal shows raw."""
    if not (sys.stdout.isatty() and "NO_COLOR" not in os.environ):
        return text
    open_, close = "\033[1;33m", "\033[0m"
    out, last = [], 0
    for a, b in spans:
        out += [text[last:a], open_, text[a:b], close]
        last = b
    out.append(text[last:])
    return "".join(out)


def print_hits(hits: list[Hit]) -> None:
    if not hits:
        print("no results")
    for rank, hit in enumerate(hits, 1):
        if hit.weak and (rank == 1 or not hits[rank - 2].weak):
            print("-- weaker matches --\n")
        sources = ", ".join(hit.sources) or "-"
        extra = f" · {hit.publisher}" if hit.publisher else ""
        print(f"{rank:2}. {hit.id}  {hit.date or '----------'}  {hit.title}")
        fresh = f" · freshness {hit.freshness:.2f}" if hit.freshness is not None else ""
        print(f"    relevance {hit.relevance:.2f}{fresh} · sources: {sources}{extra}")
        for p in hit.passages:
            label = p.field.value.replace("_", " ")
            if p.field.value == "key_point":
                label = f"key point {p.position}"
            elif p.field.value == "article":
                label = f"article {p.article_id}"
            text, spans = snippet(p.text, p.highlights)
            print(f"    {label}: {mark(text, spans)}")
        if hit.more:
            print(f"    {len(hit.more)} more from this story:")
            for other in hit.more:
                print(f"      {other.date or '----------'}  {other.id}  {other.title}")
        print()


def print_facets(data: dict[str, Any]) -> None:
    hits = data["hits"]
    print(f"{hits} strong {'hit' if hits == 1 else 'hits'}")
    for name, values in data["facets"].items():
        if not values:
            continue
        shown = values if name != "dates" else _by_month(values)
        print(f"\n{name}:")
        for v in shown:
            print(f"  {v['count']:4}  {v['value']}")


def _by_month(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    months: dict[str, int] = {}
    for d in days:
        months[d["value"][:7]] = months.get(d["value"][:7], 0) + d["count"]
    return [{"value": m, "count": n} for m, n in months.items()]


def print_related(stories: list[RelatedStory], header: str) -> None:
    if not stories:
        print("no results")
        return
    print(header)
    for rank, story in enumerate(stories, 1):
        pub = f" · {story.publisher}" if story.publisher else ""
        print(f"{rank:2}. {story.id}  {story.date or '----------'}  {story.title}")
        print(f"    score {story.score:.4f} · {story.label}{pub}")


def print_thread(stories: list[RelatedStory], asked: str) -> None:
    n = len(stories)
    print(f"story thread of {asked} ({n} cluster{'s' if n != 1 else ''}, by date):")
    for story in stories:
        star = "*" if story.id == asked else " "
        print(f" {star} {story.date or '----------'}  {story.id}  {story.title}")


def print_record(cluster: Cluster, article: Article | None) -> None:
    if article is not None:
        print(f"{article.id}  (in {cluster.id}: {cluster.title})")
        print(f"{article.title}" + (f"  — {article.publisher}" if article.publisher else ""))
        print(
            f"date: {cluster.date}  tone: {article.tone}  sentiment: {article.sentiment}  "
            f"intent: {article.intent}"
        )
        print(f"entities: {', '.join(article.entities) or '-'}\n")
        print(article.summary)
        return
    print(f"{cluster.id}  {cluster.date}  {cluster.title}")
    print("sources: " + (" | ".join(f"{h}: {n}" for h, n in cluster.sources.items()) or "-"))
    if cluster.origin:
        print(f"from: {cluster.origin}")
    print(f"\n{cluster.summary}\n")
    if cluster.key_points:
        print("Key points")
        for point in cluster.key_points:
            print(f"  • {point}")
        print()
    if cluster.articles:
        print(f"Articles ({len(cluster.articles)})")
        for a in cluster.articles:
            pub = f" — {a.publisher}" if a.publisher else ""
            print(f"  {a.id}  {a.title}{pub}  [{a.sentiment or '-'}]")


def print_table(data: dict[str, Any]) -> None:
    width = max(map(len, data))
    for key, value in data.items():
        print(f"{key:<{width}}  {value}")


def print_index_run(run: IndexRun, where: str) -> None:
    for err in run.errors:
        print(f"error: {err} (cluster skipped)", file=sys.stderr)
    report = run.report
    errors = len(run.errors)
    skipped = f"; {errors} skipped with errors (above)" if errors else ""
    if not report.changed and not report.unchanged and errors:
        print(f"nothing indexed: {errors} error(s) in {run.files} file(s) (above)")
    elif report.changed:
        print(
            f"indexed {run.files} file(s) into {where}: {len(report.added)} added, "
            f"{len(report.replaced)} replaced, {len(report.unchanged)} unchanged; "
            f"{report.passages_encoded} passages encoded at "
            f"{report.passages_per_second:.1f} passages/s "
            f"({report.passages_reused} reused), {report.total_seconds:.1f}s in all{skipped}"
        )
        if report.alerts:
            print(f"{len(report.alerts)} alert(s) from saved searches: `searchengine alerts`")
    else:
        print(
            f"nothing to do: all {len(report.unchanged)} cluster(s) in {run.files} file(s) "
            f"are already indexed and unchanged in {where}{skipped}"
        )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def print_coverage(data: dict[str, Any]) -> None:
    print(f"{data['id']}  {data['date'] or '----------'}  {data['title']}")
    sources = ", ".join(f"{s['outlet']} ({s['count']})" for s in data["sources"]) or "-"
    print(f"sources: {sources}")
    totals = data["totals"]
    print(
        f"articles: {len(data['articles'])} · sentiment {_counts(totals['sentiment'])} · "
        f"tone {_counts(totals['tone'])} · intent {_counts(totals['intent'])}"
    )
    print("\nby publisher:")
    for p in data["publishers"]:
        print(
            f"  {p['publisher']:<28} {p['articles']:2} article(s) · "
            f"sentiment {_counts(p['sentiment'])} · tone {_counts(p['tone'])}"
        )
    print("\narticles:")
    for a in data["articles"]:
        print(
            f"  {a['id']}  {a['publisher'] or '-'}: {a['title']}\n"
            f"      tone {a['tone'] or '-'} · sentiment {a['sentiment'] or '-'} · "
            f"intent {a['intent'] or '-'}"
        )
    print(f"\nthread ({len(data['thread'])} day(s)):")
    for day in data["thread"]:
        print(
            f"  {day['date'] or '----------'}  {len(day['clusters'])} cluster(s) · "
            f"{day['outlets']} outlet(s) · {day['articles']} article(s) · "
            f"sentiment {_counts(day['sentiment'])}"
        )


def print_entity(data: dict[str, Any]) -> None:
    spellings = ", ".join(s for s in data["spellings"] if s != data["entity"])
    also = f" (also: {spellings})" if spellings else ""
    print(f"{data['entity']}{also}")
    if "asked" in data:  # found as part of a longer name
        others = "; other names with it: " + ", ".join(data["also"]) if data["also"] else ""
        print(f"(no story names {data['asked']!r} alone: the most widely named with it{others})")
    print(
        f"{data['stories_total']} stories, {data['articles_total']} articles, "
        f"{data['first'] or '?'} to {data['last'] or '?'}"
    )
    print(f"\nper {data['period']}:")
    for p in data["timeline"]:
        print(
            f"  {p['period']:<10} {p['articles']:3} article(s) · sentiment {_counts(p['sentiment'])}"
        )
    if data["companions"]:
        print("\nnamed with it:")
        for c in data["companions"]:
            print(f"  {c['stories']:3}  {c['entity']}")
    print("\nstories:")
    for st in data["stories"]:
        print(f"  {st['date'] or '----------'}  {st['id']}  {st['title']}")
