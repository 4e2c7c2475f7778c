"""The API as its OpenAPI schema describes it: docs that work offline, typed answers,
the errors it really sends, and Schemathesis fuzzing every operation from the schema
against a real server (all phases, writes authenticated)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine
from searchengine.http.app import ApiSettings, create_app

from .conftest import SEEDS
from .test_processes import KEY, Server, cli

ST = Path(sys.executable).parent / "st"
HOOKS = "schemathesis_hooks.py"  # how to write a digest and JSON Lines


@pytest.fixture
def client(seeded: Engine, index_dir: Path) -> TestClient:
    return TestClient(create_app(ApiSettings(index=index_dir, api_key=KEY), engine=seeded))


def test_docs_load_their_assets_from_the_app_itself(client: TestClient) -> None:
    """/docs was a blank page offline: Swagger UI came from a CDN."""
    html = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "SwaggerUIBundle" in client.get(next(a for a in assets if a.endswith(".js"))).text
    assert client.get("/redoc").status_code == 200


def test_the_schema_types_every_answer_and_documents_real_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert "422" not in responses, where  # never sent: errors are 400
            ok = responses["200"]["content"]["application/json"]["schema"]
            assert "$ref" in ok, where  # a named model, not a generic object
            assert responses["400"]["content"]["application/json"]["schema"]
            if "{" in path:
                assert "404" in responses, where
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    documents = schema["paths"]["/documents"]["post"]
    assert {"text/plain", "application/json", "application/x-ndjson"} <= set(
        documents["requestBody"]["content"]
    )
    assert {"401", "403", "415"} <= set(documents["responses"])


def test_the_schema_states_what_a_json_record_must_be(client: TestClient) -> None:
    """`[{}]` was schema-valid and refused: the records' rules are now in the schema
    (an id, a title or text with a visible character, real days, counts), and what it
    admits is kept -- `3.0` is a count as `3` is, an empty date is undated."""
    content = client.get("/openapi.json").json()["paths"]["/documents"]["post"]["requestBody"]
    records = json.dumps(content["content"]["application/json"]["schema"])
    assert '"required": ["id"]' in records and "NOT_BLANK" not in records
    auth = {"Authorization": f"Bearer {KEY}"}
    for body, said in (([{}], "no 'id'"), ([], "holds no records")):
        answer = client.post("/documents", json=body, headers=auth)
        assert answer.status_code == 400 and said in answer.text, answer.text
    kept = [
        {"id": "doc-1", "title": "Ferry plan", "date": "", "source": None},
        {"id": 7, "summary": "A ferry berth.", "sources": {"example.com": 3.0}, "number": 2.0},
    ]
    answer = client.post("/documents", json=kept, headers=auth)
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["added"]) == ["7", "doc-1"]
    assert client.get("/clusters/7").json()["sources"] == {"example.com": 3}


def test_unsupported_content_is_415(client: TestClient) -> None:
    r = client.post(
        "/documents",
        content=b"%PDF-1.7",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/pdf"},
    )
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"


def test_405_names_every_method_of_the_path(client: TestClient) -> None:
    r = client.request("TRACE", "/clusters/2026-01-09-c10")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "DELETE"}


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get("/search", params={"q": ""}),
        lambda c: c.get("/search", params={"q": "   "}),
        lambda c: c.get("/search"),
        lambda c: c.post("/similar", json={"text": "x", "k": True}),
        lambda c: c.post("/recommend", json={"diversity": False}),
    ],
)
def test_what_the_schema_refuses_the_api_refuses_with_400(client: TestClient, call) -> None:  # noqa: ANN001
    r = call(client)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"


def test_an_integral_float_is_an_integer(client: TestClient) -> None:
    assert client.post("/similar", json={"text": "prisoners", "k": 3.0}).status_code == 200


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    """Every phase (examples, coverage, fuzzing, stateful) and every check, including
    `positive_data_acceptance`: a request the schema admits is not refused. The schema
    now states the rules the API enforced after it: dates are exactly the days the
    engine reads (0000-00-00, 7-15-4400 and 2026-02-30 were schema-valid and got 400),
    text has a character `strip()` keeps (U+0085 passed `\\S`), webhooks are http(s) URLs
    naming a host, from-after-to and a query of only exclusions are empty answers that
    say why. POST /documents is held to it too: its JSON records' rules are in the
    schema (`record_schema.py`), and its digests and JSON Lines are written by
    `schemathesis_hooks.py` (a schema cannot state a digest's grammar). Failures before
    these fixes: 18 of 213 cases, then 6 of 1,473 with the positive-data check added,
    then (POST /documents and /searches checked too) `[{}]`, `[]`, counts written
    `3.0`, `"date": ""`, a NUL in an outlet, `[1f]` as a webhook host, `"°^` saved."""
    index = tmp_path / "idx"
    cli("index", str(SEEDS), "--index", str(index), "--model", "hashing", "-q")
    server = Server(index)
    try:
        server.wait()
        result = subprocess.run(
            [
                str(ST),
                "--config-file",
                str(Path(__file__).parent / "schemathesis.toml"),
                "run",
                f"{server.url}/openapi.json",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "-H",
                f"Authorization: Bearer {KEY}",
                "--max-examples",
                "40",
                "--seed",
                "20261129",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).parent / HOOKS)},
            stdin=subprocess.DEVNULL,
        )
    finally:
        server.stop()
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert re.search(r"(\d+) generated, \1 passed", summary), summary
