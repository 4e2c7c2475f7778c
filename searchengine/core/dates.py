"""Dates and times as people type them, read one way by the CLI, the API and the page.

A digest writes day first (`09-01-2026`), most people and tools write ISO, and a
reader asking for "the last week" types `7d`. The old rule read `01/09/2026` as 1
September in the CLI while the API refused it with a regex message; `alerts --since
yesterday` printed "no alerts" (the text was compared as a timestamp). Now there is
one rule, and a date that could be read two ways is an error that says both:

- ISO `2026-01-09`, or the digests' own day-first `09-01-2026` (dashes);
- slashes or dots (`13/01/2026`, `1.9.2026`) only where one reading is a date: when
  both are (`01/09/2026`), the error names them and asks for ISO;
- `today`, `yesterday`, `7d`, `2w`, `3 days ago`, counted back from today (UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from searchengine.errors import BadRequest

# The forms, for error messages and help texts.
DATE_FORMS = "YYYY-MM-DD, DD-MM-YYYY, today, yesterday or N days back (7d, 2w, '3 days ago')"
# The API's schema pattern for a date parameter: every form `user_date` reads (a value
# it matches may still name no day, e.g. 2026-02-30, and is refused with the reason).
DATE_PATTERN = (
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|today|yesterday"
    r"|\d{1,5}\s*(d|w|days?|weeks?)(\s+ago)?)\s*$"
)

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_RELATIVE = re.compile(r"^(\d{1,5})\s*(d|w|days?|weeks?)(?:\s+ago)?$")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _spoken(d: date) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def user_date(value: str | None, name: str, today: date | None = None) -> str | None:
    """What a user typed as a date -> ISO `YYYY-MM-DD` (None for nothing), or
    BadRequest naming the parameter and the forms it takes."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    today = today or datetime.now(UTC).date()
    found = _read(text, name, today)
    if found is None:
        raise BadRequest(f"{name}: bad date {value!r}; use {DATE_FORMS}")
    return found.isoformat()


def _read(text: str, name: str, today: date) -> date | None:
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    if m := _RELATIVE.match(text):
        n, unit = int(m.group(1)), m.group(2)
        return today - timedelta(days=n * (7 if unit.startswith("w") else 1))
    if m := _ISO.match(text):
        return _day(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DAY_FIRST.match(text):
        return _day(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if m := _SLASHED.match(text):
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        day_first, month_first = _day(year, b, a), _day(year, a, b)
        if day_first and month_first and day_first != month_first:
            raise BadRequest(
                f"{name}: {text!r} is ambiguous: {_spoken(day_first)} or "
                f"{_spoken(month_first)}? Write it as {day_first.isoformat()} or "
                f"{month_first.isoformat()}"
            )
        return day_first or month_first
    return None


def stamp(at: datetime) -> str:
    """A time as the alert log keeps it: UTC with microseconds (it sorts as text)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def user_time(value: str | None, name: str, now: datetime | None = None) -> str | None:
    """A point in time -> UTC as the alert log writes it (`stamp`, so it compares as
    text): a date in any `user_date` form means its midnight
    (UTC), an ISO date-time with an offset is converted."""
    if value is None or not str(value).strip():
        return None
    now = now or datetime.now(UTC)
    text = str(value).strip()
    if "t" in text.lower() and ":" in text:
        try:
            at = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"{name}: bad time {value!r}; use an ISO time (2026-01-09T08:00:00Z) "
                f"or a date: {DATE_FORMS}"
            ) from None
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    else:
        day = date.fromisoformat(user_date(text, name, now.date()) or "")
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return stamp(at)
