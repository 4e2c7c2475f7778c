"""The CLI's reading commands: search, facets, related, similar, thread, coverage,
entity, recommend, show and stats. Each builds the request record the HTTP API
builds for the same question and makes one engine call."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from searchengine.cli.options import JSON, MODE, K, Place, answer, filters, place, show
from searchengine.core.contract import DEFAULT_DIVERSITY, Liked, Mode, Sort, Strategy
from searchengine.errors import EXIT_OK
from searchengine.query.relevance import RelevanceParams

if TYPE_CHECKING:
    from searchengine.core.contract import Filters

ARTICLES = click.option("--articles", is_flag=True, help="rank articles instead of clusters")


@click.command(
    help="Ranked clusters with the passages that matched, query terms highlighted. QUERY: "
    'keywords or a question; "quoted phrases" must appear, -word or NOT word excludes, OR '
    """joins quoted alternatives: searchengine search '"peace plan" -Gaza'."""
)
@click.argument("query")
@place(model=True)
@K
@MODE
@filters(entity_and_sentiment=True)
@ARTICLES
@click.option(
    "--min-relevance",
    type=float,
    metavar="P",
    help="drop results whose relevance (0-1, the chance a reader finds it relevant) is "
    f"under P; by default those under {RelevanceParams().cutoff:g} are listed apart as "
    "weaker matches",
)
@click.option(
    "--half-life-days",
    type=float,
    metavar="N",
    help="favour fresh stories: relevance x 0.5^(age/N), the age counted back from the "
    "newest story (or --fresh-from); undated stories count as the oldest",
)
@click.option(
    "--fresh-from", metavar="DATE", help="count ages back from DATE instead of the newest story"
)
@click.option(
    "--sort",
    type=click.Choice([s.value for s in Sort]),
    default=Sort.RELEVANCE.value,
    help="relevance (default), or date: strong matches newest first, weaker ones after",
)
@click.option(
    "--collapse",
    is_flag=True,
    help="one result per story: the same story's other hits listed under it",
)
@JSON
def search(
    query: str,
    place: Place,
    k: int,
    mode: str,
    filters: Filters,
    articles: bool,
    min_relevance: float | None,
    half_life_days: float | None,
    fresh_from: str | None,
    sort: str,
    collapse: bool,
    as_json: bool,
) -> int:
    """search clusters (or articles) with a natural-language query"""
    from searchengine.cli.output import print_hits
    from searchengine.core.contract import Kind, SearchRequest

    request = SearchRequest(
        query,
        k=k,
        mode=Mode(mode),
        kind=Kind.ARTICLES if articles else Kind.CLUSTERS,
        filters=filters,
        min_relevance=min_relevance,
        half_life_days=half_life_days,
        fresh_from=fresh_from,
        sort=Sort(sort),
        collapse=collapse,
    )
    hits = answer(place, as_json, request)
    if hits is not None:
        print_hits(hits)
    return EXIT_OK


@click.command(
    help="How many of a search's strong hits (relevance over the cut-off, among its first "
    "100) name each source and entity, have each prevailing sentiment and fall on each "
    "date: each value can be given back to `search` as a filter."
)
@click.argument("query")
@place(model=True)
@MODE
@filters(entity_and_sentiment=True)
@click.option("--articles", is_flag=True, help="count the clusters of article hits")
@JSON
def facets(
    query: str, place: Place, mode: str, filters: Filters, articles: bool, as_json: bool
) -> int:
    """count a search's strong hits by source, entity, sentiment and date"""
    from searchengine.cli.output import print_facets
    from searchengine.core.contract import Kind, SearchRequest

    request = SearchRequest(
        query, mode=Mode(mode), kind=Kind.ARTICLES if articles else Kind.CLUSTERS, filters=filters
    )
    with place.open() as engine:
        data = engine.queries.facets(request)
    show(as_json, data, print_facets)
    return EXIT_OK


@click.command(
    help="For a cluster id: other clusters about the same or a related story, across days. "
    "For an article id: other articles (those of its own cluster left out). Each result "
    "has a score and a same_story flag."
)
@click.argument("id")
@place()
@K
@filters()
@JSON
@click.option(
    "--include-own-cluster",
    is_flag=True,
    help="for an article: keep the other articles of its own cluster",
)
def related(
    id: str, place: Place, k: int, filters: Filters, as_json: bool, include_own_cluster: bool
) -> int:
    """clusters (or articles) about the same or a related story"""
    from searchengine.cli.output import print_related
    from searchengine.core.contract import RelatedRequest

    request = RelatedRequest(id, k=k, filters=filters, include_own_cluster=include_own_cluster)
    stories = answer(place, as_json, request)
    if stories is not None:
        print_related(stories, f"related to {id}:")
    return EXIT_OK


@click.command(
    help="Stories like this text: the clusters most similar to TEXT (a paragraph, or a few "
    "words; - reads it from stdin)."
)
@click.argument("text")
@place()
@K
@filters()
@JSON
def similar(text: str, place: Place, k: int, filters: Filters, as_json: bool) -> int:
    """clusters like a paragraph of text"""
    from searchengine.cli.output import print_related
    from searchengine.core.contract import SimilarRequest

    text = sys.stdin.read() if text == "-" else text  # `similar -`: from stdin
    stories = answer(place, as_json, SimilarRequest(text, k=k, filters=filters))
    if stories is not None:
        print_related(stories, "stories like this text:")
    return EXIT_OK


@click.command(
    help="Follow a story across days: the clusters linked to ID by same-story decisions, "
    "ordered by date."
)
@click.argument("id")
@place()
@JSON
def thread(id: str, place: Place, as_json: bool) -> int:
    """the chain of clusters of one developing story, by date"""
    from searchengine.cli.output import print_thread
    from searchengine.core.contract import ThreadRequest

    stories = answer(place, as_json, ThreadRequest(id))
    if stories is not None:
        print_thread(stories, id)
    return EXIT_OK


@click.command(
    help="A story's coverage: the outlets of its Sources line, each article's publisher, "
    "tone, sentiment and intent, their spread per publisher, and along the story's thread "
    "how sources, articles and sentiment moved day by day. ID: a cluster id (or an "
    "article id: its cluster)."
)
@click.argument("id")
@place()
@JSON
def coverage(id: str, place: Place, as_json: bool) -> int:
    """who covered a story and how, and along its thread"""
    from searchengine.cli.output import print_coverage

    with place.open() as engine:
        data = engine.news.coverage(id)
    show(as_json, data, print_coverage)
    return EXIT_OK


@click.command(
    help="An entity's timeline (accent- and case-insensitive, as --entity matches): its "
    "stories, newest first, the entities most often named with it, and the sentiment of "
    "the articles naming it per month (per day over two months or less). NAME: an "
    'entity, e.g. "Nicolas Maduro"; a part of one ("Maduro") finds the most widely named '
    "name that holds it, and lists the others."
)
@click.argument("name")
@place()
@JSON
def entity(name: str, place: Place, as_json: bool) -> int:
    """an entity's stories over time, who is named with it, and sentiment"""
    from searchengine.cli.output import print_entity

    with place.open() as engine:
        data = engine.news.entity(name)
    show(as_json, data, print_entity)
    return EXIT_OK


@click.command(
    help="Recommend clusters a reader has not seen. With no --liked: the most widely "
    "covered stories, diverse and fresh."
)
@place()
@click.option(
    "--liked",
    multiple=True,
    metavar="ID[:WEIGHT]...",
    help="liked cluster ids, optionally weighted",
)
@click.option("--disliked", multiple=True, metavar="ID...", help="disliked cluster ids")
@K
@click.option(
    "--strategy",
    type=click.Choice([s.value for s in Strategy]),
    default=Strategy.BEST.value,
    help="best: by best match to any liked story (default); average: toward the "
    "mean of liked vectors, away from disliked ones",
)
@click.option(
    "--diversity",
    type=float,
    default=DEFAULT_DIVERSITY,
    help=f"0..1: how much to trade relevance for variety (MMR; default {DEFAULT_DIVERSITY})",
)
@click.option(
    "--half-life-days",
    type=float,
    metavar="N",
    help="boost fresh clusters: a cluster N days older than the newest counts half",
)
@JSON
def recommend(
    place: Place,
    liked: tuple[str, ...],
    disliked: tuple[str, ...],
    k: int,
    strategy: str,
    diversity: float,
    half_life_days: float | None,
    as_json: bool,
) -> int:
    """unseen clusters for a reader, from liked and disliked ones"""
    from searchengine.cli.output import print_related
    from searchengine.core.contract import RecommendRequest

    request = RecommendRequest(
        liked=tuple(Liked.parse(x) for x in liked),
        disliked=disliked,
        k=k,
        strategy=Strategy(strategy),
        diversity=diversity,
        half_life_days=half_life_days,
    )
    stories = answer(place, as_json, request)
    if stories is not None:
        print_related(stories, "recommended:")
    return EXIT_OK


@click.command(
    help="Show a cluster (with key points and articles) or one article. ID: a cluster id "
    "(2026-01-09-c10) or an article id (2026-01-09-c10-a1)."
)
@click.argument("id")
@place()
@JSON
def show_(id: str, place: Place, as_json: bool) -> int:
    """show a cluster or an article in full"""
    from searchengine.cli.output import print_json, print_record
    from searchengine.core.documents import record_to_dict

    with place.open() as engine:
        cluster, article = engine.get(id)
    if as_json:
        print_json(record_to_dict(cluster, article))
    else:
        print_record(cluster, article)
    return EXIT_OK


@click.command(help="Describe an index: counts, model, FAISS type, size on disk, last update.")
@place()
@JSON
def stats(place: Place, as_json: bool) -> int:
    """counts, model, index type, size, last update"""
    from searchengine.cli.output import print_table

    with place.open() as engine:
        data = {"index": str(engine.folder.path), **engine.stats()}
    show(as_json, data, print_table)
    return EXIT_OK


COMMANDS = {
    "search": search,
    "facets": facets,
    "related": related,
    "similar": similar,
    "thread": thread,
    "coverage": coverage,
    "entity": entity,
    "recommend": recommend,
    "show": show_,
    "stats": stats,
}
