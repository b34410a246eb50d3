"""Time as tiaki tells it: instants in UTC, days in New Zealand.

Deadlines, reporting periods and letters count New Zealand days (the Privacy
Act's working days are New Zealand's), so "today" is always the date in
Pacific/Auckland, never the machine's. Rules take `today` or `now` as an
argument; only entrypoints ask the clock. The zone data ships with the
`tzdata` package, so it is there on every machine."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from tiaki.core.errors import Invalid

NZ = ZoneInfo("Pacific/Auckland")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def now_iso(now: dt.datetime | None = None) -> str:
    """An instant as stored and hashed: UTC, ISO 8601, microseconds."""
    return (now or utc_now()).astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def nz_today(now: dt.datetime | None = None) -> dt.date:
    return (now or utc_now()).astimezone(NZ).date()


def nz_date_words(day: dt.date) -> str:
    """'3 December 2026', as letters to families write a date."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def parse_day(text: str, field: str) -> dt.date:
    """A day given as YYYY-MM-DD; Invalid naming `field` otherwise."""
    try:
        # fromisoformat also takes 20260302 and week dates (2026-W10-1): only YYYY-MM-DD here
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(field, f"must be a date as YYYY-MM-DD, got {text[:20]!r}") from None
