"""Digest text and JSONL -> Cluster records.

The digest format is loose (see DESIGN.md): CRLF or LF, several clusters per
file under one date line, optional image prompt and entities line, and the
article metadata glued together without separators
(`Entities: A, BTone: neutralSentiment: positiveIntent: inform`). Everything
a real upstream file does is accepted; anything that leaves a cluster without
a title, a valid date or a summary is a `ParseError` naming file and line,
and costs only that cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from searchengine.core.documents import Cluster, parse_date
from searchengine.errors import InputNotFound, ParseError
from searchengine.ingest.digest import Line, bad_byte_column, check_lines, parse_digest
from searchengine.ingest.result import ParseResult, _check_unique_ids
from searchengine.limits import DEFAULT_LIMITS, InputLimits

# --- JSON and JSONL -------------------------------------------------------


def record_to_cluster(
    data: Any, source: str, line: int, limits: InputLimits = DEFAULT_LIMITS
) -> Cluster:
    """A JSON object -> Cluster: either a full cluster record (the parser's
    fields) or a generic document `{"id", "title", "text", "date"?, "source"?}`
    (BEIR's `_id` is accepted for `id`). Every field is checked (`validate`)."""
    from searchengine.ingest.validate import cluster_from_record

    try:
        record_date: str | None = None
        if isinstance(data, dict) and data.get("date") not in (None, ""):  # ("": undated)
            if not isinstance(data["date"], str):
                raise ValueError("'date' must be a string")
            record_date = parse_date(data["date"]).isoformat()
        cluster = cluster_from_record(data, record_date, limits)
    except ValueError as err:
        raise ParseError(source, line, str(err)) from None
    cluster.origin = f"{source}:{line}"
    return cluster


def _loads(raw: str) -> Any:
    """json.loads whose every failure is a ValueError (a 100k-deep array is a
    RecursionError there; a 5,000-digit number is Python's int-size ValueError)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError as err:
        raise ValueError(f"invalid JSON: {err}") from None


def parse_jsonl(
    text: str, source: str = "<jsonl>", limits: InputLimits = DEFAULT_LIMITS
) -> ParseResult:
    """One record per line; blank lines are skipped; a bad line is an error for that line only."""
    result = ParseResult()
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            check_lines([Line(number, raw)], source, limits)
            try:
                data = _loads(raw)
            except ValueError as err:
                raise ParseError(source, number, str(err)) from None
            result.clusters.append(record_to_cluster(data, source, number, limits))
        except ParseError as err:
            result.errors.append(err)
    _check_unique_ids(result, source)
    return result


def parse_json(
    text: str, source: str = "<json>", limits: InputLimits = DEFAULT_LIMITS
) -> ParseResult:
    """A JSON array of records (or one record); falls back to JSONL. An error
    names the record's position in the array."""
    if (column := bad_byte_column(text)) is not None:
        line = text.count("\n", 0, column - 1) + 1
        return ParseResult(errors=[ParseError(source, line, "invalid UTF-8 byte")])
    try:
        data = _loads(text)
    except ValueError as err:
        if "nested too deeply" in str(err):
            return ParseResult(errors=[ParseError(source, 1, str(err))])
        return parse_jsonl(text, source, limits)
    records = data if isinstance(data, list) else [data]
    result = ParseResult()
    for i, record in enumerate(records, 1):
        try:
            result.clusters.append(record_to_cluster(record, source, i, limits))
        except ParseError as err:
            result.errors.append(err)
    _check_unique_ids(result, source)
    return result


def parse_text(text: str, source: str, limits: InputLimits = DEFAULT_LIMITS) -> ParseResult:
    """Digest, JSON or JSONL, told apart by the first non-blank character."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "[":
        return parse_json(text, source, limits)
    if head == "{":
        return parse_jsonl(text, source, limits)
    return parse_digest(text, source, limits)


def decode(data: bytes) -> str:
    """UTF-8 text in which a bad byte stays visible (as U+DC80..U+DCFF, see
    `bad_byte_column`) so that it costs its own cluster, not the whole file."""
    return data.decode("utf-8", errors="surrogateescape")


INPUT_SUFFIXES = (".txt", ".md", ".digest", ".jsonl", ".json", ".jsonl.gz")


def input_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into the digest/JSONL files they hold, in a stable order."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.name.endswith(INPUT_SUFFIXES)
                    and not p.name.startswith(".")
                )
            )
        elif path.exists():
            out.append(path)
        else:
            raise InputNotFound(f"no such file or folder: {path}")
    return out


def _gunzip(blob: bytes) -> tuple[bytes, str | None]:
    """The decompressed bytes up to the last whole line before any corruption, and
    what went wrong (None when the data is whole). Fed in small pieces so that
    everything before the damage is kept; concatenated members are read in turn."""
    import zlib

    out: list[bytes] = []
    damage: str | None = None
    rest = blob
    while rest:
        inflater = zlib.decompressobj(wbits=31)  # gzip framing
        try:
            for at in range(0, len(rest), _GZIP_PIECE):
                out.append(inflater.decompress(rest[at : at + _GZIP_PIECE]))
                if inflater.eof:
                    break
        except zlib.error as err:
            damage = f"corrupt gzip data ({err})"
            break
        if not inflater.eof:
            damage = "corrupt gzip data (the file ends mid-stream)"
            break
        rest = inflater.unused_data
    data = b"".join(out)
    if damage is not None:
        data = data[: data.rfind(b"\n") + 1]
    return data, damage


_GZIP_PIECE = 1 << 16


def read_file(path: Path, limits: InputLimits = DEFAULT_LIMITS) -> ParseResult:
    """Parse one file, whatever its kind; unreadable bytes are an error at their
    line, costing only the cluster or record they are in."""
    source = str(path)
    damage: str | None = None
    try:
        if path.name.endswith(".gz"):
            data, damage = _gunzip(path.read_bytes())
        else:
            data = path.read_bytes()
    except OSError as err:
        return ParseResult(errors=[ParseError(source, 1, f"cannot read file: {err}")])
    text = decode(data)
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        result = parse_jsonl(text, source, limits)
    elif path.suffix == ".json":
        result = parse_json(text, source, limits)
    else:
        result = parse_text(text, source, limits)
    if damage is not None:
        line = text.count("\n") + 1
        result.errors.append(ParseError(source, line, f"{damage}; the rest of the file is lost"))
    return result


def iter_files(
    paths: Iterable[str | Path], limits: InputLimits = DEFAULT_LIMITS
) -> Iterator[tuple[Path, ParseResult]]:
    """Parse each input file in turn."""
    for path in input_files(paths):
        yield path, read_file(path, limits)
