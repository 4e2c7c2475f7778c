"""The CLI's argument parser: every command, its options and its help text.

Choices come from the contract's enums and limits, so the CLI offers exactly
what the engine accepts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from searchengine._version import __version__
from searchengine.core.contract import (
    DEFAULT_DIVERSITY,
    DEFAULT_K,
    MAX_K,
    MIN_K,
    Mode,
    Sentiment,
    Sort,
    Strategy,
)
from searchengine.encoders.encoder import RUNTIMES
from searchengine.encoders.onnx import PRECISIONS
from searchengine.limits import DEADLINES, DEFAULT_LIMITS
from searchengine.search.relevance import RelevanceParams


def _add_index_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index",
        metavar="WHERE",
        help="index folder, or a Milvus index milvus://HOST:PORT/PREFIX "
        "(default: $SEARCHENGINE_INDEX or indexes/default)",
    )


def _add_date_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from", dest="date_from", metavar="DATE", help="only clusters on or after DATE"
    )
    p.add_argument("--to", dest="date_to", metavar="DATE", help="only clusters on or before DATE")
    p.add_argument(
        "--source",
        action="append",
        metavar="HOST",
        help="only clusters with an article from HOST (repeatable: any of them)",
    )


def _add_search_options(p: argparse.ArgumentParser, articles: str) -> None:
    """What `search` and `facets` both take: mode, filters and --articles."""
    p.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=Mode.HYBRID.value,
        help="hybrid (default): embeddings and full text fused; dense; lexical",
    )
    _add_date_source_options(p)
    p.add_argument(
        "--entity",
        action="append",
        metavar="NAME",
        help="only clusters naming NAME, accent- and case-insensitive (repeatable: all of them)",
    )
    p.add_argument(
        "--sentiment",
        choices=[s.value for s in Sentiment],
        help="clusters whose prevailing sentiment is this (articles: their own)",
    )
    p.add_argument("--articles", action="store_true", help=articles)


def _add_model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        help="sentence-transformers model: the bundled all-MiniLM-L6-v2 (default, or "
        "$SEARCHENGINE_MODEL), a model folder, or 'hashing' (no model; for tests)",
    )
    p.add_argument(
        "--runtime",
        choices=list(RUNTIMES),
        help="run the model on ONNX Runtime (default; exported once, no torch afterwards) "
        "or torch (sentence-transformers); $SEARCHENGINE_RUNTIME",
    )
    p.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        help="vectors of a new index: int8 (default; ONNX dynamic quantisation, ~2x faster) "
        "or fp32 (exact); an existing index keeps its own and refuses another",
    )


def build_parser(
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
) -> argparse.ArgumentParser:
    """The parser; `commands` maps `cmd_<name>` to the function that runs each command."""
    parser = argparse.ArgumentParser(
        prog="searchengine",
        description="Semantic search, related stories and recommendations over news story-cluster digests.",
        epilog="Exit codes: 0 success, 1 error (message on stderr), 2 bad usage. "
        "Run `searchengine COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"searchengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "index",
        help="index digest files, folders or JSONL",
        description="Index digest files or folders (and .jsonl/.json records). Unchanged clusters "
        "are skipped, changed ones replaced. A malformed cluster is reported with file and "
        "line and skipped; the rest is indexed and the exit code is 1.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="digest files, folders, .jsonl files")
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("--rebuild", action="store_true", help="delete the index first and start fresh")
    p.add_argument(
        "--strict", action="store_true", help="stop at the first parse error, index nothing"
    )
    p.add_argument(
        "--index-type",
        default="auto",
        help="vector index for a new index: auto (exact Flat up to 10k passages, then HNSW), "
        "Flat, HNSW32,Flat, IVF1024,SQ8, ... (a faiss.index_factory string; on Milvus: "
        "Flat, HNSW<M>,... or IVF<nlist>,... become FLAT, HNSW, IVF_FLAT)",
    )
    p.add_argument(
        "--max-line-chars",
        type=int,
        default=DEFAULT_LIMITS.max_line_chars,
        metavar="N",
        help="a longer line costs its cluster or record (default %(default)s)",
    )
    p.add_argument(
        "--max-cluster-chars",
        type=int,
        default=DEFAULT_LIMITS.max_cluster_chars,
        metavar="N",
        help="a cluster or record with more text is skipped (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands["cmd_index"])

    p = sub.add_parser(
        "search",
        help="search clusters (or articles) with a natural-language query",
        description="Ranked clusters with the passages that matched, query terms highlighted.",
    )
    p.add_argument("query", help="keywords or a question")
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument(
        "-k",
        "--k",
        type=int,
        default=DEFAULT_K,
        help=f"number of results, {MIN_K}-{MAX_K} (default {DEFAULT_K})",
    )
    _add_search_options(p, articles="rank articles instead of clusters")
    p.add_argument(
        "--min-relevance",
        type=float,
        metavar="P",
        help="drop results whose relevance (0-1, the chance a reader finds it relevant) is "
        f"under P; by default those under {RelevanceParams().cutoff:g} are listed apart as "
        "weaker matches",
    )
    p.add_argument(
        "--half-life-days",
        type=float,
        metavar="N",
        help="favour fresh stories: relevance x 0.5^(age/N), the age counted back from the "
        "newest story (or --fresh-from); undated stories count as the oldest",
    )
    p.add_argument(
        "--fresh-from", metavar="DATE", help="count ages back from DATE instead of the newest story"
    )
    p.add_argument(
        "--sort",
        choices=[s.value for s in Sort],
        default=Sort.RELEVANCE.value,
        help="relevance (default), or date: strong matches newest first, weaker ones after",
    )
    p.add_argument(
        "--collapse",
        action="store_true",
        help="one result per story: the same story's other hits listed under it",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_search"])

    p = sub.add_parser(
        "facets",
        help="count a search's strong hits by source, entity, sentiment and date",
        description="How many of a search's strong hits (relevance over the cut-off, among "
        "its first 100) name each source and entity, have each prevailing sentiment and "
        "fall on each date: each value can be given back to `search` as a filter.",
    )
    p.add_argument("query", help="keywords or a question")
    _add_index_option(p)
    _add_model_option(p)
    _add_search_options(p, articles="count the clusters of article hits")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_facets"])

    p = sub.add_parser(
        "serve",
        help="serve the HTTP API and the search page",
        description="Serve the JSON API (docs at /docs) and the search page at /. The index is "
        "loaded once at start-up. Writes (POST /documents, DELETE) need "
        "SEARCHENGINE_API_KEY set and 'Authorization: Bearer <key>'.",
    )
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes over the one index (default 1); each sees every write",
    )
    p.add_argument(
        "--max-body",
        type=int,
        metavar="BYTES",
        help="largest accepted request body, on every endpoint (default 5 MB, or "
        "$SEARCHENGINE_MAX_BODY)",
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=DEADLINES.headers,
        metavar="SECONDS",
        help="close a connection whose request headers take longer (default %(default)s)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: a proxy in front usually does, and it "
        "costs throughput)",
    )
    p.set_defaults(func=commands["cmd_serve"])

    p = sub.add_parser(
        "show",
        help="show a cluster or an article in full",
        description="Show a cluster (with key points and articles) or one article.",
    )
    p.add_argument("id", help="cluster id (2026-01-09-c10) or article id (2026-01-09-c10-a1)")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_show"])

    p = sub.add_parser(
        "remove",
        help="remove clusters by id",
        description="Remove clusters by id. An unknown id removes nothing and exits 1.",
    )
    p.add_argument("ids", nargs="+", metavar="ID")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_remove"])

    p = sub.add_parser(
        "copy",
        help="copy an index to another place (folder <-> Milvus) without re-encoding",
        description="Copy every cluster of the index SOURCE into TARGET (created when missing) "
        "with the stored embeddings: nothing is encoded again. Either side may be a folder or "
        "milvus://HOST:PORT/PREFIX. Clusters TARGET already holds unchanged are skipped, "
        "changed ones replaced; clusters only TARGET holds are kept.",
    )
    p.add_argument("source", metavar="SOURCE", help="the index to copy (folder or Milvus URI)")
    p.add_argument("target", metavar="TARGET", help="where to copy it (folder or Milvus URI)")
    p.add_argument(
        "--index-type", default="auto", help="vector index for a new TARGET (as for `index`)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands["cmd_copy"])

    p = sub.add_parser(
        "stats",
        help="counts, model, index type, size, last update",
        description="Describe an index: counts, model, FAISS type, size on disk, last update.",
    )
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_stats"])

    p = sub.add_parser(
        "eval",
        help="score search against judged queries (nDCG@10, Recall@10, MRR@10)",
        description="Build a temporary index of DIGESTS (or use --index), run every query and "
        "score the ranking with ranx against TREC qrels (`qid 0 cluster_id grade`).",
    )
    p.add_argument("digests", nargs="*", metavar="DIGESTS", help="digest files or folders")
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("--queries", metavar="TSV", help="queries, `qid<TAB>text` per line")
    p.add_argument("--qrels", metavar="FILE", help="TREC qrels, `qid 0 docid grade` per line")
    p.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.HYBRID.value)
    p.add_argument(
        "--beir",
        metavar="DIR",
        help="score a BEIR folder (corpus.jsonl[.gz], queries.jsonl[.gz], qrels/test.tsv): "
        "nDCG@10 and Recall@100; with --index the corpus index is kept there and reused",
    )
    p.add_argument(
        "--families",
        metavar="TSV|FIELD",
        help="score related stories and recommendations instead: a `cluster_id<TAB>family` "
        "file, or the name of a record field (e.g. story_id in JSONL documents)",
    )
    p.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="score only the first N judged queries (file order): a quick check, e.g. against "
        "a slow test server; the report gives the number scored",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document (per query too)")
    p.set_defaults(func=commands["cmd_eval"])

    def related_options(p: argparse.ArgumentParser) -> None:
        _add_index_option(p)
        p.add_argument(
            "-k",
            "--k",
            type=int,
            default=DEFAULT_K,
            help=f"number of results, {MIN_K}-{MAX_K} (default {DEFAULT_K})",
        )
        _add_date_source_options(p)
        p.add_argument("--json", action="store_true", help="print one JSON document")

    p = sub.add_parser(
        "related",
        help="clusters (or articles) about the same or a related story",
        description="For a cluster id: other clusters about the same or a related story, across "
        "days. For an article id: other articles (those of its own cluster left out). Each "
        "result has a score and a same_story flag.",
    )
    p.add_argument("id", help="a cluster or article id")
    related_options(p)
    p.add_argument(
        "--include-own-cluster",
        action="store_true",
        help="for an article: keep the other articles of its own cluster",
    )
    p.set_defaults(func=commands["cmd_related"])

    p = sub.add_parser(
        "similar",
        help="clusters like a paragraph of text",
        description="Stories like this text: the clusters most similar to TEXT.",
    )
    p.add_argument("text", help="a paragraph (or a few words); - reads it from stdin")
    related_options(p)
    p.set_defaults(func=commands["cmd_similar"])

    p = sub.add_parser(
        "thread",
        help="the chain of clusters of one developing story, by date",
        description="Follow a story across days: the clusters linked to ID by same-story "
        "decisions, ordered by date.",
    )
    p.add_argument("id", help="a cluster id")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_thread"])

    p = sub.add_parser(
        "coverage",
        help="who covered a story and how, and along its thread",
        description="A story's coverage: the outlets of its Sources line, each article's "
        "publisher, tone, sentiment and intent, their spread per publisher, and along the "
        "story's thread how sources, articles and sentiment moved day by day.",
    )
    p.add_argument("id", help="a cluster id (or an article id: its cluster)")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_coverage"])

    p = sub.add_parser(
        "entity",
        help="an entity's stories over time, who is named with it, and sentiment",
        description="An entity's timeline (accent- and case-insensitive, as --entity matches): "
        "its stories, newest first, the entities most often named with it, and the "
        "sentiment of the articles naming it per month (per day over two months or less).",
    )
    p.add_argument("name", help='an entity, e.g. "Nicolas Maduro"')
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_entity"])

    p = sub.add_parser(
        "searches",
        help="saved searches: matched against every later ingest (see `alerts`)",
        description="Saved searches live in the index. Every ingest (`index`, POST /documents) "
        "matches the clusters it adds or replaces against each of them and records an alert "
        "for each strong enough match, POSTed to the search's webhook if it has one.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("add", help="save a query", description="Save a query to alert on.")
    a.add_argument("query", help="keywords or a question")
    _add_index_option(a)
    _add_model_option(a)
    _add_date_source_options(a)
    a.add_argument("--entity", action="append", metavar="NAME", help="clusters naming NAME")
    a.add_argument("--sentiment", choices=[s.value for s in Sentiment], help="prevailing sentiment")
    a.add_argument(
        "--min-relevance",
        type=float,
        metavar="P",
        help=f"alert at this relevance or more (0-1; default {RelevanceParams().cutoff:g}, "
        "a strong match)",
    )
    a.add_argument("--webhook", metavar="URL", help="POST each alert to this http(s) URL")
    a.add_argument("--json", action="store_true", help="print one JSON document")
    a.set_defaults(func=commands["cmd_searches"])
    a = actions.add_parser("list", help="list the saved searches")
    _add_index_option(a)
    a.add_argument("--json", action="store_true", help="print one JSON document")
    a.set_defaults(func=commands["cmd_searches"])
    a = actions.add_parser("remove", help="remove a saved search by id")
    a.add_argument("id", help="a saved search's id")
    _add_index_option(a)
    a.add_argument("--json", action="store_true", help="print one JSON document")
    a.set_defaults(func=commands["cmd_searches"])

    p = sub.add_parser(
        "alerts",
        help="what saved searches matched in ingests, oldest first",
        description="Alerts recorded by ingests: the saved search, the cluster it matched, "
        "how strongly, when, and whether its webhook took it.",
    )
    _add_index_option(p)
    p.add_argument("--since", metavar="TIME", help="only alerts after TIME (a matched_at value)")
    p.add_argument("--limit", type=int, default=500, metavar="N", help="at most N (default 500)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_alerts"])

    p = sub.add_parser(
        "recommend",
        help="unseen clusters for a reader, from liked and disliked ones",
        description="Recommend clusters a reader has not seen. With no --liked: the most widely "
        "covered stories, diverse and fresh.",
    )
    _add_index_option(p)
    p.add_argument(
        "--liked", nargs="+", metavar="ID[:WEIGHT]", help="liked cluster ids, optionally weighted"
    )
    p.add_argument("--disliked", nargs="+", metavar="ID", help="disliked cluster ids")
    p.add_argument(
        "-k",
        "--k",
        type=int,
        default=DEFAULT_K,
        help=f"number of results, {MIN_K}-{MAX_K} (default {DEFAULT_K})",
    )
    p.add_argument(
        "--strategy",
        choices=[s.value for s in Strategy],
        default=Strategy.BEST.value,
        help="best: by best match to any liked story (default); average: toward the "
        "mean of liked vectors, away from disliked ones",
    )
    p.add_argument(
        "--diversity",
        type=float,
        default=DEFAULT_DIVERSITY,
        help=f"0..1: how much to trade relevance for variety (MMR; default {DEFAULT_DIVERSITY})",
    )
    p.add_argument(
        "--half-life-days",
        type=float,
        metavar="N",
        help="boost fresh clusters: a cluster N days older than the newest counts half",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=commands["cmd_recommend"])
    return parser
