"""Dates and times as people type them, read one way by the CLI, the API and the page.

A digest writes day first (`09-01-2026`), most people and tools write ISO, and a
reader asking for "the last week" types `7d`. The old rule read `01/09/2026` as 1
September in the CLI while the API refused it with a regex message; `alerts --since
yesterday` printed "no alerts" (the text was compared as a timestamp). Now there is
one rule, and a date that could be read two ways is an error that says both:

- ISO `2026-01-09`, or the digests' own day-first `09-01-2026` (dashes);
- never slashes or dots, which some read month first: `01/09/2026` is an error that
  names both days it could be, `13/01/2026` one that says how to write it;
- `today`, `yesterday`, `7d`, `2w`, `3 days ago`, counted back from today (UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from searchengine.errors import BadRequest

# The forms, for error messages and help texts.
DATE_FORMS = "YYYY-MM-DD, DD-MM-YYYY, today, yesterday or N days back (7d, 2w, '3 days ago')"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


_YEAR = r"[1-9]\d{3}"  # years 1000-9999: what `date` holds, written in four digits


def _day_forms() -> list[str]:
    """The written days (ISO and day-first with dashes) as regular expressions that
    match only real days: 29 February in leap years only."""
    leap = r"([1-9]\d(0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26])00)"
    month_day = [  # (months, days) that are always days together
        (r"0?[1-9]|1[0-2]", r"0?[1-9]|1\d|2[0-8]"),
        (r"0?[13-9]|1[0-2]", r"29|30"),
        (r"0?[13578]|1[02]", r"31"),
    ]
    iso = [f"{_YEAR}-({m})-({d})" for m, d in month_day] + [f"{leap}-0?2-29"]
    day_first = [f"({d})-({m})-{_YEAR}" for m, d in month_day] + [f"29-0?2-{leap}"]
    return iso + day_first


def _date_forms() -> list[str]:
    """Every form `user_date` reads: the written days, N days or weeks back, and the
    two words (in any case)."""
    days = r"\d{1,4}\s*(" + "|".join(map(_any_case, ("days", "day", "d"))) + ")"
    weeks = r"\d{1,3}\s*(" + "|".join(map(_any_case, ("weeks", "week", "w"))) + ")"
    relative = f"({days}|{weeks})(\\s+{_any_case('ago')})?"
    return [*_day_forms(), relative, _any_case("today"), _any_case("yesterday")]


def _anchored(forms: list[str]) -> str:
    """One of `forms`, the whole value (spaces around it allowed, as it is stripped)."""
    return "^\\s*(" + "|".join(f"({f})" for f in forms) + ")\\s*$"


def _date_time() -> str:
    """An ISO date-time (minutes at least, an offset or Z optional) on a day every
    month has: `user_time`'s form beside the dates."""
    day = rf"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])"
    clock = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
    offset = r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?"
    return f"{day}[Tt]{clock}{offset}"


# The API's schema patterns: exactly the values `user_date` and `user_time` read (the
# schema states its rule: a value it matches is a day, so 2026-02-30 is refused by the
# schema, not after it).
DATE_PATTERN = _anchored(_date_forms())
# A record's own date (`documents.parse_date`): a written day only, nothing relative.
DAY_PATTERN = _anchored(_day_forms())
TIME_PATTERN = _anchored([*_date_forms(), _date_time()])

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
# Bounded so that a day named stays after year 1: 9999 days (27 years), 999 weeks.
_RELATIVE = re.compile(r"^(?:(\d{1,4})\s*(d|days?)|(\d{1,3})\s*(w|weeks?))(?:\s+ago)?$")
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
        days = int(m.group(1)) if m.group(1) else 7 * int(m.group(3))
        return today - timedelta(days=days)
    if m := _ISO.match(text):
        return _day(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DAY_FIRST.match(text):
        return _day(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if m := _SLASHED.match(text):
        # Slashes and dots are read month first in some places and day first in
        # others: such a date is never guessed (the CLI read 01/09/2026 as 1 September).
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        readings = list(dict.fromkeys(d for d in (_day(year, b, a), _day(year, a, b)) if d))
        if len(readings) == 2:
            first, second = readings
            raise BadRequest(
                f"{name}: {text!r} is ambiguous: {_spoken(first)} or {_spoken(second)}? "
                f"Write it as {first.isoformat()} or {second.isoformat()}"
            )
        if readings:
            raise BadRequest(
                f"{name}: write {text!r} as {readings[0].isoformat()} (YYYY-MM-DD) or "
                f"{readings[0].strftime('%d-%m-%Y')} (day first, with dashes)"
            )
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
