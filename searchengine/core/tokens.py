"""Words as the word index sees them: SQLite FTS5's own tokenizer (porter stems, folded
diacritics), run on private in-memory tables. The embedded store's full-text tables,
its in-memory word index and the Milvus store's term fields all tokenise through it,
so a word means the same thing in every backend.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache

# The word index's tokenizer (schema 001, `passages_fts`); a test checks they agree.
WORD_TOKENIZER = "porter unicode61 remove_diacritics 2"


class Tokenizer:
    """FTS5's own tokenizer, on private in-memory tables: the tokens are exactly
    the ones the word index holds (porter stems, folded diacritics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        # A small standing table for query terms (a few rows at a time).
        self._conn.execute(f"CREATE VIRTUAL TABLE q USING fts5(text, tokenize='{WORD_TOKENIZER}')")
        self._conn.execute("CREATE VIRTUAL TABLE temp.qv USING fts5vocab(main, q, instance)")
        self._cache: dict[str, tuple[str, ...]] = {}

    def counts(self, rows: Iterable[tuple[int, str]]) -> list[tuple[str, int, int]]:
        """(token, row id, occurrences) of each token of each text, by token then row id."""
        with self._lock:
            conn = self._conn
            conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{WORD_TOKENIZER}')")
            conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, t, instance)")
            try:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", rows)
                conn.execute("COMMIT")
                return conn.execute(
                    "SELECT term, doc, count(*) FROM temp.v GROUP BY term, doc ORDER BY term, doc"
                ).fetchall()
            finally:
                conn.execute("DROP TABLE temp.v")
                conn.execute("DROP TABLE t")

    def tokens(self, terms: Sequence[str]) -> list[tuple[str, ...]]:
        """The tokens of each query term, in order (a phrase when there are several)."""
        cache = self._cache
        missing = [t for t in dict.fromkeys(terms) if t not in cache]
        if missing:
            with self._lock:
                conn = self._conn
                conn.executemany(
                    "INSERT INTO q(rowid, text) VALUES (?, ?)", list(enumerate(missing, 1))
                )
                found: dict[int, list[tuple[int, str]]] = {}
                for term, doc, offset in conn.execute("SELECT term, doc, offset FROM temp.qv"):
                    found.setdefault(doc, []).append((offset, term))
                conn.execute("DELETE FROM q")
                if len(cache) > 100_000:  # query words recur; a bound keeps a server's memory flat
                    cache.clear()
                for i, term in enumerate(missing, 1):
                    cache[term] = tuple(tok for _, tok in sorted(found.get(i, [])))
        return [cache[t] for t in terms]


@lru_cache(maxsize=1)
def tokenizer() -> Tokenizer:
    return Tokenizer()
