"""A real case-management export, end to end: 50,000 rows with three columns the
plan never declared. `tiaki submit` sends the valid rows and none of the extra
columns (their values reach no store and no broker message: a tap copies every
one), writes each rejection by row beside the file, and exits 1 (some rejected).
Run with -s to see the records/s of the submission."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
import uuid

from tests.e2e.journey import quarter
from tests.e2e.test_minimisation_at_the_door import everywhere, programme
from tests.e2e.test_no_secrets_leak import drain
from tests.stack import ROOT

ROWS = 50_000
EXTRA = ("case_notes", "worker_name", "internal_id")


def tiaki(stack, *args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """The command line as the provider CCSS runs it (`prelude`: Python run first)."""
    env = dict(os.environ, TIAKI_INTAKE=stack.address("intake"),
               TIAKI_ROUTER=stack.address("purpose_router"),
               TIAKI_TOKEN_FILE=str(stack.tmp / "tokens" / "provider-ccss"))
    return subprocess.run([sys.executable, "-c",
                           f"{prelude}\nfrom tiaki.cli.app import main; main()", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def write_csv(path, rows: list[dict]):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# A command line whose own check lets everything through, as one older than
# intake's rules would: every row is sent, and intake rejects.
CHECKS_NOTHING = "from tiaki.core.plan import RecordRules; RecordRules.check = lambda *a: ({}, [])"


def test_every_rejection_by_intake_is_written_though_its_answer_lists_1000(
        stack, example_plan, tmp_path):
    plan = programme(example_plan)
    stack.create_plan(plan)
    rows = quarter(3000, seed=1315)
    bad = [n for n in range(3000) if n % 6]  # 2,500
    for n in bad:
        rows[n]["region"] = "Atlantis"
    path = write_csv(tmp_path / "many.csv", rows)
    done = tiaki(stack, "submit", str(path), "--programme", plan["programme_id"],
                 "--period", "2026Q3", prelude=CHECKS_NOTHING)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "sending 3000 of 3000 records" in output, output
    assert "accepted 500, duplicate 0, rejected 2500" in output, output
    assert "sealed: 500 records accepted in all" in output, output
    with open(tmp_path / "many.rejections.csv", encoding="utf-8", newline="") as fh:
        written = [(int(r["row"]), r["record_ref"], r["field"]) for r in csv.DictReader(fh)]
    assert written == [(n + 2, rows[n]["record_ref"], "region") for n in bad]


def test_check_only_stores_and_sends_nothing(stack, example_plan, tap, tmp_path):
    plan = programme(example_plan)
    stack.create_plan(plan)
    tag = uuid.uuid4().hex[:12]
    rows = [{**row, "record_ref": f"{tag}-{n}"} for n, row in enumerate(quarter(20, seed=1314))]
    rows[3]["region"] = "Atlantis"
    path = write_csv(tmp_path / "check.csv", rows)
    done = tiaki(stack, "submit", str(path), "--programme", plan["programme_id"],
                 "--period", "2026Q3", "--check")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "19 valid, 1 rejected; nothing stored or sent" in done.stdout
    with open(tmp_path / "check.rejections.csv", encoding="utf-8", newline="") as fh:
        assert [(r["row"], r["field"]) for r in csv.DictReader(fh)] == [("5", "region")]
    assert [where for where, text in everywhere(stack, drain(tap)).items() if tag in text] == []


def test_a_50000_row_export_with_extra_columns_sends_only_its_valid_items(
        stack, example_plan, tap, tmp_path):
    plan = programme(example_plan)
    stack.create_plan(plan)
    tag = uuid.uuid4().hex[:12]  # only in the extra columns: finding it anywhere is a leak
    rows = []
    for n, row in enumerate(quarter(ROWS, seed=1313)):
        rows.append({**row, "case_notes": f"note {tag} {n}", "worker_name": f"Worker{tag}",
                     "internal_id": f"INT-{tag}-{n}"})
    bad = range(0, ROWS, 997)  # 51 records with a value the plan does not allow
    for n in bad:
        rows[n]["sessions_attended"] = "lots"
    path = write_csv(tmp_path / "export.csv", rows)

    started = time.perf_counter()
    done = tiaki(stack, "submit", str(path), "--programme", plan["programme_id"],
                 "--period", "2026Q3", "--batch-size", "2000")
    elapsed = time.perf_counter() - started
    output = done.stdout + done.stderr
    accepted = ROWS - len(bad)
    print(f"\n{ROWS} rows with {len(EXTRA)} extra columns: {accepted} accepted in "
          f"{elapsed:.1f} s, {accepted / elapsed:.0f} records/s (whole `tiaki submit` run)")

    assert done.returncode == 1, output
    assert f"accepted {accepted}, duplicate 0, rejected {len(bad)}" in output, output
    for column in EXTRA:
        assert output.count(f"ignored column {column}") == 1, output
    with open(tmp_path / "export.rejections.csv", encoding="utf-8", newline="") as fh:
        written = [(int(r["row"]), r["record_ref"], r["field"]) for r in csv.DictReader(fh)]
    assert written == [(n + 2, rows[n]["record_ref"], "sessions_attended") for n in bad]

    sid = output.split("as submission ", 1)[1].split(" ", 1)[0]
    stack.wait_for(lambda: sum(d["record_count"] for d in stack.unit_deliveries(
        "evaluation", submission_id=sid)) == accepted, timeout=300,
        what=f"{accepted} records delivered")
    texts = everywhere(stack, drain(tap))
    assert any(rows[1]["record_ref"] in t for t in texts.values())  # the search can find
    assert [where for where, text in texts.items() if tag in text] == []
