"""The search page in a real headless Chromium, served by a real `searchengine serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import SEEDS, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EXE = Path(sys.executable).parent / "searchengine"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium); CI installs it",
        allow_module_level=True,
    )


@contextmanager
def serving(index: Path, log_path: Path, key: str | None = None) -> Iterator[str]:
    """`searchengine serve` on `index` as its own process, until it answers /health."""
    port = free_port()
    log = open(log_path, "w")
    env = {**os.environ, **({"SEARCHENGINE_API_KEY": key} if key else {})}
    proc = subprocess.Popen(
        [str(EXE), "serve", "--index", str(index), "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log_path.read_text())
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    with serving(built_index(tmp_path), tmp_path / "server.log") as url:
        yield url


@contextmanager
def new_page() -> Iterator[Any]:
    """A page of a fresh headless chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def built_index(tmp_path: Path, source: Path = SEEDS) -> Path:
    """`source` (seeds/ unless given) indexed by the CLI with the model-free hashing
    encoder."""
    index = tmp_path / "idx"
    subprocess.run(
        [str(EXE), "index", str(source), "--index", str(index), "--model", "hashing", "-q"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return index


def launch(p):  # type: ignore[no-untyped-def]
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def test_search_open_cluster_see_articles(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(server + "/")
            page.fill("#q", "Venezuela prisoner releases")
            page.click("#go")
            first = page.locator("#results .result").first
            first.wait_for(timeout=15_000)
            assert first.get_attribute("data-id") == "2026-01-09-c10"
            assert "Venezuela Releases Political Prisoners" in first.inner_text()
            assert page.locator("#results .result").first.locator("mark").count() > 0
            page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

            first.locator("a.open").click()
            page.locator("#articles .article").first.wait_for(timeout=15_000)
            assert page.locator("#articles .article").count() == 3
            assert "Sky News" in page.locator("#articles").inner_text()
            page.locator("#related li").first.wait_for(timeout=15_000)
            page.screenshot(path=str(tmp_path / "cluster.png"), full_page=True)
            assert (tmp_path / "cluster.png").stat().st_size > 0
            assert not failed, failed  # nothing fetched from outside the app
        finally:
            browser.close()


def test_the_url_holds_the_search_and_back_returns_to_it(server: str, tmp_path: Path) -> None:
    """`/?q=…` was ignored (only `#q=`); the back button now walks searches and clusters."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(server + "/?q=Venezuela+prisoner+releases")
            first = page.locator("#results .result").first
            first.wait_for(timeout=15_000)
            assert first.get_attribute("data-id") == "2026-01-09-c10"
            assert page.input_value("#q") == "Venezuela prisoner releases"
            # Ids and scores are out of the way: in a closed <details>, not the meta line.
            assert "score" not in first.locator(".meta").first.inner_text()
            assert "score" in (first.locator("details.more").text_content() or "")

            first.locator("a.open").click()
            page.wait_for_url("**/?cluster=2026-01-09-c10")
            thread = json.loads(
                urllib.request.urlopen(f"{server}/clusters/2026-01-09-c10/thread").read()
            )["results"]
            page.wait_for_function(
                "!document.querySelector('#related').innerText.includes('Loading')",
                timeout=15_000,
            )
            if len(thread) > 1:
                assert page.locator("#thread .timeline li").count() == len(thread)
                assert page.locator("#thread .timeline li.here").count() == 1
            else:  # the story is this cluster alone: no timeline of one
                assert page.locator("#thread").count() == 0
            page.go_back()
            page.wait_for_url("**/?q=Venezuela+prisoner+releases")
            page.locator("#results .result").first.wait_for(timeout=15_000)
            assert page.locator("#results .result").count() == 10

            page.click("#more")
            page.wait_for_function("document.querySelectorAll('#results .result').length > 10")

            page.goto(server + "/#q=Maduro")  # a link made before the URL held the state
            page.wait_for_url("**/?q=Maduro")
            page.locator("#results .result").first.wait_for(timeout=15_000)
        finally:
            browser.close()


def test_filters_and_a_phone_sized_screen(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(server + "/?q=Venezuela&entity=Nicolas+Maduro&kind=articles")
            page.locator("#results .result").first.wait_for(timeout=15_000)
            assert page.input_value("#entity") == "Nicolas Maduro"
            assert page.is_checked("#kind-articles")
            ids = [r.get_attribute("data-id") for r in page.locator("#results .result").all()]
            assert ids and all("-a" in (i or "") for i in ids)  # articles, not clusters
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, width  # nothing wider than the phone
            page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            page.select_option("#sentiment", "positive")
            page.click("#go")
            page.wait_for_url("**sentiment=positive**")
        finally:
            browser.close()


def test_weaker_matches_more_like_this_and_for_you(server: str, tmp_path: Path) -> None:
    """Results under the relevance cut-off are listed apart (and a query with no strong
    match says so); "More like this" lists a story's related ones; a story liked on
    its page feeds the home page's "For you" list, which survives a reload."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(server + "/?q=" + "Venezuela prisoner releases".replace(" ", "+"))
            page.locator("#results .result").first.wait_for(timeout=15_000)
            divider = page.locator("#results #weaker")
            assert divider.count() == 1
            strong = page.locator("#results .result:not(.weak)").count()
            weak = page.locator("#results .result.weak").count()
            assert strong >= 1 and weak >= 1 and strong + weak == 10
            # every weak result comes after the divider
            order = page.eval_on_selector_all(
                "#results > li",
                "els => els.map(e => e.id === 'weaker' ? 'D' : (e.classList.contains('weak') ? 'w' : 's'))",
            )
            assert "".join(order).strip("s").lstrip("D").strip("w") == ""
            page.screenshot(path=str(tmp_path / "weaker.png"), full_page=True)

            page.goto(server + "/?q=zebra+giraffe+safari")  # nothing like it (hashing encoder)
            page.locator("#results .result").first.wait_for(timeout=15_000)
            assert page.locator("#status").inner_text().startswith("No strong match")
            assert page.locator("#results #weaker").count() == 0

            page.goto(server + "/?q=Venezuela+prisoner+releases")
            page.locator("#results .result .like-this").first.click()
            page.locator("#results .story").first.wait_for(timeout=15_000)
            assert "like=2026-01-09-c10" in page.url
            assert "Stories like" in page.locator("#status").inner_text()
            assert page.locator("#results .story").count() >= 1

            page.goto(server + "/?cluster=2026-01-09-c10")
            page.locator("#like").wait_for(timeout=15_000)
            assert page.locator("#like").get_attribute("aria-pressed") == "false"
            page.click("#like")
            assert page.locator("#like").get_attribute("aria-pressed") == "true"
            page.goto(server + "/")
            page.locator("#for-you .story").first.wait_for(timeout=15_000)
            ids = page.eval_on_selector_all("#for-you .story", "els => els.map(e => e.dataset.id)")
            assert ids and "2026-01-09-c10" not in ids  # unseen: not the liked story itself
            # Each item says what it is, as the API labels it ("popular" fills the list).
            asked = json.dumps({"liked": ["2026-01-09-c10"], "k": 5, "diversity": 0.3}).encode()
            request = urllib.request.Request(
                server + "/recommend", data=asked, headers={"content-type": "application/json"}
            )
            labels = {
                r["id"]: r["label"] for r in json.load(urllib.request.urlopen(request))["results"]
            }
            shown = page.eval_on_selector_all(
                "#for-you .story", "els => els.map(e => [e.dataset.id, e.textContent])"
            )
            for cid, text in shown:
                if labels.get(cid) in ("popular", "same story"):
                    assert labels[cid] in text, (cid, text)
            page.screenshot(path=str(tmp_path / "for-you.png"), full_page=True)
            # A liked story that has left the index since is forgotten, not an error.
            page.evaluate(
                "localStorage.setItem('searchengine.liked', "
                "JSON.stringify(['gone-from-the-index', '2026-01-09-c10']))"
            )
            page.reload()
            page.locator("#for-you .story").first.wait_for(timeout=15_000)
            kept = page.evaluate("JSON.parse(localStorage.getItem('searchengine.liked'))")
            assert kept == ["2026-01-09-c10"]
            page.click("#forget")
            page.wait_for_function("!document.querySelector('#for-you')", timeout=15_000)
        finally:
            browser.close()


def test_facets_count_the_hits_and_filter_when_clicked(server: str, tmp_path: Path) -> None:
    """Sources, entities, sentiment and a date histogram (SVG) over the strong hits;
    a click on a source chip or a month bar filters the search (and the URL)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(server + "/?q=Ukraine+peace+talks")
            page.locator("#facets .chip").first.wait_for(timeout=15_000)
            for facet in ("source", "entity", "dates"):
                assert page.locator(f'#facets [data-facet="{facet}"]').count() == 1, facet
            bars = page.locator("#facets svg rect.bar")
            assert bars.count() >= 2  # one bar per month (or per day) the strong hits span
            page.screenshot(path=str(tmp_path / "facets.png"), full_page=True)

            chip = page.locator('#facets [data-facet="source"] .chip').first
            host = chip.get_attribute("data-value")
            chip.click()
            page.wait_for_url(f"**source={host}**", timeout=15_000)
            # The filtered list, not the one before it (which stays until the answer).
            page.wait_for_function(
                f"(document.querySelector('#results').dataset.for || '').includes('source={host}')",
                timeout=15_000,
            )
            assert page.locator("#filters").get_attribute("open") is not None
            titles = page.eval_on_selector_all("#results .result", "els => els.length")
            assert titles >= 1
            for hit in page.eval_on_selector_all(
                "#results .result", "els => els.map(e => e.dataset.id)"
            ):
                sources = urllib.request.urlopen(f"{server}/clusters/{hit}").read().decode()
                assert host in sources

            page.goto(server + "/?q=Ukraine+peace+talks")
            bar = page.locator("#facets svg rect.bar").first
            bar.wait_for(timeout=15_000)
            # A bar is a month ("2025-11"), or a day when the strong hits span two
            # months or less ("2025-11-24"): which hits are strong decides.
            value = bar.get_attribute("data-value") or ""
            bar.click()
            start = value if len(value) == 10 else f"{value}-01"
            page.wait_for_url(f"**from={start}**", timeout=15_000)
            page.locator("#results .result").first.wait_for(timeout=15_000)
            dates = page.eval_on_selector_all(
                "#results .result > .meta",
                f"els => els.map(e => e.textContent.slice(0, {len(value)}))",
            )
            assert dates and all(d == value for d in dates), dates
            page.click("#clear-filters")
            page.wait_for_function("!location.search.includes('from=')", timeout=15_000)

            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(server + "/?q=Ukraine+peace+talks")
            page.locator("#facets .chip").first.wait_for(timeout=15_000)
            page.screenshot(path=str(tmp_path / "facets-390.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 400  # nothing forces a sideways scroll on a phone
        finally:
            browser.close()


def test_collapsed_results_coverage_chart_and_an_entity_page(server: str, tmp_path: Path) -> None:
    """One result per story (its other hits a click away), a story's coverage drawn in
    SVG (sentiment per publisher and per day of its thread), and an entity's page
    reached from an article's entities, with its companions linking on."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(server + "/?q=Ukraine+peace+plan+talks&collapse=true")
            page.locator("#results .result").first.wait_for(timeout=15_000)
            assert page.locator("#collapse").is_checked()
            more = page.locator("#results .story-more").first
            assert "more from this story" in more.inner_text()
            more.locator("summary").click()
            assert more.locator("li a").count() >= 2
            page.screenshot(path=str(tmp_path / "collapsed.png"), full_page=True)
            ids = page.eval_on_selector_all("#results .result", "els => els.map(e => e.dataset.id)")
            assert len(ids) == len(set(ids))

            page.select_option("#order", "date")
            page.click("#go")
            page.wait_for_url("**sort=date**", timeout=15_000)
            page.locator("#results .result").first.wait_for(timeout=15_000)

            page.goto(server + "/?cluster=2025-11-24-c2")
            chart = page.locator("#coverage svg.chart").first
            chart.wait_for(timeout=15_000)
            assert page.locator("#coverage svg.chart").count() == 2
            assert page.locator("#coverage svg rect[data-sentiment]").count() >= 4
            assert page.locator("#coverage .coverage-days tr").count() >= 3  # header + days
            page.locator("#coverage").screenshot(path=str(tmp_path / "coverage.png"))

            link = page.locator("#articles a.entity").first
            name = link.inner_text()
            link.click()
            page.wait_for_url("**name=**", timeout=15_000)
            page.locator("#entity-stories li").first.wait_for(timeout=15_000)
            assert page.locator("#entity-name").inner_text()
            assert page.locator("#detail svg.chart rect[data-sentiment]").count() >= 1
            page.screenshot(path=str(tmp_path / "entity.png"), full_page=True)
            companion = page.locator(".companions a.entity").first
            other = companion.inner_text()
            assert other != name
            companion.click()
            page.wait_for_function(
                f"document.querySelector('#entity-name')?.textContent === {other!r}",
                timeout=15_000,
            )
            page.go_back()
            page.wait_for_function(
                "document.querySelector('#entity-name')?.textContent !== undefined", timeout=15_000
            )
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(server + "/?cluster=2025-11-24-c2")
            page.locator("#coverage svg.chart").first.wait_for(timeout=15_000)
            assert page.evaluate("document.documentElement.scrollWidth") <= 400
            page.screenshot(path=str(tmp_path / "coverage-390.png"), full_page=True)
        finally:
            browser.close()


def test_the_alerts_page_lists_what_saved_searches_matched(tmp_path: Path) -> None:
    """A search saved with the CLI fires when a digest is indexed; the page's Alerts
    view asks for the API key (alerts are the key holders'), refuses a wrong one, and
    then lists the match, newest first, linked to its story."""
    from playwright.sync_api import sync_playwright

    index = tmp_path / "idx"
    venezuela = SEEDS / "000_04a9b59b936e3d08.txt"

    def cli(*args: str) -> None:
        subprocess.run(
            [str(EXE), *args, "--index", str(index)], check=True, capture_output=True, timeout=300
        )

    cli("index", str(SEEDS / "2025-10-03_c6.txt"), "--model", "hashing", "-q")
    cli("searches", "add", "Venezuela political prisoners released")
    cli("index", str(venezuela), "-q")
    with serving(index, tmp_path / "server.log", key="page-key") as url:
        with sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_page()
                page.goto(url + "/")
                page.click("#alerts-link")
                page.wait_for_url("**alerts**", timeout=15_000)
                page.locator("#key-form").wait_for(timeout=15_000)
                assert "API key" in page.locator("#key-form").inner_text()
                assert page.locator("#results li.alert").count() == 0
                page.fill("#api-key", "wrong-key")
                page.click("#key-form button")
                page.locator("#key-form >> text=not accepted").wait_for(timeout=15_000)
                page.fill("#api-key", "page-key")
                page.click("#key-form button")
                item = page.locator("#results li.alert").first
                item.wait_for(timeout=15_000)
                assert item.get_attribute("data-id") == "2026-01-09-c10"
                assert "Venezuela political prisoners released" in item.inner_text()
                page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
                item.locator("a.open").click()
                page.wait_for_url("**cluster=2026-01-09-c10**", timeout=15_000)
            finally:
                browser.close()


def test_an_empty_page_says_which_filter_emptied_it_and_clears_it(
    server: str, tmp_path: Path
) -> None:
    """The page said "No stories found." with no hint that a filter removed everything
    and no way to clear it."""
    with new_page() as page:
        page.goto(server + "/?q=prisoners+released&source=bbcc.com")
        page.locator("#clear-empty").wait_for(timeout=15_000)
        said = page.locator("#status").inner_text()
        assert "No stories found." in said
        assert "The source filter (bbcc.com) matches no story" in said and "'bbc.com'" in said
        assert page.locator("text=clear filters").count() == 1
        page.screenshot(path=str(tmp_path / "empty.png"), full_page=True)
        page.click("#clear-empty")
        page.wait_for_function(
            "(document.querySelector('#results').dataset.for || '') === 'q=prisoners+released'",
            timeout=15_000,
        )
        assert "source=" not in page.url
        assert page.locator("#results .result").count() >= 1


def test_the_front_page_shows_the_latest_and_most_covered_stories(
    server: str, tmp_path: Path
) -> None:
    """The home page was a search box and nothing else for a new visitor."""
    front = json.loads(urllib.request.urlopen(f"{server}/front").read())
    assert front["newest"] == "2026-03-10" and len(front["widest"]) == 5
    assert [d["date"] for d in front["days"]] == sorted(
        (d["date"] for d in front["days"]), reverse=True
    )
    with new_page() as page:
        page.goto(server + "/")
        page.locator("#widest li.story").first.wait_for(timeout=15_000)
        widest = page.eval_on_selector_all("#widest li.story", "els => els.map(e => e.dataset.id)")
        assert widest == [s["id"] for s in front["widest"]]
        assert "5 outlets" in page.locator("#widest li.story").first.inner_text()
        days = page.eval_on_selector_all("section.day", "els => els.map(e => e.dataset.date)")
        assert days == [d["date"] for d in front["days"]] and len(days) == 3
        assert "10 March 2026" in page.locator("section.day h2").first.inner_text()
        page.screenshot(path=str(tmp_path / "front.png"), full_page=True)
        page.locator("#widest a.open").first.click()
        page.wait_for_url(f"**cluster={widest[0]}**", timeout=15_000)


def test_following_a_search_from_the_page_saves_it_with_the_key(tmp_path: Path) -> None:
    """Saving a search (an alert) needed the CLI or an API client."""
    with serving(built_index(tmp_path), tmp_path / "server.log", key="page-key") as url:
        with new_page() as page:
            page.goto(url + "/?q=Venezuela+prisoners&source=bbc.com")
            page.locator("#follow").wait_for(timeout=15_000)
            page.click("#follow")
            page.locator("#follow-form").wait_for(timeout=15_000)
            page.fill("#follow-key", "page-key")
            page.click("#follow-form button")
            page.locator("#followed >> text=following").wait_for(timeout=15_000)
            page.screenshot(path=str(tmp_path / "follow.png"), full_page=True)
        request = urllib.request.Request(
            url + "/searches", headers={"Authorization": "Bearer page-key"}
        )
        saved = json.loads(urllib.request.urlopen(request).read())["results"]
    assert [(s["query"], s["filters"]["sources"]) for s in saved] == [
        ("Venezuela prisoners", ["bbc.com"])
    ]


def test_a_generic_document_is_shown_as_what_it_is(tmp_path: Path) -> None:
    """A JSONL headline's snippet read `X. X`, and its story page showed empty "Key
    points", "Coverage · 0 articles", empty charts and "Articles (0)"."""
    docs = tmp_path / "headlines.jsonl"
    title = "Malaysia Airlines search moves to the southern Indian Ocean"
    rows = [
        {
            "id": "h1",
            "title": title,
            "text": title,
            "date": "2014-03-24",
            "source": "www.bbc.co.uk",
        },
        {"id": "h2", "title": "Oil prices slide on weak Chinese exports", "date": "2014-03-10"},
    ]
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with serving(built_index(tmp_path, docs), tmp_path / "server.log") as url:
        found = json.loads(urllib.request.urlopen(f"{url}/search?q=Malaysia+Airlines").read())
        snippet = found["results"][0]["passages"][0]["text"]
        assert snippet == title  # not "title. title"
        with new_page() as page:
            page.goto(url + "/?cluster=h1")
            page.locator("#related").wait_for(timeout=15_000)
            page.wait_for_function(
                "!document.querySelector('#related').innerText.includes('Loading')",
                timeout=15_000,
            )
            text = page.locator("#detail").inner_text()
            for absent in ("Key points", "Coverage", "Articles (0)", "The story so far"):
                assert absent not in text, absent
            assert page.locator("#summary").count() == 0  # the text only repeats the title
            assert "null" not in text
            assert "www.bbc.co.uk" in text and "2014-03-24" in text
            page.screenshot(path=str(tmp_path / "generic.png"), full_page=True)
