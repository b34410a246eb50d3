"""Reporting periods as a person reads them."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from tiaki.core.periods import correction_closes, next_period, period_days, period_words


@given(st.integers(2000, 2100), st.integers(1, 4))
def test_a_period_in_words_names_its_first_and_last_months(year, quarter):
    first, last = period_days(f"{year}Q{quarter}")
    words = period_words(f"{year}Q{quarter}")
    assert words == f"{first:%B} to {last:%B} {year}"


def test_words_for_a_period_and_anything_else_as_it_is():
    assert period_words("2026Q3") == "July to September 2026"
    assert period_words("2026Q4") == "October to December 2026"
    assert period_words("") == "" and period_words("last year") == "last year"


def test_the_correction_window_counts_from_the_periods_last_day():
    assert correction_closes("2026Q3", 30) == dt.date(2026, 10, 30)  # as DEX: 30 days after
    assert correction_closes("2026Q4", 30) == dt.date(2027, 1, 30)


@given(st.integers(2000, 2100), st.integers(1, 4), st.integers(1, 366))
def test_a_correction_window_always_closes_after_its_period(year, quarter, days):
    period = f"{year}Q{quarter}"
    closes = correction_closes(period, days)
    assert closes > period_days(period)[1]
    assert (closes - period_days(next_period(period))[0]).days == days - 1
