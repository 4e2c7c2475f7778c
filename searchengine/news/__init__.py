"""News views over the index: coverage and entity pages, saved searches and alerts."""
