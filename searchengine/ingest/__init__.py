"""Files -> clusters -> the index: parsing digests and JSONL, validating records, the
incremental write path, copying between indexes."""
