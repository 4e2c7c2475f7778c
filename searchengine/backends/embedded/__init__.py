"""The embedded backend: an index folder on this machine (SQLite + FTS5 + FAISS)."""
