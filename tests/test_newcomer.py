"""What a newcomer trips on, each observation of the issue "a newcomer never trips" as
a test: errors that say what to do (as JSON with --json), one date rule for the CLI
and the API, outlets however they are written, a taken port said in one line."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine
from searchengine.core.contract import Filters, RelatedRequest
from searchengine.core.dates import DATE_PATTERN, user_date, user_time
from searchengine.core.filters import host_key
from searchengine.errors import BadRequest
from searchengine.http.app import ApiSettings, create_app

from .conftest import SEEDS
from .test_cli import cli

TODAY = date(2026, 12, 7)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("newcomer") / "idx"
    result = cli("index", str(SEEDS), "--index", str(index), "--model", "hashing", "-q")
    assert result.returncode == 0, result.stderr
    return index


# --- dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "iso"),
    [
        ("2026-01-09", "2026-01-09"),
        ("09-01-2026", "2026-01-09"),  # the digests' own day-first form
        ("today", "2026-12-07"),
        ("Yesterday", "2026-12-06"),
        ("7d", "2026-11-30"),
        ("2w", "2026-11-23"),
        ("3 days ago", "2026-12-04"),
    ],
)
def test_a_date_is_read_one_way(typed: str, iso: str) -> None:
    assert user_date(typed, "from", TODAY) == iso
    assert re.match(DATE_PATTERN, typed.lower()), "the API's schema must admit it too"


def test_a_date_that_reads_two_ways_is_an_error_that_names_both() -> None:
    """`--from 01/09/2026` was 1 September in the CLI and a regex message in the API."""
    with pytest.raises(BadRequest) as err:
        user_date("01/09/2026", "from", TODAY)
    said = str(err.value)
    assert "ambiguous" in said and "1 September 2026" in said and "9 January 2026" in said
    assert "2026-09-01" in said and "2026-01-09" in said


def test_a_slashed_date_is_never_guessed() -> None:
    with pytest.raises(BadRequest, match=r"write '13/01/2026' as 2026-01-13 \(YYYY-MM-DD\)"):
        user_date("13/01/2026", "from", TODAY)


@pytest.mark.parametrize(
    "typed", ["0000-00-00", "2026-02-30", "1900-02-29", "7-15-4400", "soon", "1/2", "99999w"]
)
def test_a_date_that_names_no_day_says_which_forms_work(typed: str) -> None:
    """The schema's pattern refuses it too: a value it admits is a day (schemathesis
    sent 0000-00-00 and 7-15-4400, schema-valid, and got 400)."""
    with pytest.raises(BadRequest, match="YYYY-MM-DD, DD-MM-YYYY, today, yesterday"):
        user_date(typed, "from", TODAY)
    assert not re.match(DATE_PATTERN, typed)


def test_a_time_for_alerts_reads_dates_and_iso_times_as_utc() -> None:
    assert user_time("yesterday", "since") is not None
    assert user_time("2026-01-09", "since") == "2026-01-09T00:00:00.000000Z"
    assert user_time("2026-01-09T08:00:00+02:00", "since") == "2026-01-09T06:00:00.000000Z"
    with pytest.raises(BadRequest, match="since: bad"):
        user_time("next tuesday", "since")


# --- outlets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("www.huffingtonpost.com", "huffingtonpost.com"),  # as the UCI headlines store it
        ("https://BBC.co.uk/news/world", "bbc.co.uk"),
        ("edition.cnn.com:443", "cnn.com"),
        ("user:secret@www.example.org", "example.org"),
        ("news.sky.com", "sky.com"),
        ("bbc", "bbc"),  # a bare name stays (the engine widens it to what the index has)
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_an_outlet_is_kept_by_its_registered_domain(typed: str, key: str) -> None:
    assert host_key(typed) == key


def test_an_older_index_s_outlets_are_rewritten_on_open(tmp_path: Path, encoder) -> None:  # type: ignore[no-untyped-def]
    """Migration 007: hosts stored as typed (`www.bbc.com`) become registered domains."""
    with Engine.open(tmp_path / "idx", encoder=encoder, create=True) as engine:
        assert not engine.add_paths([SEEDS]).errors
    db = sqlite3.connect(tmp_path / "idx" / "meta.sqlite")
    with db:
        db.execute("UPDATE sources SET host = 'www.' || host WHERE host = 'bbc.com'")
        db.execute("DELETE FROM migrations WHERE name = '007_host_keys'")
    db.close()
    with Engine.open(tmp_path / "idx", encoder=encoder) as engine:
        assert engine.search("prisoners", filters=Filters.build(sources=["bbc.com"])) != []
    db = sqlite3.connect(tmp_path / "idx" / "meta.sqlite")
    assert db.execute("SELECT count(*) FROM sources WHERE host LIKE 'www.%'").fetchone() == (0,)
    db.close()


# --- the CLI ------------------------------------------------------------------


def test_json_errors_are_an_object_on_stdout(built: Path, tmp_path: Path) -> None:
    """With --json an error went to stderr as text and stdout was empty (`| jq` failed)."""
    cases = [
        (("search", "x", "--index", str(tmp_path / "none"), "--json"), "not_ready", 1),
        (("remove", "no-such-id", "--index", str(built), "--json"), "not_found", 1),
        (("search", "x", "--index", str(built), "--from", "01/09/2026", "--json"), None, 1),
        (("search", "--index", str(built), "--json"), "usage", 2),
    ]
    for args, code, exit_code in cases:
        result = cli(*args)
        assert result.returncode == exit_code, (args, result.stdout, result.stderr)
        error = json.loads(result.stdout)
        assert set(error) == {"error", "detail", "exit_code"} and error["detail"], error
        assert error["exit_code"] == exit_code and (code is None or error["error"] == code)
    assert not (tmp_path / "none").exists()  # a failed command leaves nothing behind


def test_the_cli_and_the_api_say_the_same_about_a_date(built: Path) -> None:
    result = cli("search", "prisoners", "--index", str(built), "--from", "01/09/2026")
    assert result.returncode == 1 and "ambiguous" in result.stderr
    cli_says = result.stderr.strip().removeprefix("error: ")
    with (
        Engine.open(built) as engine,
        TestClient(create_app(ApiSettings(index=built), engine=engine)) as client,
    ):
        answer = client.get("/search", params={"q": "prisoners", "from": "01/09/2026"})
        assert answer.status_code == 400 and answer.json()["detail"] == cli_says
        fresh = client.get("/search", params={"q": "prisoners", "from": "400d"})
        assert fresh.status_code == 200
        assert fresh.json()["request"]["filters"]["from"] == user_date("400d", "from")


def test_a_bare_outlet_and_relative_times_work_from_the_cli(built: Path) -> None:
    found = cli("search", "prisoners", "--index", str(built), "--source", "bbc", "--json")
    assert found.returncode == 0 and json.loads(found.stdout)["results"]
    empty = cli("search", "prisoners", "--index", str(built), "--source", "bbcc.com")
    assert empty.returncode == 0
    assert "matches no story; did you mean 'bbc.com'" in empty.stdout
    alerts = cli("alerts", "--since", "yesterday", "--index", str(built), "--json")
    assert alerts.returncode == 0, alerts.stdout
    assert json.loads(alerts.stdout)["results"] == []


def test_the_python_api_forgives_a_bare_outlet_as_the_cli_does(built: Path) -> None:
    with Engine.open(built) as engine:
        seed = engine.search("prisoners", k=1)[0].id
        for bare in (Filters(sources=("bbc",)), Filters(sources=("BBC",))):
            assert engine.search("prisoners", filters=bare), bare
            related = engine.related(seed, filters=bare)
            assert related and related == engine.answer(RelatedRequest(seed, filters=bare)).results
        assert not engine.search("prisoners", filters=Filters(sources=("bbcc",)))


def test_serving_on_a_taken_port_says_so_in_one_line(built: Path) -> None:
    """It printed "serving at ..." and then exited 3 with a uvicorn log line."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--index", str(built), "--port", str(port))
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is taken (another server?); choose another with --port"
    )
    assert "3 the port to serve on is taken" in " ".join(cli("--help").stdout.split())


def test_eval_indexes_digests_into_the_index_it_is_given_and_stays_quiet(
    tmp_path: Path,
) -> None:
    """`eval DIGESTS --index X` ignored DIGESTS; `eval` had no -q; a cold numba cache
    printed a NumbaTypeSafetyWarning into its output."""
    import os

    shared = Path(__file__).resolve().parents[2] / "shared" / "eval"
    if not shared.is_dir():
        pytest.skip("the shared eval data is beside the clone")
    index = tmp_path / "kept"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    result = cli(
        "eval", str(SEEDS), "--index", str(index), "--model", "hashing", "-q",
        "--queries", str(shared / "queries.tsv"), "--qrels", str(shared / "qrels.txt"),
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ndcg@10" in result.stdout and "Warning" not in result.stderr + result.stdout
    assert result.stderr == ""  # -q: no progress bar either
    with Engine.open(index) as engine:
        assert engine.stats()["clusters"] == 41


def test_eval_without_its_extra_says_how_to_add_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` leaves ranx (and the numba, llvmlite, pandas and seaborn it pulls) out;
    `eval` then says the pip line, before building any index."""
    import sys

    from searchengine.errors import ExtraMissing
    from searchengine.eval_jobs import EvalJob, run_eval

    monkeypatch.setitem(sys.modules, "ranx", None)  # (find_spec: not installed)
    job = EvalJob(digests=[str(SEEDS)], index=tmp_path / "never", queries="q", qrels="r")
    with pytest.raises(ExtraMissing, match=r"pip install -e '\.\[eval\]'"):
        run_eval(job)
    assert not (tmp_path / "never").exists()


def test_the_one_time_model_export_says_it_is_still_at_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first export on a machine (20-40 s) printed one line and then nothing."""
    import time

    from searchengine.encoders.onnx import heartbeat

    with heartbeat("exporting to ONNX", quiet=False, every=0.05):
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3 and all("still exporting to ONNX" in line for line in lines)
    with heartbeat("exporting to ONNX", quiet=True, every=0.05):
        time.sleep(0.15)
    assert capsys.readouterr().err == ""
