"""Synthetic quarters for "Best foot forward": realistic, made-up records for
the demo, the tests and the benchmark. `python -m tiaki.synthetic N FILE.csv`."""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys

REGIONS = ["Northland", "Auckland", "Waikato", "Bay of Plenty", "Wellington", "Canterbury",
           "Otago", "Southland"]
REGION_WEIGHTS = [4, 30, 10, 7, 12, 12, 5, 2]  # a few small regions make small cells
STRANDS = ["parenting", "children", "joint"]
AGE_BANDS = ["18-24", "25-39", "40-64"]
ETHNICITIES = ["Māori", "Pacific Peoples", "Asian", "European", "MELAA", "Other", "Not stated"]
GOALS = ["none", "some", "most", "all"]
FAMILY = ["Ngata", "Smith", "Tuilagi", "Wong", "Patel", "Brown", "Te Rangi", "Fa'amausili",
          "Nguyen", "O'Brien", "Walker", "Kaur"]
GIVEN = ["Aroha", "James", "Sione", "Mei", "Priya", "Olivia", "Wiremu", "Losa", "Minh", "Liam"]
COLUMNS = ["record_ref", "client_ref", "family_name", "given_name", "date_of_birth", "sex",
           "referral_date", "age_band", "ethnicity", "region", "programme_strand",
           "sessions_attended", "wellbeing_start", "wellbeing_end", "goals_met"]


def records(count: int, seed: int = 2026, clients: int | None = None, quarter: str = "2026Q3"):
    """Yields rows as dicts of text, like a CSV export from a case-management system.

    `clients` smaller than `count` makes returning clients (same client_ref)."""
    rng = random.Random(seed)
    clients = clients or count
    start = dt.date(int(quarter[:4]), 3 * int(quarter[-1]) - 2, 1)
    for n in range(count):
        c = n % clients
        person = random.Random(c)  # a client's own details do not change between quarters
        start_score = rng.randint(1, 7)
        yield {
            "record_ref": f"{quarter}-{n:07d}",
            "client_ref": f"CCSS-{c:07d}",
            "family_name": person.choice(FAMILY),
            "given_name": person.choice(GIVEN),
            "date_of_birth": (dt.date(1970, 1, 1) + dt.timedelta(days=person.randint(0, 11000))).isoformat(),
            "sex": person.choice(["male", "female", "other", "not_stated"]),
            "referral_date": (start + dt.timedelta(days=rng.randint(0, 89))).isoformat(),
            "age_band": rng.choice(AGE_BANDS),
            "ethnicity": rng.choice(ETHNICITIES),
            "region": rng.choices(REGIONS, REGION_WEIGHTS)[0],
            "programme_strand": rng.choice(STRANDS),
            "sessions_attended": str(rng.randint(0, 24)),
            "wellbeing_start": str(start_score),
            "wellbeing_end": str(min(10, start_score + rng.randint(0, 3))),
            "goals_met": rng.choice(GOALS),
        }


def write_csv(path: str, count: int, seed: int = 2026, **kwargs):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(records(count, seed, **kwargs))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m tiaki.synthetic COUNT FILE.csv")
    write_csv(sys.argv[2], int(sys.argv[1]))
    print(sys.argv[2])
