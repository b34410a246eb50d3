"""Minimisation at the door, end to end: a person's name, date of birth and sex
are refused by intake, record by record and detail by detail, unless a purpose
in force asks for the SLK-581 linkage key; `tiaki submit` does not send them
unless one does. Refused or held back, they reach no store (intake's,
purpose_router's, requests', insights', the units'), no broker message (a tap
copies every one) and no log."""

from __future__ import annotations

import csv
import datetime as dt
import uuid

from tests.e2e.journey import quarter, submit
from tests.e2e.test_no_secrets_leak import cli, drain
from tests.readable import database_text
from tiaki.unit.store import UnitStore

DETAILS = ["identity.family_name", "identity.given_name", "identity.date_of_birth",
           "identity.sex"]


def person() -> dict:
    """Made-up details no other test sends, so finding one anywhere is a leak."""
    tag = uuid.uuid4()
    born = dt.date(1960, 1, 1) + dt.timedelta(days=tag.int % 15000)
    return {"family_name": f"Kereama{tag.hex[:8]}", "given_name": f"Wairimu{tag.hex[8:16]}",
            "date_of_birth": born.isoformat(), "sex": "female"}


def programme(example_plan: dict, slk: bool = False) -> dict:
    """The example plan as a programme of its own (the session's other tests
    keep theirs), its unit-level purpose asking for SLK-581 when `slk`."""
    plan = dict(example_plan, programme_id=f"door-{uuid.uuid4().hex[:10]}",
                purposes=[dict(p) for p in example_plan["purposes"]])
    if slk:
        plan["purposes"][0].update(include_slk581=True,
                                   identifiable_need="Linking with other services' records")
    return plan


def evaluation_rows(stack, sid: str, count: int) -> list[dict]:
    """The evaluation unit's rows of a submission, once all `count` have arrived."""
    stack.wait_for(lambda: sum(d["record_count"] for d in stack.unit_deliveries(
        "evaluation", submission_id=sid)) == count, what=f"{count} records of {sid}")
    store = UnitStore(stack.db_uri("unit_evaluation"))
    return [row for d in stack.unit_deliveries("evaluation", submission_id=sid)
            for row in store.content(d["_id"])]


def everywhere(stack, copied: list[str]) -> dict[str, str]:
    """Every stored document of the stack, every copied broker message, every log."""
    texts = {f"broker message {i}": t for i, t in enumerate(copied)}
    for db in stack.mongo.list_database_names():
        if db.startswith(stack.name):
            texts.update({f"{db} document {i}": t
                          for i, t in enumerate(database_text(stack.mongo[db]))})
    texts.update({f"log {p.name}": p.read_text(errors="replace")
                  for p in stack.tmp.glob("*.log")})
    return texts


def leaks(details: dict, texts: dict[str, str]) -> list[tuple[str, str]]:
    needles = [details["family_name"], details["given_name"], details["date_of_birth"],
               "".join(reversed(details["date_of_birth"].split("-")))]  # as SLK-581 writes it
    return [(needle, where) for needle in needles for where, text in texts.items()
            if needle in text]


def test_identity_details_without_an_slk_purpose_are_refused_and_go_nowhere(
        stack, example_plan, tap):
    plan = programme(example_plan)
    version = stack.create_plan(plan)
    details = person()
    rows = quarter(6, seed=71)
    for row in rows[:3]:
        row.update(details)
    sid, summary = submit(stack, plan["programme_id"], version, rows)

    assert (summary.accepted_count, summary.rejected_count) == (3, 3)
    assert sorted((r.record_ref, r.field) for r in summary.rejections) == sorted(
        (row["record_ref"], name) for row in rows[:3] for name in DETAILS)
    assert all("SLK-581" in r.reason and "never stored or forwarded" in r.reason
               for r in summary.rejections)
    got = evaluation_rows(stack, sid, 3)
    assert "slk581" not in str(got)

    texts = everywhere(stack, drain(tap))
    # The searches see inside stored batches, delivered rows and messages.
    assert sum(rows[4]["record_ref"] in t for t in texts.values()) >= 1
    assert any('pseudonyms' in t for w, t in texts.items() if w.startswith("broker"))
    assert any(rows[3]["referral_date"] in t for w, t in texts.items()
               if "_unit_evaluation document" in w)
    assert leaks(details, texts) == []


def test_the_command_line_sends_identity_details_only_when_a_purpose_in_force_asks(
        stack, example_plan, tap, tmp_path):
    held, sent = person(), person()

    def csv_file(name: str, details: dict) -> str:
        rows = [dict(r, record_ref=f"{name}-{r['record_ref']}", **details)
                for r in quarter(4, seed=72, identity=True)]
        path = tmp_path / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return str(path)

    def tiaki_submit(plan: dict, path: str) -> tuple[str, str]:
        stack.create_plan(plan)
        output = cli(stack, "submit", path, "--programme", plan["programme_id"],
                     "--period", "2026Q3")
        assert "accepted 4, duplicate 0, rejected 0" in output, output
        return output, output.split("submission ", 1)[1].split(" ", 1)[0]

    # No purpose asks: the columns stay with the provider, and say so.
    output, sid = tiaki_submit(programme(example_plan), csv_file("held", held))
    assert "not sent: family_name, given_name, date_of_birth, sex" in output
    assert "slk581" not in str(evaluation_rows(stack, sid, 4))

    # A purpose asks: the details go to intake, and only their linkage key goes on.
    output, sid = tiaki_submit(programme(example_plan, slk=True), csv_file("sent", sent))
    assert "not sent" not in output
    got = evaluation_rows(stack, sid, 4)
    assert all(len(row["slk581"]) == 14 for row in got)
    assert not [v for row in got for v in row.values()
                if v in (sent["family_name"], sent["given_name"], sent["date_of_birth"])]

    assert leaks(held, everywhere(stack, drain(tap))) == []
