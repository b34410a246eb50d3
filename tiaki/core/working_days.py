"""Working days as the Privacy Act 2020 (s 7) defines them, for request deadlines.

Not a working day: Saturdays and Sundays; Waitangi Day, Good Friday, Easter
Monday, Anzac Day, the Sovereign's birthday, Matariki and Labour Day, with
Waitangi and Anzac Days moved to the Monday when they fall on a weekend; and
every day from 25 December to 15 January inclusive. Regional anniversary days
are working days. Other statutes use other windows, so this is not a generic
business calendar. Public holiday dates come from the `holidays` package.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

# The holidays package's English names for the days s 7 lists. Christmas, Boxing
# and New Year holidays all fall inside the 25 December - 15 January window.
PRIVACY_ACT_HOLIDAYS = ("Waitangi Day", "Good Friday", "Easter Monday", "Anzac Day",
                        "King's Birthday", "Queen's Birthday", "Matariki", "Labour Day")


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[dt.date]:
    named = holidays.country_holidays("NZ", years=year, language="en_NZ")
    return frozenset(day for day, name in named.items()
                     if any(name.startswith(h) for h in PRIVACY_ACT_HOLIDAYS))


def in_christmas_window(day: dt.date) -> bool:
    return (day.month == 12 and day.day >= 25) or (day.month == 1 and day.day <= 15)


def is_working_day(day: dt.date) -> bool:
    return (day.weekday() < 5 and not in_christmas_window(day)
            and day not in _holidays(day.year))


def add_working_days(received: dt.date, count: int) -> dt.date:
    """The date `count` working days after the day received (s 44: a decision
    is due "no later than 20 working days after the day on which the request
    is received"). The day received itself is never counted."""
    if count < 1:
        raise ValueError("count must be at least 1 working day")
    day = received
    while count:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def working_days_left(today: dt.date, due: dt.date) -> int:
    """Working days from `today` until `due` (0 on the due date, negative when late)."""
    if today <= due:
        count, day = 0, today
        while day < due:
            day += dt.timedelta(days=1)
            count += is_working_day(day)
        return count
    count, day = 0, due
    while day < today:
        day += dt.timedelta(days=1)
        count -= is_working_day(day)
    return count
