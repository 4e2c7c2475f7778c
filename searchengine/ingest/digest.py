"""The digest text format -> Cluster records: a dated header per cluster, its sources,
image prompt, summary, key points and articles (title | publisher, summary, entities,
tone, sentiment, intent). Forgiving of layout (bullets, dashes, date styles), strict
about what makes a cluster; every problem is reported with its line."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from searchengine.core.documents import Article, Cluster, parse_date
from searchengine.errors import ParseError
from searchengine.ingest.result import ParseResult, _check_unique_ids
from searchengine.limits import DEFAULT_LIMITS, InputLimits

# Every matcher below is a string method or a regex without nested or adjacent
# unbounded repetition: parsing is linear in the input (a backtracking pattern
# took 12.9 s over 20k spaces in one title).
_DIGEST_DATE = re.compile(r"\d{1,2}-\d{1,2}-\d{4}|\d{4}-\d{2}-\d{2}")


_SLASH_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")


_SECTIONS = {
    "summary": "summary",
    "key points": "key points",
    "articles in this cluster": "articles in this cluster",
}


_BULLETS = frozenset("\u2022\u2023\u25e6\u2043\u2219*-\u2013")


_META_FIELDS = ("Entities:", "Tone:", "Sentiment:", "Intent:")


_DASHES = "-\u2013\u2014"


# A cluster number or source count of more digits is a typo (and past 4,300
# digits Python refuses to convert it at all).
_MAX_DIGITS = 10


def _after(text: str, label: str, fold_case: bool = False) -> str | None:
    """The rest of a `Label: value` line, stripped; None if the line is not one."""
    stripped = text.strip()
    head = stripped[: len(label)]
    if (head.lower() == label.lower()) if fold_case else (head == label):
        return stripped[len(label) :].strip()
    return None


def _date_value(text: str) -> str | None:
    return _after(text, "Date:")


def _is_digest_date(text: str) -> bool:
    stripped = text.strip()
    return len(stripped) <= 10 and _DIGEST_DATE.fullmatch(stripped) is not None


def _section_name(text: str) -> str | None:
    stripped = text.strip()
    if stripped.endswith(":"):
        stripped = stripped[:-1].rstrip()
    return _SECTIONS.get(stripped.lower()) if len(stripped) <= 30 else None


def _bullet_text(text: str) -> str | None:
    stripped = text.lstrip()
    if len(stripped) >= 2 and stripped[0] in _BULLETS and stripped[1].isspace():
        return stripped[1:].strip()
    return None


def _is_header(text: str) -> bool:
    """A line of a cluster's header block (never a title)."""
    return (
        _date_value(text) is not None
        or _after(text, "Sources:") is not None
        or _after(text, "Image for cluster", fold_case=True) is not None
        or _after(text, "Image Prompt:", fold_case=True) is not None
    )


def _small_number(text: str) -> int | None:
    """ASCII digits only (`isdigit` also accepts `²`, which int() refuses), and few."""
    if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
        return int(text)
    return None


def split_publisher(raw: str) -> tuple[str, str | None, str | None]:
    """`'Title | Section | Publisher'` -> ('Title', 'Section', 'Publisher');
    `'Title - Publisher'`, `'Title : Publisher'`, `'Title – DW – 11/24/2025'` too."""
    title = raw.strip()
    if " | " in title:
        parts = [p.strip() for p in title.split(" | ")]
        head, rest = parts[0], [p for p in parts[1:] if p]
        if head and rest:
            section = " | ".join(rest[:-1]) or None
            return head, section, rest[-1]
        return title, None, None
    title = _strip_trailing_date(title)
    split = _dash_publisher(title)
    if split and _looks_like_publisher(split[1]):
        return split[0], None, split[1]
    return title, None, None


def _strip_trailing_date(title: str) -> str:
    """`'T – DW – 11/24/2025'` -> `'T – DW'`."""
    parts = title.rsplit(None, 2)
    if len(parts) == 3 and parts[1] in _DASHES and _SLASH_DATE.fullmatch(parts[2]):
        return parts[0]
    return title


def _dash_publisher(title: str) -> tuple[str, str] | None:
    """(title, publisher) split at the last ` - `, ` – `, ` — ` or ` : ` when what
    follows is 2-40 characters with no dash, colon or bar."""
    at = max(title.rfind(ch) for ch in _DASHES + ":")
    if at <= 0:
        return None
    head, tail = title[:at], title[at + 1 :]
    publisher = tail.strip()
    if not (head[-1].isspace() and tail[:1].isspace() and head.strip()):
        return None
    if "|" in tail or not 2 <= len(publisher) <= 40:
        return None
    return head.strip(), publisher


def _looks_like_publisher(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 5:
        return False
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in {"the", "of", "de"} for w in words)


@dataclass
class Line:
    number: int  # 1-based, as editors show it
    text: str


def parse_digest(
    text: str, source: str = "<text>", limits: InputLimits = DEFAULT_LIMITS
) -> ParseResult:
    """Parse digest text into clusters; a malformed cluster becomes an error, not an exception."""
    from searchengine.ingest.validate import check_cluster  # pydantic: only for commands that parse

    lines = [Line(i, t.rstrip()) for i, t in enumerate(text.lstrip("\ufeff").splitlines(), 1)]
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
            block = lines[start:end]
            check_lines(block, source, limits)
            cluster = _parse_cluster(block, date_index - start, source)
            check_cluster(cluster, limits)
            result.clusters.append(cluster)
        except ValueError as err:  # a bound from check_cluster
            if not isinstance(err, ParseError):
                err = ParseError(source, lines[start].number, str(err))
            result.errors.append(err)
    _check_unique_ids(result, source)
    return result


def check_lines(lines: list[Line], source: str, limits: InputLimits) -> None:
    """Undecodable bytes and over-long lines cost the cluster they are in."""
    for line in lines:
        if len(line.text) > limits.max_line_chars:
            raise ParseError(
                source,
                line.number,
                f"line is {len(line.text):,} characters long (limit {limits.max_line_chars:,}; "
                "raise it with --max-line-chars)",
            )
        if (column := bad_byte_column(line.text)) is not None:
            byte = ord(line.text[column - 1]) - 0xDC00
            raise ParseError(
                source, line.number, f"invalid UTF-8 byte 0x{byte:02x} at column {column}"
            )


def bad_byte_column(text: str) -> int | None:
    """1-based column of the first byte that was not UTF-8 (decoded with
    `surrogateescape`, it became U+DC80..U+DCFF), or None."""
    m = _ESCAPED_BYTE.search(text)
    return m.start() + 1 if m else None


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _cluster_starts(lines: list[Line]) -> list[tuple[int, int]]:
    """(title index, date index) for every cluster. A cluster starts at the
    non-blank line before its `Date:` line, if that line can be a title: not a
    line of the previous cluster's body (an `Entities:` line, a line with no
    blank line above it), not a header line. A `Date:` right below another
    header line is that cluster's second date (an error in `_parse_cluster`),
    not a new cluster. A cluster with no title starts at its `Date:` line
    (title index = date index) and is reported, never glued to a neighbour."""
    starts: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        if _date_value(line.text) is None:
            continue
        j = i - 1
        while j >= 0 and not lines[j].text.strip():
            j -= 1
        if starts and j >= starts[-1][1] and _is_header(lines[j].text):
            continue  # a second Date: in one header
        floor = starts[-1][1] + 1 if starts else 0
        titled = j >= floor and _can_be_title(lines, j)
        starts.append((j if titled else i, i))
    return starts


def _can_be_title(lines: list[Line], j: int) -> bool:
    text = lines[j].text
    if _is_meta(text) or _is_header(text) or _section_name(text) or _is_digest_date(text):
        return False
    return j == 0 or not lines[j - 1].text.strip() or _is_digest_date(lines[j - 1].text)


def _parse_cluster(lines: list[Line], date_at: int, source: str) -> Cluster:
    title_line = lines[0]
    if date_at == 0:
        raise ParseError(
            source, lines[date_at].number, "cluster has no title before its 'Date:' line"
        )
    title = title_line.text.strip()
    date_value = _date_value(lines[date_at].text)
    assert date_value is not None
    try:
        cluster_date = parse_date(date_value)
    except ValueError as err:
        raise ParseError(source, lines[date_at].number, str(err)) from None

    sources: dict[str, int] = {}
    number: int | None = None
    unknown_header: list[str] = []
    sections: dict[str, list[Line]] = {"header": [], "image_prompt": []}
    current = "header"
    for line in lines[date_at + 1 :]:
        section = _section_name(line.text)
        if section:
            current = section
            if current in sections:
                raise ParseError(source, line.number, f"second '{line.text.strip()}' section")
            sections[current] = []
            continue
        if current in ("header", "image_prompt") and _date_value(line.text) is not None:
            raise ParseError(source, line.number, "second 'Date:' line in one cluster")
        if current == "header":
            if (value := _after(line.text, "Sources:")) is not None:
                sources = _parse_sources(value, source, line.number)
                continue
            if (value := _after(line.text, "Image for cluster", fold_case=True)) is not None:
                number = _small_number(value)
                if number is None:
                    raise ParseError(source, line.number, f"bad cluster number {value[:20]!r}")
                continue
            if (value := _after(line.text, "Image Prompt:", fold_case=True)) is not None:
                current = "image_prompt"
                if value:
                    sections["image_prompt"].append(Line(line.number, value))
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
        parsed = _small_number(count)
        if parsed is None:
            raise ParseError(source, number, f"bad source count in {part[:60]!r}")
        out[host] = out.get(host, 0) + parsed
    return out


def _paragraph(lines: list[Line]) -> str:
    return " ".join(ln.text.strip() for ln in lines if ln.text.strip())


def _bullets(lines: list[Line]) -> list[str]:
    points: list[list[str]] = []  # each point's lines, joined once at the end
    for line in lines:
        if not line.text.strip():
            continue
        text = _bullet_text(line.text)
        if text is not None:
            points.append([text])
        elif points:  # a wrapped bullet continues on the next line
            points[-1].append(line.text.strip())
        else:
            points.append([line.text.strip()])
    joined = (" ".join(parts) for parts in points)
    return [p for p in joined if p]


def _blocks(lines: list[Line]) -> list[list[Line]]:
    blocks: list[list[Line]] = []
    current: list[Line] = []
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
    return text.lstrip().startswith(_META_FIELDS)


def _articles(lines: list[Line], cluster_id: str, source: str) -> list[Article]:
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


def split_meta(text: str) -> dict[str, str]:
    """`'Entities: A, BTone: neutralSentiment: positiveIntent: inform'` ->
    {'entities': 'A, B', 'tone': 'neutral', ...}: the fields in this order, each
    optional, a value running to the earliest label of a later field."""
    out: dict[str, str] = {}
    rest = text.strip()
    for k, label in enumerate(_META_FIELDS):
        if not rest.startswith(label):
            continue
        body = rest[len(label) :]
        ends = [at for at in (body.find(later) for later in _META_FIELDS[k + 1 :]) if at >= 0]
        end = min(ends, default=len(body))
        out[label[:-1].lower()] = body[:end]
        rest = body[end:]
    return out


def _apply_meta(article: Article, text: str) -> None:
    meta = split_meta(text)
    if "entities" in meta:
        article.entities = [e.strip() for e in meta["entities"].split(",") if e.strip()]
    for name in ("tone", "sentiment", "intent"):
        value = meta.get(name)
        if value is not None and value.strip():
            setattr(article, name, value.strip().lower())
