"""Time expressions in a query ("last May", "two weeks ago", "yesterday") as a time window.

A span that ends now ("in the past month", "over the last three weeks") is the rolling span before
the query, not a calendar one: "last month" is the month before this one, "the past month" the
30 days up to today. "Last weekend" and "the past weekend" are the Saturday and Sunday before
the query (the one before that when it is asked on a weekend).

Why: "what did I say about the trip last May?" should prefer memories from last May. The window
is resolved against the query's time (the run's ``now``, never the wall clock), and retrieval adds
a bonus to memories inside it. Only explicit expressions are resolved; everything else returns
None, so a query without a time reference is scored exactly as before. English only; UTC.

"N units ago" is an estimate, not a span: the window has a centre, and a memory's bonus falls
off from it (:meth:`TimeWindow.membership`), so the session of exactly two weeks ago outranks
others of that fortnight that a flat window held level with it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

__all__ = ["TimeWindow", "resolve_time_window"]

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS.pop("may", None)
_MONTHS["may"] = 5
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
            "a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30.44, "year": 365.25}

# a count of units: "3", "two", "a couple of", "a few"…
_COUNT = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|" \
    r"a few|few|several"
_AGO = re.compile(rf"\b({_COUNT})\s+(day|week|month|year)s?\s+ago\b", re.I)
_LAST_UNIT = re.compile(r"\b(last|this|past|previous)\s+(week|month|year)\b(?!\s+of\b)", re.I)
# "in the last two weeks", "the past month" (not "on the last day of the trip", "the last week
# of June": a span of something else)
_SPAN = re.compile(rf"\b(?:in|over|during|for|within)\s+the\s+(?:past|last)\s+"
                   rf"(?:({_COUNT}|couple of)\s+)?(day|week|month|year)s?\b(?!\s+of\b)|"
                   rf"\bpast\s+(?:({_COUNT}|couple of)\s+)?(day|week|month|year)s?\b(?!\s+of\b)",
                   re.I)
_WEEKEND = re.compile(r"\b(?:last|past|previous)\s+weekend\b", re.I)
_MONTH_NAMES = "|".join(sorted((m for m in _MONTHS if len(m) > 3 or m == "may"),
                               key=len, reverse=True))
_MONTH_YEAR = re.compile(rf"\b(?:(last|this)\s+)?({_MONTH_NAMES})\b(?:,?\s+((?:19|20)\d\d))?",
                         re.I)
_YEAR = re.compile(r"\b(?:in|during|of|since)\s+((?:19|20)\d\d)\b", re.I)
_LAST_WEEKDAY = re.compile(r"\blast\s+(" + "|".join(_WEEKDAYS) + r")\b", re.I)
_DAY_WORD = re.compile(r"\b(the day before yesterday|yesterday|today|tonight|last night|"
                       r"this morning)\b", re.I)


@dataclass(frozen=True)
class TimeWindow:
    """A span of time a query refers to, in seconds since the epoch (``start`` ≤ ``end``);
    ``centre`` when the expression names a point only roughly ("two weeks ago")."""

    start: float
    end: float
    expression: str
    centre: float | None = None

    def contains(self, ts: float) -> bool:
        return self.start <= ts <= self.end

    def membership(self, ts: np.ndarray) -> np.ndarray:
        """How far inside the window each time lies, in [0, 1]: 1 throughout a span ("last
        May"); for an estimate, 1 at its centre falling linearly to 0 at its edges."""
        ts = np.asarray(ts, dtype=float)
        inside = (ts >= self.start) & (ts <= self.end)
        if self.centre is None:
            return inside.astype(float)
        half = max(self.centre - self.start, 1.0)
        return np.where(inside, np.clip(1.0 - np.abs(ts - self.centre) / half, 0.0, 1.0), 0.0)


def _day(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_span(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    last = calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=last)


def resolve_time_window(text: str, now: float) -> TimeWindow | None:
    """The first explicit time expression of ``text`` as a window, or None."""
    ref = datetime.fromtimestamp(now, tz=timezone.utc)
    for resolver in (_ago, _day_word, _last_weekday, _weekend, _span, _last_unit, _month_year,
                     _year):
        found = resolver(text, ref)
        if found:
            start, end, expr, *centre = found
            return TimeWindow(start.timestamp(), min(end.timestamp(), now), expr,
                              centre[0].timestamp() if centre else None)
    return None


def _count(raw: str) -> int:
    """A count matched by ``_COUNT`` as a number."""
    raw = raw.lower()
    return int(raw) if raw.isdigit() else _NUMBERS[raw]


def _ago(text: str, ref: datetime):
    m = _AGO.search(text)
    if not m:
        return None
    n = _count(m.group(1))
    unit = _UNIT_DAYS[m.group(2).lower()]
    centre = ref - timedelta(days=n * unit)
    half = timedelta(days=max(unit * 0.5 * max(n, 1) ** 0.5, 1.0))  # wider for vaguer spans
    return centre - half, centre + half, m.group(0), centre


def _day_word(text: str, ref: datetime):
    m = _DAY_WORD.search(text)
    if not m:
        return None
    word = m.group(1).lower()
    back = {"yesterday": 1, "last night": 1, "the day before yesterday": 2}.get(word, 0)
    day = _day(ref) - timedelta(days=back)
    return day, day + timedelta(days=1), m.group(0)


def _weekend(text: str, ref: datetime):
    m = _WEEKEND.search(text)
    if not m:
        return None
    back = (ref.weekday() - 5) % 7  # days since Saturday
    if back < 2:  # asked on a weekend: the one before
        back += 7
    saturday = _day(ref) - timedelta(days=back)
    return saturday, saturday + timedelta(days=2), m.group(0)


def _span(text: str, ref: datetime):
    m = _SPAN.search(text)
    if not m:
        return None
    n = _count(m.group(1) or m.group(3) or "1")
    unit = _UNIT_DAYS[(m.group(2) or m.group(4)).lower()]
    return ref - timedelta(days=n * unit), ref, m.group(0)


def _last_weekday(text: str, ref: datetime):
    m = _LAST_WEEKDAY.search(text)
    if not m:
        return None
    back = (ref.weekday() - _WEEKDAYS[m.group(1).lower()]) % 7 or 7
    day = _day(ref) - timedelta(days=back)
    return day, day + timedelta(days=1), m.group(0)


def _last_unit(text: str, ref: datetime):
    m = _LAST_UNIT.search(text)
    if not m:
        return None
    which, unit = m.group(1).lower(), m.group(2).lower()
    this = which == "this"
    if unit == "week":
        start = _day(ref) - timedelta(days=ref.weekday()) - timedelta(days=0 if this else 7)
        return start, start + timedelta(days=7), m.group(0)
    if unit == "month":
        year, month = ref.year, ref.month
        if not this:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return (*_month_span(year, month), m.group(0))
    year = ref.year - (0 if this else 1)
    return (datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc),
            m.group(0))


def _month_year(text: str, ref: datetime):
    for m in _MONTH_YEAR.finditer(text):
        name = m.group(2).lower()
        if name == "may" and not (m.group(1) or m.group(3)) and not re.search(
                r"\b(in|during|since|of|early|late|mid)\s+may\b", text, re.I):
            continue  # "may" is usually the verb
        month = _MONTHS[name]
        if m.group(3):
            year = int(m.group(3))
        else:
            year = ref.year if month < ref.month or (m.group(1) or "").lower() == "this" \
                else ref.year - 1
        return (*_month_span(year, month), m.group(0))
    return None


def _year(text: str, ref: datetime):
    m = _YEAR.search(text)
    if not m:
        return None
    year = int(m.group(1))
    return (datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc),
            m.group(0))
