"""The HTTP API through the real app: every endpoint, every error status, auth, concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine
from searchengine.http.app import ApiSettings, create_app

from .conftest import SEEDS, seed_text

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def client(seeded: Engine, index_dir: Path) -> TestClient:
    app = create_app(
        ApiSettings(index=index_dir, api_key=KEY, max_body_bytes=200_000), engine=seeded
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def error_of(response) -> str:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error", "detail"} and body["detail"]
    assert "Traceback" not in body["detail"]
    return str(body["error"])


def test_health_and_stats(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["ready"] is True and health["generation"] >= 1
    stats = client.get("/stats").json()
    assert stats["clusters"] == 41 and stats["model"] == "hashing-128"


def test_search_matches_the_cli_json_fields(client: TestClient) -> None:
    r = client.get("/search", params={"q": "Venezuela political prisoners released", "k": 3})
    assert r.status_code == 200
    data = r.json()
    first = data["results"][0]
    assert first["id"] == "2026-01-09-c10"
    assert {"id", "kind", "cluster_id", "date", "title", "sources", "score", "passages"} <= set(
        first
    )
    assert first["passages"][0]["highlights"]
    assert 0 <= first["relevance"] <= 1 and isinstance(first["weak"], bool)


def test_search_drops_hits_under_min_relevance(client: TestClient) -> None:
    everything = client.get("/search", params={"q": "prisoners", "k": 10}).json()["results"]
    values = [h["relevance"] for h in everything]
    assert values == sorted(values, reverse=True)
    cut = values[len(values) // 2]
    some = client.get("/search", params={"q": "prisoners", "k": 10, "min_relevance": cut})
    kept = some.json()["results"]
    assert kept == [h for h in everything if h["relevance"] >= cut]


def test_search_filters_and_articles(client: TestClient) -> None:
    r = client.get(
        "/search",
        params=[
            ("q", "crypto"),
            ("source", "bloomberg.com"),
            ("from", "2025-10-01"),
            ("to", "2025-12-31"),
        ],
    )
    hits = r.json()["results"]
    assert hits and all("bloomberg.com" in h["sources"] for h in hits)
    assert all("2025-10-01" <= h["date"] <= "2025-12-31" for h in hits)
    r = client.get(
        "/search", params={"q": "Maduro", "entity": "nicolas maduro", "kind": "articles"}
    )
    assert r.status_code == 200 and all(h["kind"] == "article" for h in r.json()["results"])
    r = client.get("/search", params={"q": "prisoners", "sentiment": "positive", "mode": "lexical"})
    assert r.status_code == 200


@pytest.mark.embedded_only  # the HTTP edge, not the backend
@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 1001},
        {"q": "x", "k": 0},
        {"q": "x", "k": 1001},
        {"q": "x", "k": "ten"},
        {"q": "x", "from": "not-a-date"},
        {"q": "x", "mode": "psychic"},
        {"q": "x", "kind": "people"},
        {"q": "x", "min_relevance": 2},
        {"q": "x", "min_relevance": "high"},
    ],
)
def test_bad_search_parameters_are_400(client: TestClient, params: dict[str, object]) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 400 and error_of(r) == "bad_request"


def test_records_and_404s(client: TestClient) -> None:
    cluster = client.get("/clusters/2026-01-09-c10").json()
    assert len(cluster["articles"]) == 3 and cluster["entities"]
    article = client.get("/articles/2026-01-09-c10-a2").json()
    assert article["publisher"] == "Sky News"
    for url in [
        "/clusters/2099-01-01-c1",
        "/articles/2099-01-01-c1-a1",
        "/clusters/2026-01-09-c10-a1",
        "/clusters/nope/related",
        "/articles/nope/related",
        "/clusters/nope/thread",
        "/nowhere",
    ]:
        r = client.get(url)
        assert r.status_code == 404, url
        assert error_of(r) == "not_found"


def test_related_thread_similar_recommend(client: TestClient) -> None:
    rel = client.get("/clusters/2025-11-20-c7/related", params={"k": 3}).json()["results"]
    assert len(rel) == 3 and "2025-11-20-c7" not in [r["id"] for r in rel]
    art = client.get("/articles/2025-11-20-c7-a1/related", params={"k": 3}).json()["results"]
    assert art and all(r["cluster_id"] != "2025-11-20-c7" for r in art)
    thread = client.get("/clusters/2025-11-20-c7/thread").json()["results"]
    assert [t["date"] for t in thread] == sorted(t["date"] for t in thread)
    sim = client.post(
        "/similar", json={"text": "Louvre crown jewels stolen in heist", "k": 2}
    ).json()
    assert sim["results"][0]["id"] == "2025-10-20-c1"
    rec = client.post(
        "/recommend",
        json={
            "liked": ["2025-11-20-c7", {"id": "2025-10-13-c1", "weight": 2}],
            "disliked": ["2025-11-24-c2"],
            "k": 5,
        },
    )
    assert rec.status_code == 200
    ids = [r["id"] for r in rec.json()["results"]]
    assert len(ids) == 5 and not set(ids) & {"2025-11-20-c7", "2025-10-13-c1", "2025-11-24-c2"}
    assert client.post("/recommend", json={"liked": ["nope"]}).status_code == 404
    assert client.post("/recommend", json={"diversity": 3}).status_code == 400
    assert client.post("/similar", json={"text": ""}).status_code == 400
    assert (
        client.post(
            "/similar", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


@pytest.mark.embedded_only  # the HTTP edge, not the backend
def test_writes_need_the_key(client: TestClient) -> None:
    body = seed_text("000_04a9b59b936e3d08.txt")
    r = client.post("/documents", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 401 and error_of(r) == "unauthorized"
    r = client.post("/documents", content=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = client.delete("/clusters/2026-01-09-c10", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert client.get("/clusters/2026-01-09-c10").status_code == 200


@pytest.mark.embedded_only  # the HTTP edge, not the backend
def test_writes_are_refused_when_no_key_is_configured(seeded: Engine, index_dir: Path) -> None:
    app = create_app(ApiSettings(index=index_dir, api_key=None), engine=seeded)
    with TestClient(app) as c:
        r = c.post("/documents", content="x", headers=AUTH)
        assert r.status_code == 403 and "SEARCHENGINE_API_KEY" in r.json()["detail"]
        assert c.delete("/clusters/2026-01-09-c10", headers=AUTH).status_code == 403


def test_ingest_digest_text_reports_added_replaced_unchanged(client: TestClient) -> None:
    body = seed_text("000_04a9b59b936e3d08.txt")
    r = client.post("/documents", content=body, headers={**AUTH, "content-type": "text/plain"})
    assert r.status_code == 200
    assert r.json()["unchanged"] == ["2026-01-09-c10"] and r.json()["added"] == []
    changed = body.replace("goodwill gesture", "gesture of goodwill")
    r = client.post("/documents", content=changed, headers={**AUTH, "content-type": "text/plain"})
    assert r.json()["replaced"] == ["2026-01-09-c10"]
    new = body.replace("Image for cluster 10", "Image for cluster 12")
    r = client.post("/documents", content=new, headers=AUTH)
    assert r.json()["added"] == ["2026-01-09-c12"]
    assert client.get("/clusters/2026-01-09-c12").status_code == 200


def test_ingest_json_and_jsonl_records(client: TestClient) -> None:
    doc = {
        "id": "doc-1",
        "title": "A new story",
        "text": "Something happened in Lisbon.",
        "date": "2026-02-01",
    }
    r = client.post("/documents", json=[doc], headers=AUTH)
    assert r.status_code == 200 and r.json()["added"] == ["doc-1"]
    lines = json.dumps({**doc, "id": "doc-2"}) + "\n{broken\n"
    r = client.post(
        "/documents", content=lines, headers={**AUTH, "content-type": "application/x-ndjson"}
    )
    assert r.status_code == 207
    assert r.json()["added"] == ["doc-2"] and r.json()["errors"][0]["line"] == 2


def test_bad_ingest_loses_nothing(client: TestClient) -> None:
    before = client.get("/stats").json()
    r = client.post("/documents", content="no digest here", headers=AUTH)
    assert r.status_code == 400 and r.json()["errors"]
    r = client.post("/documents", content=b"\xff\xfe\x00", headers=AUTH)
    assert r.status_code == 400
    r = client.post("/documents", content="", headers=AUTH)
    assert r.status_code == 400
    r = client.post("/documents", content="x" * 200_001, headers=AUTH)
    assert r.status_code == 413 and error_of(r) == "too_large"
    after = client.get("/stats").json()
    assert after["clusters"] == before["clusters"] and after["generation"] == before["generation"]


def test_delete(client: TestClient) -> None:
    r = client.delete("/clusters/2026-01-09-c10", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"removed": ["2026-01-09-c10"]}
    assert client.get("/clusters/2026-01-09-c10").status_code == 404
    assert client.delete("/clusters/2026-01-09-c10", headers=AUTH).status_code == 404


@pytest.mark.embedded_only  # the HTTP edge, not the backend
def test_openapi_and_docs(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ["/search", "/clusters/{cluster_id}", "/documents", "/recommend", "/health"]:
        assert path in schema["paths"]
    assert client.get("/docs").status_code == 200


@pytest.mark.embedded_only  # the HTTP edge, not the backend
def test_search_page_is_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="q"' in page.text and "http" not in page.text.replace("http-equiv", "")
    for asset in ["/static/app.js", "/static/style.css"]:
        r = client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text


@pytest.mark.embedded_only  # the HTTP edge, not the backend
def test_503_while_the_index_is_not_loaded(tmp_path: Path) -> None:
    app = create_app(ApiSettings(index=tmp_path / "missing"), load_in_background=False)
    with TestClient(app) as c:
        r = c.get("/search", params={"q": "x"})
        assert r.status_code == 503 and error_of(r) == "not_ready"
        assert "no index at" in r.json()["detail"]
        assert c.get("/health").status_code == 503


def test_searches_keep_answering_during_ingest(client: TestClient, backend: str) -> None:
    """One thread ingests (encoding, committing) while others search: every search
    succeeds and sees the index before or after a write, never half of one."""
    digests = sorted(SEEDS.glob("2025-1*.txt"))
    if backend == "milvus":  # milvus-lite scans every passage per BM25 search: fewer writes
        digests = digests[:8]
    renamed = [
        p.read_text().replace("Image for cluster ", "Image for cluster 9") for p in digests
    ]  # new ids: c6 -> c96, ...
    errors: list[str] = []
    counts: list[int] = []
    done = threading.Event()
    lock = threading.Lock()

    def ingest() -> None:
        try:
            for text in renamed:
                r = client.post("/documents", content=text, headers=AUTH)
                if r.status_code != 200:
                    errors.append(f"ingest {r.status_code}")
        finally:
            done.set()

    def search() -> None:
        seen: list[int] = []
        while not done.is_set():
            r = client.get("/search", params={"q": "talks in Geneva", "k": 100, "mode": "lexical"})
            if r.status_code != 200:
                errors.append(f"search {r.status_code}")
                continue
            ids = [h["id"] for h in r.json()["results"]]
            # A cluster and its renamed copy have identical text: either both or
            # only the original are visible, never a half-written copy.
            for h in r.json()["results"]:
                if not h["passages"]:
                    errors.append(f"{h['id']} without passages")
            seen.append(len(ids))
        # Writes only add here, so what one reader sees never shrinks.
        if seen != sorted(seen):
            errors.append(f"result counts went back: {seen}")
        with lock:
            counts.extend(seen)

    threads = [threading.Thread(target=ingest)] + [
        threading.Thread(target=search) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert counts and min(counts) >= 1
    assert client.get("/stats").json()["clusters"] == 41 + len(digests)
    final = client.get(
        "/search", params={"q": "talks in Geneva", "k": 100, "mode": "lexical"}
    ).json()
    assert len(final["results"]) >= max(counts)


def test_concurrent_writes_are_serialised(client: TestClient) -> None:
    body = seed_text("2025-10-03_c6.txt").replace("Image for cluster 6", "Image for cluster 77")
    results: list[int] = []

    def post() -> None:
        results.append(client.post("/documents", content=body, headers=AUTH).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert client.get("/stats").json()["clusters"] == 42


def test_an_id_with_a_slash_is_reachable(client: TestClient) -> None:
    """Observed (issue 10): an id containing "/" could be ingested and searched, but
    GET and DELETE /clusters/a%2Fb answered 404."""
    record = {
        "id": "wire/2026-01-05/1",
        "title": "Kraken rises off Lisbon",
        "text": "A giant squid.",
    }
    r = client.post(
        "/documents",
        content=json.dumps(record),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    path = "/clusters/wire%2F2026-01-05%2F1"
    assert client.get(path).json()["id"] == "wire/2026-01-05/1"
    assert client.get(path + "/related").status_code == 200
    assert client.get(path + "/thread").status_code == 200
    assert client.get("/clusters/2025-10-20-c1/related").status_code == 200  # unchanged
    assert client.delete(path, headers=AUTH).status_code == 200
    assert client.get(path).status_code == 404


def test_facets_count_the_strong_hits_and_each_value_filters_search(client: TestClient) -> None:
    r = client.get("/facets", params={"q": "Ukraine peace talks"})
    assert r.status_code == 200
    data = r.json()
    facets = data["facets"]
    assert data["hits"] >= 1 and set(facets) == {"sources", "entities", "sentiment", "dates"}
    assert all(f["count"] <= data["hits"] for group in facets.values() for f in group)
    assert [d["value"] for d in facets["dates"]] == sorted(d["value"] for d in facets["dates"])
    top_source = facets["sources"][0]
    filtered = client.get(
        "/search", params={"q": "Ukraine peace talks", "source": top_source["value"], "k": 100}
    ).json()["results"]
    strong = [h for h in filtered if not h["weak"]]
    assert len(strong) >= top_source["count"] and all(
        top_source["value"] in h["sources"] for h in filtered
    )
    entity = facets["entities"][0]["value"]
    assert client.get("/search", params={"q": "Ukraine peace talks", "entity": entity}).json()[
        "results"
    ]
    assert client.get("/facets", params={"q": " "}).status_code == 400


def test_a_bug_is_a_500_with_an_id_the_log_has(
    client: TestClient,
    seeded: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug is not a bad request: the answer is 500 and gives an id, and the server log
    holds the traceback under that id."""

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug in the engine")

    monkeypatch.setattr(seeded.queries, "search_with_notes", broken)
    with caplog.at_level("ERROR", logger="searchengine.http.app"):
        r = client.get("/search", params={"q": "prisoners"})
    assert r.status_code == 500 and r.json()["error"] == "internal_error", r.text
    error_id = r.headers["X-Error-Id"]
    assert error_id in r.json()["detail"] and "a bug" not in r.json()["detail"]
    logged = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert logged and logged[0].exc_info and "a bug in the engine" in str(logged[0].exc_info[1])
