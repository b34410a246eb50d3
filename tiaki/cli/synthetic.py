"""Synthetic quarters for "Best foot forward": realistic, made-up records for
the demo, the tests and the benchmark.

    python -m tiaki.cli.synthetic N FILE.csv [PLAN.yaml]

Names, dates of birth and sex are written only for a plan that asks for the
SLK-581 linkage key (intake refuses them otherwise); without a plan, never."""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys

import yaml

from tiaki.cli.submit import IDENTITY_COLUMNS
from tiaki.core.plan import Plan

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
COLUMNS = ["record_ref", "client_ref", "referral_date", "age_band", "ethnicity", "region",
           "programme_strand", "sessions_attended", "wellbeing_start", "wellbeing_end",
           "goals_met"]


def records(count: int, seed: int = 2026, clients: int | None = None, quarter: str = "2026Q3",
            identity: bool = False):
    """Yields rows as dicts of text, like a CSV export from a case-management system.

    `clients` smaller than `count` makes returning clients (same client_ref);
    `identity` adds each client's name, date of birth and sex (for SLK-581)."""
    rng = random.Random(seed)
    clients = clients or count
    start = dt.date(int(quarter[:4]), 3 * int(quarter[-1]) - 2, 1)
    for n in range(count):
        c = n % clients
        person = random.Random(c)  # a client's own details do not change between quarters
        start_score = rng.randint(1, 7)
        details = {
            "family_name": person.choice(FAMILY),
            "given_name": person.choice(GIVEN),
            "date_of_birth": (dt.date(1970, 1, 1) + dt.timedelta(days=person.randint(0, 11000))).isoformat(),
            "sex": person.choice(["male", "female", "other", "not_stated"]),
        }
        yield {
            "record_ref": f"{quarter}-{n:07d}",
            "client_ref": f"CCSS-{c:07d}",
            **(details if identity else {}),
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


def write_csv(path: str, count: int, seed: int = 2026, identity: bool = False, **kwargs):
    columns = COLUMNS[:2] + list(IDENTITY_COLUMNS) + COLUMNS[2:] if identity else COLUMNS
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records(count, seed, identity=identity, **kwargs))


def asks_for_identity(plan_file: str) -> bool:
    """The plan in the YAML file has a purpose asking for SLK-581."""
    with open(plan_file, encoding="utf-8") as fh:
        return Plan.from_dict(yaml.safe_load(fh), version=0).needs_slk581()


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit("usage: python -m tiaki.cli.synthetic COUNT FILE.csv [PLAN.yaml]")
    write_csv(sys.argv[2], int(sys.argv[1]),
              identity=len(sys.argv) == 4 and asks_for_identity(sys.argv[3]))
    print(sys.argv[2])
