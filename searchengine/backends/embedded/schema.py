"""The database schema: named migrations, applied in order when an index is opened.

Each migration runs in one transaction. `vector_log` (003) records, per
generation, which passage vectors were added and removed: a process that has
the index open replays it to bring its in-memory FAISS index up to date with
what other processes wrote, instead of reloading everything.
"""

from __future__ import annotations

_M001_INITIAL = """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE clusters (
            id TEXT PRIMARY KEY,
            date TEXT,
            title TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            n_sources INTEGER NOT NULL,
            sentiment TEXT,
            record TEXT NOT NULL,
            vector BLOB,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        );
        CREATE INDEX clusters_date ON clusters(date);
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,
            cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            title TEXT NOT NULL,
            publisher TEXT,
            sentiment TEXT
        );
        CREATE INDEX articles_cluster ON articles(cluster_id);
        CREATE TABLE sources (
            cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
            host TEXT NOT NULL,
            count INTEGER NOT NULL
        );
        CREATE INDEX sources_host ON sources(host);
        CREATE INDEX sources_cluster ON sources(cluster_id);
        CREATE TABLE entities (
            cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
            article_id TEXT,
            name TEXT NOT NULL,
            key TEXT NOT NULL
        );
        CREATE INDEX entities_key ON entities(key);
        CREATE INDEX entities_cluster ON entities(cluster_id);
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
            article_id TEXT,
            field TEXT NOT NULL,
            position INTEGER NOT NULL,
            text TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            embedding BLOB NOT NULL
        );
        CREATE INDEX passages_cluster ON passages(cluster_id);
        CREATE INDEX passages_article ON passages(article_id);
        CREATE VIRTUAL TABLE passages_fts USING fts5(
            text, content='passages', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        -- Character trigrams of the folded text: matches survive typos
        -- ("Liverpol") and cognates across languages ("Afeganistão").
        CREATE VIRTUAL TABLE passages_trigram USING fts5(text, tokenize='trigram');
        CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
            INSERT INTO passages_trigram(rowid, text) VALUES (new.id, fold(new.text));
        END;
        CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            DELETE FROM passages_trigram WHERE rowid = old.id;
        END;
"""

# Term vectors for story similarity ("more like this"): each cluster's term
# counts, and the number of clusters each term occurs in.
_M002_TERMS = """
        CREATE TABLE cluster_terms (
            cluster_id TEXT PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
            terms TEXT NOT NULL
        );
        CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
"""

# Passages are found again by the hash of the text the encoder read, so an
# embedding is reused wherever that text appears in the index; every change to
# the vectors is logged under its generation (see the module docstring).
_M003_VECTOR_LOG = """
        ALTER TABLE passages ADD COLUMN text_hash TEXT;
        UPDATE passages SET text_hash = passage_hash(context, text);
        CREATE INDEX passages_text_hash ON passages(text_hash);
        CREATE TABLE vector_log (
            generation INTEGER NOT NULL,
            passage_id INTEGER NOT NULL,
            added INTEGER NOT NULL
        );
        CREATE INDEX vector_log_generation ON vector_log(generation);
        -- The log is complete only from here on: a reader older than this reloads.
        INSERT OR REPLACE INTO meta(key, value)
            SELECT 'log_floor', coalesce((SELECT value FROM meta WHERE key = 'generation'), '0');
"""

# Saved searches and the alerts they raised on ingest (alerts.py): settings and a
# log beside the content, written without bumping the generation.
_M004_ALERTS = """
        CREATE TABLE saved_searches (
            id TEXT PRIMARY KEY,
            record TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE alerts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            matched_at TEXT NOT NULL,
            search_id TEXT NOT NULL,
            cluster_id TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX alerts_matched_at ON alerts(matched_at);
"""

# Clusters written but not yet matched against the saved searches: marked in the write
# that commits them, cleared in the transaction that records their alerts, so an
# ingest killed between the two is matched by the next one (news/saved.py).
_M005_UNMATCHED = """
        CREATE TABLE unmatched (cluster_id TEXT PRIMARY KEY);
"""

# When an alert is next due for delivery (NULL: nothing to deliver; news/outbox.py).
# Alerts left pending by the thread-per-alert deliveries are due at once.
_M006_ALERT_DUE = """
        ALTER TABLE alerts ADD COLUMN due TEXT;
        CREATE INDEX alerts_due ON alerts(due) WHERE due IS NOT NULL;
        UPDATE alerts SET due = matched_at WHERE json_extract(record, '$.delivery') = 'pending';
"""

# Outlets are kept by registered domain (`filters.host_key`): `www.bbc.co.uk` and
# `bbc.co.uk` are one outlet (a source filter of one found nothing stored as the other).
_M007_HOST_KEYS = """
        UPDATE sources SET host = host_key(host) WHERE host != host_key(host);
"""

# Named migrations, applied in order on open; each runs in one transaction.
MIGRATIONS: list[tuple[str, str]] = [
    ("001_initial", _M001_INITIAL),
    ("002_terms", _M002_TERMS),
    ("003_vector_log", _M003_VECTOR_LOG),
    ("004_alerts", _M004_ALERTS),
    ("005_unmatched", _M005_UNMATCHED),
    ("006_alert_due", _M006_ALERT_DUE),
    ("007_host_keys", _M007_HOST_KEYS),
]
