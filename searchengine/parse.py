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

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .documents import Article, Cluster
from .errors import ParseError


@dataclass
class ParseResult:
    """What one input yielded: the good clusters and an error for each bad one."""

    clusters: list[Cluster] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


_DATE_LINE = re.compile(r"^\s*Date:\s*(?P<value>.*?)\s*$")
_DIGEST_DATE = re.compile(r"^\s*(\d{1,2}-\d{1,2}-\d{4}|\d{4}-\d{2}-\d{2})\s*$")
_SOURCES = re.compile(r"^\s*Sources:\s*(?P<value>.*?)\s*$")
_IMAGE_FOR = re.compile(r"^\s*Image for cluster\s*(?P<n>\S*)\s*$", re.IGNORECASE)
_IMAGE_PROMPT = re.compile(r"^\s*Image Prompt:\s*(?P<rest>.*?)\s*$", re.IGNORECASE)
_SECTION = re.compile(
    r"^\s*(?P<name>Summary|Key Points|Articles in this Cluster)\s*:?\s*$", re.IGNORECASE
)
_BULLET = re.compile(r"^\s*[\u2022\u2023\u25E6\u2043\u2219*\-–]\s+(?P<text>.*)$")
_META = re.compile(
    r"^(?:Entities:(?P<entities>.*?))?(?:Tone:(?P<tone>.*?))?"
    r"(?:Sentiment:(?P<sentiment>.*?))?(?:Intent:(?P<intent>.*?))?$",
    re.DOTALL,
)
# Publisher suffixes seen upstream: "T | Section | Publisher", "T - Bloomberg",
# "T – POLITICO", "T : NPR", "T – DW – 11/24/2025".
_TRAILING_DATE = re.compile(r"\s+[-–—]\s+\d{1,2}/\d{1,2}/\d{4}\s*$")
_DASH_PUBLISHER = re.compile(r"^(?P<title>.+?)\s+(?:[-–—]|:)\s+(?P<publisher>[^-–—:|]{2,40})$")


def parse_date(value: str) -> date:
    """A digest date: day first (`09-01-2026`), or ISO (`2026-01-09`)."""
    value = value.strip()
    for fmt in ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"bad date {value!r} (expected DD-MM-YYYY)")


def split_publisher(raw: str) -> tuple[str, str | None, str | None]:
    """`'Title | Section | Publisher'` -> ('Title', 'Section', 'Publisher')."""
    title = raw.strip()
    if " | " in title:
        parts = [p.strip() for p in title.split(" | ")]
        head, rest = parts[0], [p for p in parts[1:] if p]
        if head and rest:
            section = " | ".join(rest[:-1]) or None
            return head, section, rest[-1]
        return title, None, None
    title = _TRAILING_DATE.sub("", title)
    m = _DASH_PUBLISHER.match(title)
    if m and _looks_like_publisher(m.group("publisher")):
        return m.group("title").strip(), None, m.group("publisher").strip()
    return title, None, None


def _looks_like_publisher(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 5:
        return False
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in {"the", "of", "de"} for w in words)


@dataclass
class _Line:
    number: int  # 1-based, as editors show it
    text: str


def parse_digest(text: str, source: str = "<text>") -> ParseResult:
    """Parse digest text into clusters; a malformed cluster becomes an error, not an exception."""
    lines = [_Line(i, t.rstrip()) for i, t in enumerate(text.lstrip("\ufeff").splitlines(), 1)]
    result = ParseResult()
    starts = _cluster_starts(lines)
    if not starts:
        first = next((ln for ln in lines if ln.text.strip()), None)
        result.errors.append(
            ParseError(source, first.number if first else 1, "no cluster found (no 'Date:' line)")
        )
        return result
    bounds = [s for s, _ in starts] + [len(lines)]
    for (start, date_index), end in zip(starts, bounds[1:], strict=True):
        try:
            result.clusters.append(_parse_cluster(lines[start:end], date_index - start, source))
        except ParseError as err:
            result.errors.append(err)
    _check_unique_ids(result, source)
    return result


def _cluster_starts(lines: list[_Line]) -> list[tuple[int, int]]:
    """(title index, date index) for every cluster: a cluster starts at the
    non-blank line before its `Date:` line."""
    starts: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        if not _DATE_LINE.match(line.text):
            continue
        j = i - 1
        while j >= 0 and not lines[j].text.strip():
            j -= 1
        floor = starts[-1][1] + 1 if starts else 0
        starts.append((j if j >= floor else i, i))
    return starts


def _parse_cluster(lines: list[_Line], date_at: int, source: str) -> Cluster:
    title_line = lines[0]
    if date_at == 0 or _DIGEST_DATE.match(title_line.text):
        raise ParseError(
            source, lines[date_at].number, "cluster has no title before its 'Date:' line"
        )
    title = title_line.text.strip()
    date_match = _DATE_LINE.match(lines[date_at].text)
    assert date_match is not None
    try:
        cluster_date = parse_date(date_match.group("value"))
    except ValueError as err:
        raise ParseError(source, lines[date_at].number, str(err)) from None

    sources: dict[str, int] = {}
    number: int | None = None
    unknown_header: list[str] = []
    sections: dict[str, list[_Line]] = {"header": [], "image_prompt": []}
    current = "header"
    for line in lines[date_at + 1 :]:
        section = _SECTION.match(line.text)
        if section:
            current = section.group("name").lower()
            if current in sections:
                raise ParseError(source, line.number, f"second '{section.group('name')}' section")
            sections[current] = []
            continue
        if current == "header":
            if m := _SOURCES.match(line.text):
                sources = _parse_sources(m.group("value"), source, line.number)
                continue
            if m := _IMAGE_FOR.match(line.text):
                if not m.group("n").isdigit():
                    raise ParseError(source, line.number, f"bad cluster number {m.group('n')!r}")
                number = int(m.group("n"))
                continue
            if m := _IMAGE_PROMPT.match(line.text):
                current = "image_prompt"
                if m.group("rest"):
                    sections["image_prompt"].append(_Line(line.number, m.group("rest")))
                continue
            if line.text.strip():  # an upstream field we do not know yet: keep it
                unknown_header.append(line.text.strip())
            continue
        sections[current].append(line)

    summary = _paragraph(sections.get("summary", []))
    if "summary" not in sections or not summary:
        raise ParseError(source, title_line.number, f"cluster {title[:60]!r} has no summary")
    key_points = _bullets(sections.get("key points", []))
    iso = cluster_date.isoformat()
    cluster = Cluster(
        id="",
        date=iso,
        title=title,
        summary=summary,
        sources=sources,
        number=number,
        image_prompt=_paragraph(sections["image_prompt"]) or None,
        key_points=key_points,
        origin=f"{source}:{title_line.number}",
        extra={"header": unknown_header} if unknown_header else {},
    )
    cluster.id = f"{iso}-c{number}" if number is not None else f"{iso}-{_short_hash(cluster)}"
    cluster.articles = _articles(sections.get("articles in this cluster", []), cluster.id, source)
    return cluster


def _short_hash(cluster: Cluster) -> str:
    return hashlib.sha256(f"{cluster.title}\n{cluster.summary}".encode()).hexdigest()[:8]


def _parse_sources(value: str, source: str, number: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in value.split("|"):
        part = part.strip()
        if not part:
            continue
        host, _, count = part.rpartition(":")
        host, count = host.strip(), count.strip()
        if not host:
            host, count = count, "1"
        if not count.isdigit():
            raise ParseError(source, number, f"bad source count in {part!r}")
        out[host] = out.get(host, 0) + int(count)
    return out


def _paragraph(lines: list[_Line]) -> str:
    return " ".join(ln.text.strip() for ln in lines if ln.text.strip())


def _bullets(lines: list[_Line]) -> list[str]:
    points: list[str] = []
    for line in lines:
        if not line.text.strip():
            continue
        m = _BULLET.match(line.text)
        if m:
            points.append(m.group("text").strip())
        elif points:  # a wrapped bullet continues on the next line
            points[-1] = f"{points[-1]} {line.text.strip()}"
        else:
            points.append(line.text.strip())
    return [p for p in points if p]


def _blocks(lines: list[_Line]) -> list[list[_Line]]:
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    for line in lines:
        if line.text.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _is_meta(text: str) -> bool:
    return text.lstrip().startswith(("Entities:", "Tone:", "Sentiment:", "Intent:"))


def _articles(lines: list[_Line], cluster_id: str, source: str) -> list[Article]:
    articles: list[Article] = []
    blocks = _blocks(lines)
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if _is_meta(block[0].text) and articles and len(block) == 1:
            _apply_meta(articles[-1], block[0].text)  # metadata set off by a blank line
            i += 1
            continue
        if len(block) > 1 and not _is_meta(block[-1].text):
            # A title and its summary with no blank line between them.
            title_line, body = block[0], block[1:]
        else:
            title_line = block[0]
            if len(block) > 1:  # title directly above its metadata: no summary
                raise ParseError(source, title_line.number, "article has no summary")
            if i + 1 >= len(blocks):
                raise ParseError(
                    source, title_line.number, "article title with no summary after it"
                )
            body = blocks[i + 1]
            i += 1
        i += 1
        meta = body[-1].text if _is_meta(body[-1].text) else None
        text_lines = body[:-1] if meta is not None else body
        summary = _paragraph(text_lines)
        if not summary:
            raise ParseError(source, title_line.number, "article has no summary")
        title, section, publisher = split_publisher(title_line.text)
        article = Article(
            id=f"{cluster_id}-a{len(articles) + 1}",
            title=title,
            summary=summary,
            publisher=publisher,
            section=section,
        )
        if meta is not None:
            _apply_meta(article, meta)
        articles.append(article)
    return articles


def _apply_meta(article: Article, text: str) -> None:
    m = _META.match(text.strip())
    if not m:  # pragma: no cover - the pattern matches any string
        return
    if m.group("entities") is not None:
        article.entities = [e.strip() for e in m.group("entities").split(",") if e.strip()]
    for name in ("tone", "sentiment", "intent"):
        value = m.group(name)
        if value is not None and value.strip():
            setattr(article, name, value.strip().lower())


def _check_unique_ids(result: ParseResult, source: str) -> None:
    seen: set[str] = set()
    kept: list[Cluster] = []
    for cluster in result.clusters:
        if cluster.id in seen:
            line = int((cluster.origin or ":0").rsplit(":", 1)[1])
            result.errors.append(ParseError(source, line, f"duplicate cluster id {cluster.id}"))
            continue
        seen.add(cluster.id)
        kept.append(cluster)
    result.clusters = kept


# --- JSON and JSONL -------------------------------------------------------


def record_to_cluster(data: Any, source: str, line: int) -> Cluster:
    """A JSON object -> Cluster: either a full cluster record (the parser's
    fields) or a generic document `{"id", "title", "text", "date"?, "source"?}`
    (BEIR's `_id` is accepted for `id`)."""
    if not isinstance(data, dict):
        raise ParseError(source, line, f"expected a JSON object, got {type(data).__name__}")
    raw_id = data.get("id", data.get("_id"))
    if raw_id is None or str(raw_id).strip() == "":
        raise ParseError(source, line, "record has no 'id'")
    record_date: str | None = None
    if data.get("date"):
        try:
            record_date = parse_date(str(data["date"])).isoformat()
        except ValueError as err:
            raise ParseError(source, line, str(err)) from None
    try:
        if any(k in data for k in ("summary", "key_points", "articles")):
            cluster = Cluster.from_dict({**data, "id": str(raw_id), "date": record_date})
            for i, article in enumerate(cluster.articles, 1):
                article.id = f"{cluster.id}-a{i}"  # the id scheme: unique, derived from the cluster
        elif "text" in data or "title" in data:
            known = {"id", "_id", "title", "text", "date", "source", "metadata"}
            src = data.get("source")
            cluster = Cluster(
                id=str(raw_id),
                date=record_date,
                title=str(data.get("title") or ""),
                summary=str(data.get("text") or ""),
                sources={str(src): 1} if src else {},
                extra={k: v for k, v in data.items() if k not in known},
            )
        else:
            raise ParseError(source, line, "record has neither 'text' nor cluster fields")
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        if isinstance(err, ParseError):
            raise
        raise ParseError(source, line, f"bad record: {err}") from None
    if not (cluster.title or cluster.summary):
        raise ParseError(source, line, "record has no title and no text")
    cluster.origin = f"{source}:{line}"
    return cluster


def parse_jsonl(text: str, source: str = "<jsonl>") -> ParseResult:
    """One record per line; blank lines are skipped; a bad line is an error for that line only."""
    result = ParseResult()
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as err:
            result.errors.append(ParseError(source, number, f"invalid JSON: {err.msg}"))
            continue
        try:
            result.clusters.append(record_to_cluster(data, source, number))
        except ParseError as err:
            result.errors.append(err)
    _check_unique_ids(result, source)
    return result


def parse_json(text: str, source: str = "<json>") -> ParseResult:
    """A JSON array of records (or one record); falls back to JSONL."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return parse_jsonl(text, source)
    records = data if isinstance(data, list) else [data]
    result = ParseResult()
    for i, record in enumerate(records, 1):
        try:
            result.clusters.append(record_to_cluster(record, source, i))
        except ParseError as err:
            result.errors.append(err)
    _check_unique_ids(result, source)
    return result


def parse_text(text: str, source: str) -> ParseResult:
    """Digest, JSON or JSONL, told apart by the first non-blank character."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "[":
        return parse_json(text, source)
    if head == "{":
        return parse_jsonl(text, source)
    return parse_digest(text, source)


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
            raise FileNotFoundError(f"no such file or folder: {path}")
    return out


def read_file(path: Path) -> ParseResult:
    """Parse one file, whatever its kind; unreadable bytes are an error, not a crash."""
    source = str(path)
    try:
        if path.name.endswith(".gz"):
            import gzip

            text = gzip.decompress(path.read_bytes()).decode("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError, EOFError) as err:
        return ParseResult(errors=[ParseError(source, 1, f"cannot read file: {err}")])
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return parse_jsonl(text, source)
    if path.suffix == ".json":
        return parse_json(text, source)
    return parse_text(text, source)


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, ParseResult]]:
    """Parse each input file in turn."""
    for path in input_files(paths):
        yield path, read_file(path)
