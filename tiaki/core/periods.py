"""Reporting periods: calendar quarters written like 2026Q3, one rule for
intake (which checks a submission's period) and purpose_router (which dates
agreements by period)."""

from __future__ import annotations

import datetime as dt
import re

from tiaki.core.clock import MONTHS
from tiaki.core.errors import Invalid

PERIOD = re.compile(r"(\d{4})Q([1-4])")


def split_period(period: str, field: str = "period") -> tuple[int, int]:
    """(year, quarter) of a period; Invalid naming `field` when it is not one."""
    match = PERIOD.fullmatch(period or "")
    if not match:
        raise Invalid(field, f"must look like 2026Q3, got {str(period)[:20]!r}")
    return int(match.group(1)), int(match.group(2))


def check_period(period: str, field: str = "period") -> str:
    split_period(period, field)
    return period


def period_of(day: dt.date) -> str:
    """The reporting period (calendar quarter) a day falls in."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def next_period(period: str) -> str:
    year, quarter = split_period(period)
    return f"{year + 1}Q1" if quarter == 4 else f"{year}Q{quarter + 1}"


def period_days(period: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a period."""
    year, quarter = split_period(period)
    first = dt.date(year, 3 * quarter - 2, 1)
    after = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return first, after - dt.timedelta(days=1)


def correction_closes(period: str, window_days: int) -> dt.date:
    """The last day a sealed submission of the period may be replaced: the
    period's last day plus the plan's correction window."""
    return period_days(period)[1] + dt.timedelta(days=window_days)


def period_words(period: str) -> str:
    """'2026Q3' -> 'July to September 2026', as a person names a period; any
    other text is returned as it is."""
    match = PERIOD.fullmatch(period or "")
    if not match:
        return period
    year, quarter = int(match.group(1)), int(match.group(2))
    return f"{MONTHS[3 * quarter - 3]} to {MONTHS[3 * quarter - 1]} {year}"
