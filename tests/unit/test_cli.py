"""The command line without servers: CSV batching, local chain checks, usage errors."""

import click
import pytest
from click.testing import CliRunner

from services.purpose_router.routing.entrypoints import entry_message
from tests.unit.test_intake_domain import make_plan
from tiaki.cli import app as tcli
from tiaki.cli import flows, submit
from tiaki.cli.base import Settings, call_metadata
from tiaki.core.ledger import BLANK_ENTRY, GENESIS, entry_hash
from tiaki.core.plan import Plan
from tiaki.router.v1 import agreement_pb2 as apb


def _chain() -> list[dict]:
    """A tiny valid chain: a delivery, its acknowledgement, an access."""
    base = {**BLANK_ENTRY, "delivery_id": "d-1", "provider_id": "ccss", "programme_id": "bff",
            "submission_id": "s-1", "purpose_id": "evaluation", "unit_id": "eval-team",
            "content_hash": "ab" * 32, "period": "2026Q3", "plan_version": 1,
            "basis": "aware_through_notice"}
    specs = [
        {"kind": "delivery", "fields": ["age_band", "outcome"], "record_count": 12},
        {"kind": "acknowledgement", "fields": [], "record_count": 0},
        {"kind": "access", "fields": ["outcome"], "record_count": 12,
         "accessor": "Aroha Ngata", "reason": "quarterly evaluation — Māori whānau outcomes"},
    ]
    entries, previous = [], GENESIS
    for sequence, spec in enumerate(specs, start=1):
        entry = {**base, **spec, "sequence": sequence, "previous_hash": previous,
                 "recorded_at": f"2026-10-0{sequence}T09:30:00.123456+00:00"}
        entry["entry_hash"] = previous = entry_hash(entry)
        entries.append(entry)
    return entries


def _write(tmp_path, text: str, name: str = "records.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- CSV shape ---------------------------------------------------------------------


def test_identity_is_asked_for_only_by_a_purpose_in_force():
    assert not submit.identity_asked(Plan.from_dict(make_plan()), None)
    data = make_plan()
    data["purposes"][0]["include_slk581"] = True  # service-planning: age, region, ...
    plan = Plan.from_dict(data)

    def agreeing(*accepted):
        return apb.Agreement(items=[apb.DecidedItem(item_name=name,
                                                    decision=apb.ITEM_DECISION_ACCEPT)
                                    for name in accepted])

    assert submit.identity_asked(plan, None)  # no agreement applies: the plan as it is
    assert submit.identity_asked(plan, agreeing("age"))
    assert not submit.identity_asked(plan, agreeing("housed"))  # outcomes-report only
    assert not submit.identity_asked(plan, apb.Agreement())


def test_scan_csv_counts_data_rows(tmp_path):
    path = _write(tmp_path, 'record_ref,client_ref,note\nr1,c1,"two\nlines"\n\nr2,c2,x\n')
    columns, rows = submit.scan_csv(path)
    assert columns == ["record_ref", "client_ref", "note"]
    assert rows == 2


@pytest.mark.parametrize("text, expected", [
    ("record_ref,outcome\nr1,x\n", "'client_ref'"),
    ("client_ref,outcome\nc1,x\n", "'record_ref'"),
    ("", "empty"),
    ("record_ref,client_ref,x,x\n", "repeated"),
    ("record_ref,client_ref\nr1,c1,extra\n", "line 2"),
])
def test_scan_csv_problems(tmp_path, text, expected):
    with pytest.raises(submit.CsvProblem, match=expected):
        submit.scan_csv(_write(tmp_path, text))


# -- the chain, checked locally -----------------------------------------------------------


def test_chain_problem_accepts_a_valid_chain():
    assert flows.chain_problem(_chain()) == ""
    assert flows.chain_problem([]) == ""


@pytest.mark.parametrize("field, value", [
    ("record_count", 13),
    ("fields", ["age_band", "outcome", "iwi"]),
    ("unit_id", "contracts"),
    ("recorded_at", "2026-10-01T09:30:00.123457+00:00"),
])
def test_chain_problem_detects_a_tampered_field(field, value):
    entries = _chain()
    entries[0][field] = value
    problem = flows.chain_problem(entries)
    assert "entry 1" in problem


def test_chain_problem_detects_a_rehashed_entry_and_a_gap():
    entries = _chain()
    entries[1]["reason"] = "changed"
    entries[1]["entry_hash"] = entry_hash(entries[1])  # rehashed, but the next link breaks
    problem = flows.chain_problem(entries)
    assert "entry 3" in problem and "link" in problem

    problem = flows.chain_problem([_chain()[0], _chain()[2]])
    assert "entry 2 is missing" in problem


def test_entry_dict_round_trips_the_proto_timestamp():
    """What the router sends (its entry_message) reads back as the entry it hashed."""
    for stored in _chain():
        read_back = flows.entry_dict(entry_message(stored))
        assert read_back == stored
        assert entry_hash(read_back) == stored["entry_hash"]


def test_summarise_flows():
    summary = flows.summarise_flows(_chain())
    assert summary == {("evaluation", "eval-team"): {"deliveries": 1, "records": 12,
                                                      "acknowledged": 1, "accesses": 1}}


# -- usage errors -------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch):
    for name in ("TIAKI_TOKEN", "TIAKI_TOKEN_FILE", "TIAKI_INTAKE", "TIAKI_ROUTER"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_submit_names_the_missing_column(runner, tmp_path):
    path = _write(tmp_path, "record_ref,outcome\nr1,x\n")
    result = runner.invoke(tcli.cli, ["--token", "t", "submit", path, "--programme", "bff",
                                      "--period", "2026Q3"])
    assert result.exit_code == 2
    assert "client_ref" in result.output


def test_submit_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(tcli.cli, ["--token", "t", "submit", str(tmp_path / "nope.csv"),
                                      "--programme", "bff", "--period", "2026Q3"])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_no_token_says_how_to_give_one(runner, tmp_path):
    path = _write(tmp_path, "record_ref,client_ref\nr1,c1\n")
    result = runner.invoke(tcli.cli, ["submit", path, "--programme", "bff", "--period", "2026Q3"])
    assert result.exit_code == 2
    assert "no API token" in result.output
    assert "--token" in result.output and "TIAKI_TOKEN" in result.output

    result = runner.invoke(tcli.cli, ["flows"])
    assert result.exit_code == 2 and "no API token" in result.output


def test_empty_token_file_is_refused(runner, tmp_path):
    token_file = _write(tmp_path, "\n", "token")
    result = runner.invoke(tcli.cli, ["--token-file", token_file, "flows"])
    assert result.exit_code == 2 and "is empty" in result.output


def test_token_file_is_read(runner, tmp_path):
    token_file = _write(tmp_path, "  s3cret\n", "token")
    settings = Settings(intake="", router="", token=None, token_file=token_file)
    with click.Context(tcli.cli, obj=settings):
        assert call_metadata() == (("authorization", "Bearer s3cret"),)


def test_plan_load_prints_every_problem(runner, tmp_path):
    path = _write(tmp_path, "programme_id: BFF\nunits: []\npurposes: []\nitems: []\n",
                  "plan.yaml")
    result = runner.invoke(tcli.cli, ["--token", "t", "plan", "load", path])
    assert result.exit_code == 2
    assert "programme_id 'BFF'" in result.output
    assert "at least one purpose" in result.output


def test_an_rpc_error_is_one_line_and_exit_1(runner, tmp_path):
    # Nothing listens on port 1: the call fails as UNAVAILABLE.
    result = runner.invoke(tcli.cli, ["--token", "t", "--router", "127.0.0.1:1", "flows"])
    assert result.exit_code == 1
    assert result.output.startswith("tiaki: UNAVAILABLE: ")
    assert result.output.count("\n") == 1


def test_requests_due_date_prints_the_iso_date_last():
    result = CliRunner().invoke(tcli.cli, ["requests", "due-date", "2025-12-24"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2026-02-13"
    transfer = CliRunner().invoke(tcli.cli, ["requests", "due-date", "2026-04-01",
                                        "--working-days", "10"])
    assert transfer.output.splitlines()[-1] == "2026-04-17"


@pytest.mark.parametrize("bad", ["2026-13-01", "20260101", "24/12/2025", ""])
def test_requests_due_date_refuses_a_date_in_another_format(bad):
    result = CliRunner().invoke(tcli.cli, ["requests", "due-date", bad])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_the_person_acting_goes_with_every_call(monkeypatch):
    settings = Settings(intake="", router="", token="t", token_file=None, person="aroha.ngata")
    with click.Context(tcli.cli, obj=settings):
        assert call_metadata() == (("authorization", "Bearer t"), ("tiaki-person", "aroha.ngata"))
    monkeypatch.setenv("TIAKI_PERSON", "rangi.walker")
    assert tcli.cli.make_context("tiaki", ["flows"]).params["person"] == "rangi.walker"
    monkeypatch.delenv("TIAKI_PERSON")
    assert tcli.cli.make_context("tiaki", ["flows"]).params["person"] == ""
