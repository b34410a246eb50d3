"""Privacy Act 2020 working-day deadlines, against dates worked out by hand
(each comment lists the days skipped)."""

from __future__ import annotations

import datetime as dt

import pytest

from tiaki.core.working_days import add_working_days, is_working_day

D = dt.date

HAND_WORKED = [
    # received, working days, due, what it exercises
    (D(2025, 3, 3), 20, D(2025, 3, 31), "no holidays: four weeks"),
    (D(2025, 4, 10), 20, D(2025, 5, 13), "Good Friday 18, Easter Monday 21, Anzac Day Fri 25 April"),
    (D(2025, 6, 1), 20, D(2025, 7, 1), "received on a Sunday; King's Birthday 2 June, Matariki 20 June"),
    (D(2025, 12, 12), 20, D(2026, 2, 2), "8 days before Christmas, then from Fri 16 January"),
    (D(2025, 12, 24), 20, D(2026, 2, 13), "Christmas window, then Waitangi Day Fri 6 February"),
    (D(2025, 12, 27), 20, D(2026, 2, 13), "received inside the window on a Saturday"),
    (D(2025, 12, 24), 1, D(2026, 1, 16), "the first working day after the window"),
    (D(2026, 1, 16), 20, D(2026, 2, 16), "received on the first working day of the year"),
    (D(2026, 4, 1), 10, D(2026, 4, 17), "transfer within 10: Good Friday 3, Easter Monday 6 April"),
    (D(2026, 4, 20), 20, D(2026, 5, 19), "Anzac Day Sat 25 April Mondayised to 27 April"),
    (D(2026, 6, 29), 20, D(2026, 7, 28), "Matariki Fri 10 July 2026"),
    (D(2026, 7, 3), 5, D(2026, 7, 13), "a unit's internal 5 days over Matariki"),
    (D(2027, 1, 15), 20, D(2027, 2, 15),
     "last day of the window; Wellington (18 Jan) and Auckland (25 Jan) anniversaries count; "
     "Waitangi Day Sat 6 February Mondayised to 8 February"),
    (D(2027, 2, 1), 20, D(2027, 3, 2), "Waitangi Day Mondayised to Mon 8 February 2027"),
    (D(2027, 3, 22), 20, D(2027, 4, 21), "Good Friday 26, Easter Monday 29 March 2027"),
    (D(2027, 10, 15), 20, D(2027, 11, 15), "Labour Day 25 October 2027"),
    (D(2027, 12, 20), 20, D(2028, 2, 8),
     "window to Sat 15 January 2028, Waitangi Day Sun 6 February Mondayised to 7 February"),
    (D(2028, 1, 4), 20, D(2028, 2, 14), "received on a weekday inside the window"),
    (D(2028, 4, 18), 20, D(2028, 5, 17), "Anzac Day on a Tuesday stays on the 25th"),
    (D(2028, 6, 1), 20, D(2028, 6, 30), "King's Birthday 5 June 2028"),
    (D(2028, 12, 18), 20, D(2029, 2, 7), "across the window into 2029, Waitangi Day Tue 6 February"),
]


@pytest.mark.parametrize("received, days, due, why", HAND_WORKED,
                         ids=[f"{r}+{n}" for r, n, _, _ in HAND_WORKED])
def test_due_date_matches_the_hand_worked_date(received, days, due, why):
    assert add_working_days(received, days) == due, why


@pytest.mark.parametrize("day", [
    D(2026, 2, 6), D(2027, 2, 8), D(2026, 4, 27), D(2026, 7, 10), D(2027, 10, 25),
    D(2028, 6, 5), D(2025, 12, 25), D(2026, 1, 15), D(2026, 1, 10),
])
def test_holidays_weekends_and_the_christmas_window_are_not_working_days(day):
    assert not is_working_day(day)


@pytest.mark.parametrize("day", [
    D(2027, 1, 18),   # Wellington Anniversary
    D(2027, 1, 25),   # Auckland Anniversary
    D(2026, 11, 13),  # Canterbury Anniversary (Show Day)
    D(2026, 12, 24), D(2026, 1, 16),
])
def test_regional_anniversaries_and_the_edges_of_the_window_are_working_days(day):
    assert is_working_day(day)


def test_the_due_date_is_always_a_working_day_after_the_day_received():
    start = D(2025, 1, 1)
    for offset in range(0, 4 * 366, 3):
        received = start + dt.timedelta(days=offset)
        due = add_working_days(received, 20)
        assert due > received and is_working_day(due)


def test_a_count_below_one_is_refused():
    with pytest.raises(ValueError):
        add_working_days(D(2026, 3, 2), 0)
