"""Reporting periods: calendar quarters written like 2026Q3, one pattern for
intake (which checks a submission's period) and purpose_router (which dates
agreements by period)."""

import re

PERIOD = re.compile(r"(\d{4})Q([1-4])")
