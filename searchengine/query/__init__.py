"""Searching: candidates, fusion, calibrated relevance, news orderings, and the
engine's searches with the notes their answers carry."""
