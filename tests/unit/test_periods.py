"""Reporting periods as a person reads them."""

from hypothesis import given
from hypothesis import strategies as st

from tiaki.core.periods import period_days, period_words


@given(st.integers(2000, 2100), st.integers(1, 4))
def test_a_period_in_words_names_its_first_and_last_months(year, quarter):
    first, last = period_days(f"{year}Q{quarter}")
    words = period_words(f"{year}Q{quarter}")
    assert words == f"{first:%B} to {last:%B} {year}"


def test_words_for_a_period_and_anything_else_as_it_is():
    assert period_words("2026Q3") == "July to September 2026"
    assert period_words("2026Q4") == "October to December 2026"
    assert period_words("") == "" and period_words("last year") == "last year"
