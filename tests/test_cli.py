"""The CLI through its real entry point: exit codes, messages, valid JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DATA, SEEDS

EXE = Path(sys.executable).parent / "searchengine"


def commands() -> list[str]:
    """Every command the CLI knows, read from its click group."""
    from searchengine.cli.main import cli as group

    return sorted(group.commands)


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "searchengine.cli.main"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of seeds/ built once by the CLI with the model-free `hashing` encoder."""
    index = tmp_path_factory.mktemp("cli") / "idx"
    result = cli("index", str(SEEDS), "--index", str(index), "--model", "hashing", "-q")
    assert result.returncode == 0, result.stderr
    assert "41 added" in result.stdout and "passages/s" in result.stdout
    return index


def test_help_for_every_command() -> None:
    top = cli("--help")
    assert top.returncode == 0
    names = commands()
    assert len(names) >= 11 and {"index", "search", "serve", "recommend", "thread"} <= set(names)
    for command in names:
        assert command in top.stdout
        result = cli(command, "--help")
        assert result.returncode == 0
        assert "usage: searchengine " + command in result.stdout.lower()
        assert len(result.stdout.splitlines()) > 4


def test_reindex_says_nothing_to_do(built: Path) -> None:
    result = cli("index", str(SEEDS), "--index", str(built), "-q")
    assert result.returncode == 0
    assert "nothing to do" in result.stdout and "41" in result.stdout


def test_search_json_is_one_valid_document(built: Path) -> None:
    result = cli(
        "search",
        "Venezuela political prisoners released",
        "--index",
        str(built),
        "--json",
        "-k",
        "3",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["results"][0]["id"] == "2026-01-09-c10"
    first = data["results"][0]
    assert {"id", "date", "title", "sources", "score", "passages"} <= set(first)
    passage = first["passages"][0]
    assert passage["field"] in {"summary", "key_point", "article"} and passage["highlights"]


def test_search_text_output_and_filters(built: Path) -> None:
    result = cli(
        "search",
        "Maduro",
        "--index",
        str(built),
        "--entity",
        "Nicolas Maduro",
        "--from",
        "2026-01-01",
    )
    assert result.returncode == 0, result.stderr
    assert "2026-01-09-c10" in result.stdout
    # Piped: the text as it is, no Markdown `**` and no colour codes (a terminal gets colour).
    assert "**" not in result.stdout and "\033[" not in result.stdout
    assert "2025-10-10-c2" not in result.stdout  # names Maduro, but before --from


def test_search_bad_date_is_a_clear_error(built: Path) -> None:
    result = cli("search", "x", "--index", str(built), "--from", "the day before")
    assert result.returncode == 1
    assert "from: bad date" in result.stderr and "Traceback" not in result.stderr


def test_article_search_json(built: Path) -> None:
    result = cli(
        "search", "El Helicoide Caracas", "--index", str(built), "--articles", "--json", "-k", "2"
    )
    data = json.loads(result.stdout)
    assert data["request"]["kind"] == "articles" and data["results"][0]["id"].startswith(
        "2026-01-09-c10-a"
    )


def test_show_cluster_article_and_unknown(built: Path) -> None:
    shown = cli("show", "2026-01-09-c10", "--index", str(built))
    assert (
        shown.returncode == 0
        and "Key points" in shown.stdout
        and "2026-01-09-c10-a3" in shown.stdout
    )
    article = json.loads(cli("show", "2026-01-09-c10-a2", "--index", str(built), "--json").stdout)
    assert article["publisher"] == "Sky News" and article["cluster_id"] == "2026-01-09-c10"
    missing = cli("show", "2099-01-01-c1", "--index", str(built))
    assert (
        missing.returncode == 1 and "no cluster or article with id 2099-01-01-c1" in missing.stderr
    )


def test_stats(built: Path) -> None:
    data = json.loads(cli("stats", "--index", str(built), "--json").stdout)
    assert (
        data["clusters"] == 41 and data["model"] == "hashing-256" and data["index_type"] == "Flat"
    )
    assert data["size_bytes"] > 0 and data["updated_at"]
    text = cli("stats", "--index", str(built)).stdout
    assert "clusters" in text and "41" in text


def test_missing_index(tmp_path: Path) -> None:
    result = cli("search", "x", "--index", str(tmp_path / "none"))
    assert result.returncode == 1 and "no index at" in result.stderr


def test_index_env_variable(built: Path, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "SEARCHENGINE_INDEX": str(built)}
    result = cli("stats", "--json", env=env)
    assert json.loads(result.stdout)["index"] == str(built)


def test_model_mismatch_message(built: Path) -> None:
    result = cli(
        "index", str(SEEDS / "2025-10-03_c6.txt"), "--index", str(built), "--model", "hashing-64"
    )
    assert result.returncode == 1 and "was built with model 'hashing-256'" in result.stderr


def test_malformed_cluster_is_reported_and_the_rest_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SEEDS / "2025-10-03_c6.txt", folder)
    bad = (
        (SEEDS / "000_04a9b59b936e3d08.txt")
        .read_text()
        .replace("Date: 09-01-2026", "Date: 09-13-2026")
    )
    (folder / "bad.txt").write_text(bad)
    index = tmp_path / "idx"
    result = cli("index", str(folder), "--index", str(index), "--model", "hashing", "-q")
    assert result.returncode == 1
    assert f"{folder / 'bad.txt'}:5" in result.stderr and "bad date" in result.stderr
    assert "1 added" in result.stdout
    strict = cli(
        "index", str(folder), "--index", str(tmp_path / "strict"), "--model", "hashing", "--strict"
    )
    assert strict.returncode == 1 and "bad.txt:5" in strict.stderr
    assert not (tmp_path / "strict").exists()  # --strict writes nothing, not even a folder


def test_remove_command(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    cli(
        "index",
        str(SEEDS / "multi_2025-11-20.txt"),
        "--index",
        str(index),
        "--model",
        "hashing",
        "-q",
    )
    result = cli("remove", "2025-11-20-c3", "--index", str(index), "--json")
    assert json.loads(result.stdout) == {"removed": ["2025-11-20-c3"]}
    again = cli("remove", "2025-11-20-c3", "--index", str(index))
    assert again.returncode == 1 and "no cluster with id 2025-11-20-c3" in again.stderr


def test_rebuild_starts_fresh(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    cli(
        "index",
        str(SEEDS / "multi_2025-11-20.txt"),
        "--index",
        str(index),
        "--model",
        "hashing",
        "-q",
    )
    result = cli(
        "index",
        str(SEEDS / "2025-10-03_c6.txt"),
        "--index",
        str(index),
        "--model",
        "hashing",
        "--rebuild",
        "--json",
    )
    data = json.loads(result.stdout)
    assert data["added"] == ["2025-10-03-c6"]
    assert json.loads(cli("stats", "--index", str(index), "--json").stdout)["clusters"] == 1


def test_eval_command_json(tmp_path: Path) -> None:
    result = cli(
        "eval",
        str(SEEDS),
        "--queries",
        str(DATA / "queries.tsv"),
        "--qrels",
        str(DATA / "qrels.txt"),
        "--model",
        "hashing",
        "--mode",
        "lexical",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"ndcg@10", "recall@10", "mrr@10", "queries"} <= set(data)
    assert len(data["queries"]) == 34  # d33 and d34 have no judgments
    assert set(data["unjudged"]) == {"d33", "d34"}
    assert 0.5 < data["ndcg@10"] <= 1.0


def test_index_type_is_chosen_at_build_time(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    result = cli(
        "index",
        str(SEEDS / "multi_2025-11-20.txt"),
        "--index",
        str(index),
        "--model",
        "hashing",
        "--index-type",
        "HNSW32,Flat",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(cli("stats", "--index", str(index), "--json").stdout)
    assert stats["index_type"] == "HNSW32,Flat" and stats["index_type_requested"] == "HNSW32,Flat"
    hits = json.loads(cli("search", "Zelenskyy peace plan", "--index", str(index), "--json").stdout)
    assert hits["results"][0]["id"] == "2025-11-20-c7"
    bad = cli(
        "index",
        str(SEEDS / "multi_2025-11-20.txt"),
        "--index",
        str(tmp_path / "bad"),
        "--model",
        "hashing",
        "--index-type",
        "Nonsense42",
    )
    assert bad.returncode == 1 and "bad FAISS index type" in bad.stderr
    assert not (tmp_path / "bad").exists()  # nothing half-made left behind


def test_json_into_a_closed_pipe_is_quiet(built: Path) -> None:
    """`searchengine search ... --json | head -c 10` ends without a BrokenPipeError
    traceback (the reader went away: not an error)."""
    import shlex
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "searchengine.cli.main",
        "search",
        "Venezuela",
        "--index",
        str(built),
    ]
    proc = subprocess.run(
        shlex.join([*command, "-k", "40", "--json"]) + " | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("{") and "Traceback" not in proc.stderr


def test_a_bad_flag_shows_the_commands_usage_and_the_nearest_option(built: Path) -> None:
    result = cli("search", "venezuela", "--indx", str(built))
    assert result.returncode == 2
    assert "usage: searchengine search" in result.stderr.lower()
    assert "No such option '--indx'. Did you mean '--index'?" in result.stderr


def test_a_mistyped_command_suggests_the_nearest() -> None:
    result = cli("serach", "venezuela")
    assert result.returncode == 2
    assert "No such command 'serach'. Did you mean 'search'?" in result.stderr


def test_an_unquoted_query_says_to_quote_it(built: Path) -> None:
    result = cli("search", "venezuela", "prisoners", "--index", str(built))
    assert result.returncode == 2 and "needs quotes" in result.stderr
    assert "usage: searchengine search" in result.stderr.lower()


def test_similar_reads_its_text_from_stdin(built: Path) -> None:
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "searchengine.cli.main"]
    result = subprocess.run(
        [*cmd, "similar", "-", "--index", str(built), "--json"],
        input="Venezuela frees political prisoners in Caracas",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["id"] == "2026-01-09-c10"


def test_a_liked_weight_that_is_not_a_number_says_how_to_write_one(built: Path) -> None:
    result = cli("recommend", "--liked", "2025-10-10-c2:abc", "--index", str(built))
    assert result.returncode != 0 and "ID:NUMBER" in result.stderr


def test_the_index_summary_counts_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a digest\n")
    result = cli(
        "index",
        str(tmp_path / "notes.txt"),
        "--index",
        str(tmp_path / "i"),
        "--model",
        "hashing",
        "-q",
    )
    assert result.returncode == 1
    assert "nothing indexed: 1 error(s)" in result.stdout and "nothing to do" not in result.stdout


def test_highlights_are_colour_on_a_terminal_and_plain_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import searchengine.cli.output as cli_output

    monkeypatch.setattr(cli_output.sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli_output.mark("free prisoners", [(5, 14)]) == "free \033[1;33mprisoners\033[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_output.mark("free prisoners", [(5, 14)]) == "free prisoners"


def test_facets_command_counts_and_weaker_matches_are_apart(built: Path) -> None:
    result = cli("facets", "Ukraine peace talks", "--index", str(built), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["hits"] >= 1 and data["facets"]["sources"]
    text = cli("facets", "Ukraine peace talks", "--index", str(built)).stdout
    assert "strong hit" in text and "sources:" in text and "dates:" in text
    searched = cli("search", "Venezuela prisoner releases", "--index", str(built)).stdout
    assert "relevance " in searched and "score " not in searched
    assert "-- weaker matches --" in searched
    dropped = cli(
        "search", "Venezuela prisoner releases", "--index", str(built), "--min-relevance", "0.9"
    ).stdout
    assert "-- weaker matches --" not in dropped


def test_a_path_that_is_not_there_is_named_and_no_index_is_made(tmp_path: Path) -> None:
    """`index no/such/path` printed `error: None: None` (the parser's FileNotFoundError
    had neither strerror nor filename) and left an empty index folder behind."""
    index = tmp_path / "idx"
    result = cli("index", "no/such/path", "--index", str(index), "--model", "hashing")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "error: no such file or folder: no/such/path"
    assert not index.exists()


def test_a_bug_is_a_traceback_not_a_users_mistake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ValueError was printed as `error: ...` with exit 1, the user's mistake,
    hiding bugs. Only the engine's named errors are (a bad FAISS index type is one);
    anything else escapes with its traceback."""
    import searchengine.cli.main as cli_module

    bad = cli(
        "index",
        str(SEEDS),
        "--index",
        str(tmp_path / "i"),
        "--model",
        "hashing",
        "--index-type",
        "NotAnIndex",
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: bad FAISS index type")
    assert "Traceback" not in bad.stderr

    def broken(**_: object) -> int:
        raise ValueError("a bug")

    monkeypatch.setattr(cli_module.cli, "main", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli_module.main(["stats"])


def test_a_bad_environment_variable_is_named(built: Path) -> None:
    """The SEARCHENGINE_* variables are read in one typed place (environment.py): a
    value of the wrong type is an error naming it, not a traceback or a silent default."""
    import os

    env = {**os.environ, "SEARCHENGINE_ENCODER_THREADS": "many"}
    result = cli("search", "prisoners", "--index", str(built), env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: bad environment variable: SEARCHENGINE_ENCODER_THREADS")
    assert "Traceback" not in result.stderr
