"""The word index of the embedded backend: SQLite FTS5 over the passages (porter
stems, folded accents) and a trigram index for words the index does not know, the
vocabulary an unknown query word is matched against, and per-cluster document
frequencies (how much a query word says)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from searchengine.backends.embedded.database import Database
from searchengine.core.contract import Filters
from searchengine.core.filters import to_sql
from searchengine.core.fuzzy import Vocabulary


def fts_query(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression: any of the terms (bm25 rewards matching more of them)."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def trigram_query(terms: Sequence[str], chunk: int = 3, most: int = 0) -> str | None:
    """Any `chunk`-character piece of any term (the whole term if shorter, when it
    has three or more characters); at most `most` pieces per term (0: all),
    spread evenly over it. The trigram index matches a piece of four or more
    characters as a phrase of consecutive trigrams."""
    grams: dict[str, None] = {}
    for term in terms:
        if 3 <= len(term) < chunk:
            grams.setdefault(term, None)
        starts = list(range(len(term) - chunk + 1))
        if most and len(starts) > most:
            step = (len(starts) - 1) / (most - 1) if most > 1 else 0
            starts = sorted({round(i * step) for i in range(most)})
        for i in starts:
            grams.setdefault(term[i : i + chunk], None)
    return fts_query(list(grams))


class WordIndex(Database):
    """Word search and word statistics over the passages' FTS5 tables."""

    _vocabulary: tuple[int, Vocabulary] | None = None  # (generation, words): see vocabulary()

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of clusters, and in how many of them each analysed term occurs
        (absent: none): how much a query word says (`search._TermCoverage`)."""
        n = self.db.execute("SELECT count(*) FROM clusters").fetchone()[0]
        return int(n), dict(
            self._select_in("SELECT term, df FROM term_df WHERE term IN ({})", terms)
        )

    def all_document_frequencies(self) -> Iterator[tuple[str, int]]:
        """(term, number of clusters holding it) for every term."""
        yield from self.db.execute("SELECT term, df FROM term_df")

    def vocabulary(self) -> Vocabulary:
        """Every word of the word index (porter stems, folded) of four or more
        letters: what an unknown query word is matched against (fuzzy.py). Read
        once per generation per process (~50k words at 20k passages)."""
        generation = self.state()[0]
        cached = self._vocabulary
        if cached is not None and cached[0] == generation:
            return cached[1]
        db = self.db
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.passages_vocab "
            "USING fts5vocab(main, 'passages_fts', 'row')"
        )
        words = Vocabulary(
            r[0]
            for r in db.execute(
                "SELECT term FROM temp.passages_vocab WHERE length(term) >= 4 AND cnt > 0"
            )
        )
        self._vocabulary = (generation, words)
        return words

    def unknown_terms(self, terms: Sequence[str]) -> list[str]:
        """The terms that occur in no passage (as the word index tokenises and stems them)."""
        out = []
        for term in terms:
            match = '"' + term.replace('"', '""') + '"'
            found = self.db.execute(
                "SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? LIMIT 1", (match,)
            ).fetchone()
            if found is None:
                out.append(term)
        return out

    def word_search(
        self, terms: Sequence[str], limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score) for passages holding any of the terms (FTS5)."""
        match = fts_query(terms)
        return self.full_text(match, limit, filters) if match else []

    def trigram_search(
        self, terms: Sequence[str], chunk: int, pieces: int, limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score) for passages sharing character pieces with the
        terms (the trigram index): what catches typos and other spellings."""
        match = trigram_query(terms, chunk, pieces)
        return self.full_text(match, limit, filters, table="passages_trigram") if match else []

    def full_text(
        self,
        match: str,
        limit: int,
        filters: Filters,
        table: str = "passages_fts",
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score, higher is better) for an FTS5 MATCH expression
        over the word index (`passages_fts`) or the trigram index (`passages_trigram`)."""
        if table not in ("passages_fts", "passages_trigram"):
            raise ValueError(f"no full-text table {table!r}")
        if not filters:
            # No filter: the full-text index alone answers; joining every matching
            # row to its passage and cluster only to keep them all cost ~2x.
            rows = self.db.execute(
                f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ?"
                f" ORDER BY bm25({table}) LIMIT ?",
                (match, limit),
            ).fetchall()
            return [(int(r[0]), float(r[1])) for r in rows]
        where, args = to_sql(filters)
        rows = self.db.execute(
            f"SELECT p.id, -bm25({table}) AS score FROM {table}"
            f" JOIN passages p ON p.id = {table}.rowid"
            " JOIN clusters c ON c.id = p.cluster_id"
            f" WHERE {table} MATCH ? AND {where}"
            f" ORDER BY bm25({table}) LIMIT ?",
            [match, *args, limit],
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]
