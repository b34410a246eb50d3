"""`tiaki submit` without servers: only accepted items leave the machine, every
rejection is written by row, exit codes, `--check` sends nothing."""

import csv

import grpc
import pytest
from click.testing import CliRunner

from tests.unit.test_intake_domain import GOOD_RECORD, make_plan
from tiaki.cli import app as tcli
from tiaki.cli import base, submit
from tiaki.core.plan import Plan, RecordRules
from tiaki.intake.v1 import intake_pb2 as ipb
from tiaki.plumbing.plan_proto import to_proto
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import plan_pb2

HEADER = ["record_ref", "client_ref", *GOOD_RECORD]


def _csv(tmp_path, rows: list[dict], header=None, name="export.csv") -> str:
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _row(n: int, **overrides) -> dict:
    return {"record_ref": f"r{n}", "client_ref": f"c{n}", **GOOD_RECORD, **overrides}


class _NoAgreement(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.FAILED_PRECONDITION

    def details(self):
        return "no agreement applies"


class FakeServers:
    """The router's plan and agreement, and an intake that accepts what it is sent."""

    def __init__(self, plan: dict, agreement: apb.Agreement | None = None):
        self.plan, self.agreement = plan, agreement
        self.sent: list[ipb.Record] = []
        self.opened = 0

    def GetPlan(self, request, metadata=None):
        return plan_pb2.GetPlanResponse(plan=to_proto(self.plan))

    def GetAgreement(self, request, metadata=None):
        if self.agreement is None:
            raise _NoAgreement()
        return apb.GetAgreementResponse(in_force=self.agreement)

    def OpenSubmission(self, request, metadata=None):
        self.opened += 1
        return ipb.OpenSubmissionResponse(submission=ipb.Submission(submission_id="sub-1"))

    def SubmitRecords(self, stream, metadata=None):
        for batch in stream:
            self.sent.extend(batch.records)
        return ipb.SubmitRecordsResponse(accepted_count=len(self.sent))

    def SealSubmission(self, request, metadata=None):
        return ipb.SealSubmissionResponse(
            submission=ipb.Submission(submission_id="sub-1", accepted_count=len(self.sent)))


@pytest.fixture
def servers(monkeypatch):
    fake = FakeServers(make_plan(version=1))
    monkeypatch.setattr(base, "stub", lambda stub_class, server: fake)
    return fake


def run(path: str, *args: str):
    return CliRunner().invoke(tcli.cli, ["--token", "t", "submit", path, "--programme",
                                         "housing-support", "--period", "2026Q3", *args])


def rejections(path: str) -> list[dict]:
    with open(submit.rejections_path(path), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_extra_columns_are_never_sent_and_each_is_named_once(servers, tmp_path):
    path = _csv(tmp_path, [_row(n, case_notes=f"secret-{n}", worker="Jo") for n in range(5)])
    result = run(path)
    assert result.exit_code == 0, result.output
    assert result.output.count("ignored column case_notes") == 1
    assert result.output.count("ignored column worker") == 1
    assert len(servers.sent) == 5
    assert "secret-" not in str(servers.sent) and "Jo" not in str(servers.sent)
    assert all(set(r.fields) == set(GOOD_RECORD) for r in servers.sent)
    assert rejections(path) == []


def test_items_the_agreement_does_not_accept_are_not_sent(tmp_path, monkeypatch):
    accepted = ["age", "region", "referral_date", "case_code", "notes"]  # not housed/nights
    fake = FakeServers(make_plan(version=1), apb.Agreement(items=[
        apb.DecidedItem(item_name=name, decision=apb.ITEM_DECISION_ACCEPT) for name in accepted]))
    monkeypatch.setattr(base, "stub", lambda stub_class, server: fake)
    result = run(_csv(tmp_path, [_row(1), _row(2)]))
    assert result.exit_code == 0, result.output
    assert "ignored column housed" in result.output
    assert "ignored column nights_housed" in result.output
    assert all(set(r.fields) == set(accepted) for r in fake.sent)


def test_every_rejection_is_written_by_row_and_exit_1(servers, tmp_path):
    rows = [_row(n) for n in range(1, 1501)]
    bad = {7: {"age": "old"}, 8: {"region": "mars", "age": "200"}, 1400: {"region": ""}}
    for n, change in bad.items():
        rows[n - 1].update(change)
    path = _csv(tmp_path, rows)
    result = run(path)
    assert result.exit_code == 1, result.output
    assert "accepted 1497, duplicate 0, rejected 3" in result.output
    got = [(r["row"], r["record_ref"], r["field"]) for r in rejections(path)]
    # The header is row 1: record n is on row n + 1.
    assert got == [("8", "r7", "age"), ("9", "r8", "age"), ("9", "r8", "region"),
                   ("1401", "r1400", "region")]
    assert {r.record_ref for r in servers.sent}.isdisjoint({"r7", "r8", "r1400"})


def test_nothing_accepted_exits_2_and_opens_no_submission(servers, tmp_path):
    path = _csv(tmp_path, [_row(1, age="x"), _row(2, region="mars")])
    result = run(path)
    assert result.exit_code == 2, result.output
    assert servers.opened == 0 and servers.sent == []
    assert len(rejections(path)) == 2


def test_check_sends_and_stores_nothing(servers, tmp_path):
    path = _csv(tmp_path, [_row(1), _row(2, age="-1"), _row(3, extra="x")],
                header=[*HEADER, "extra"])
    result = run(path, "--check")
    assert result.exit_code == 1, result.output
    assert "2 valid, 1 rejected; nothing stored or sent" in result.output
    assert servers.opened == 0 and servers.sent == []
    assert [(r["row"], r["field"]) for r in rejections(path)] == [("3", "age")]


def test_a_column_map_renames_a_vendors_columns(servers, tmp_path):
    rows = [{"RecordID": f"r{n}", "ClientID": f"c{n}", "Age": "30", "Region": "auckland",
             "Notes": "n"} for n in range(3)]
    path = _csv(tmp_path, rows)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("RecordID: record_ref\nClientID: client_ref\nAge: age\nRegion: region\n")
    result = run(path, "--columns", str(mapping))
    assert result.exit_code == 0, result.output
    assert "ignored column Notes" in result.output
    assert [dict(r.fields) for r in servers.sent] == [{"age": "30", "region": "auckland"}] * 3
    assert [r.record_ref for r in servers.sent] == ["r0", "r1", "r2"]


def test_a_failed_call_exits_2(tmp_path, monkeypatch):
    class Down:
        def GetPlan(self, request, metadata=None):
            raise _NoAgreement()

    monkeypatch.setattr(base, "stub", lambda stub_class, server: Down())
    result = run(_csv(tmp_path, [_row(1)]))
    assert result.exit_code == 2
    assert "FAILED_PRECONDITION" in result.output


def test_check_csv_separates_identity_and_pads_short_rows(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffrecord_ref,client_ref,family_name,date_of_birth,sex,age,region\n"
                     "r1,c1,Smith,1990-02-03,female,30,auckland\nr2,c2\n".encode())
    rules = RecordRules(Plan.from_dict(make_plan()))
    held = submit.check_csv(str(path), rules, ["age", "region"], identity=False)
    assert [r.record_ref for _, r in held.records] == ["r1"]
    assert not held.records[0][1].HasField("identity") and "Smith" not in str(held.records)
    assert {(row, f) for row, _, f, _ in held.rejections} == {(3, "age"), (3, "region")}
    asked = submit.check_csv(str(path), rules, ["age", "region"], identity=True)
    assert asked.records[0][1].identity.family_name == "Smith"


class StricterIntake(FakeServers):
    """An intake whose rules reject what the command line's check let through
    (a command line older than the server): it stores every rejection, lists
    only the first `cap` in SubmitRecords' answer and pages ListRejections."""

    def __init__(self, plan: dict, cap: int = 1000):
        super().__init__(plan)
        self.cap, self.stored, self.pages = cap, [], 0

    def SubmitRecords(self, stream, metadata=None):
        for batch in stream:
            for record in batch.records:
                if record.client_ref.startswith("refused"):
                    self.stored.append(ipb.RecordRejection(
                        row=record.row, record_ref=record.record_ref, field="client_ref",
                        reason="not one intake takes", code=ipb.REJECTION_CODE_BAD_FORMAT))
                else:
                    self.sent.append(record)
        return ipb.SubmitRecordsResponse(accepted_count=len(self.sent),
                                         rejected_count=len(self.stored),
                                         rejections=self.stored[:self.cap])

    def ListRejections(self, request, metadata=None):
        self.pages += 1
        start = int(request.page_token or 0)
        end = start + self.cap
        return ipb.ListRejectionsResponse(rejections=self.stored[start:end],
                                          next_page_token=str(end) if end < len(self.stored)
                                          else "")


def test_more_rejections_by_intake_than_its_answer_lists_are_all_written_by_row(
        tmp_path, monkeypatch):
    fake = StricterIntake(make_plan(version=1))
    monkeypatch.setattr(base, "stub", lambda stub_class, server: fake)
    rows = [_row(n, client_ref=f"refused-{n}" if n % 5 else f"c{n}") for n in range(1, 3126)]
    rows[9]["age"] = "old"  # r10: rejected here, never sent
    path = _csv(tmp_path, rows)
    result = run(path, "--batch-size", "700")
    assert result.exit_code == 1, result.output
    assert "accepted 624, duplicate 0, rejected 2501" in result.output
    got = [(r["row"], r["record_ref"], r["field"]) for r in rejections(path)]
    refused = [(str(n + 1), f"r{n}", "client_ref") for n in range(1, 3126) if n % 5]
    assert len(refused) == 2500
    assert got == sorted([*refused, ("11", "r10", "age")], key=lambda r: int(r[0]))
    assert fake.pages == 3  # 1,000 + 1,000 + 499


# -- the plan as a CSV ------------------------------------------------------------------


def test_plan_template_writes_the_header_and_allowed_values(servers, tmp_path):
    out = tmp_path / "bff.csv"
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "plan", "template", "housing-support",
                                           "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == [",".join(HEADER)]
    with open(tmp_path / "bff.allowed-values.csv", encoding="utf-8") as fh:
        sheet = {r["column"]: r for r in csv.DictReader(fh)}
    assert sheet["region"]["allowed values"] == "one of: northland, auckland"
    assert sheet["region"]["required"] == "yes" and sheet["housed"]["required"] == "no"
    assert sheet["age"]["allowed values"] == "a whole number (4, -4, 4.0) from 0 to 120"


def test_plan_show_lists_the_csv_columns_and_allowed_values(servers):
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "plan", "show", "housing-support"])
    assert result.exit_code == 0, result.output
    columns = result.output.split("CSV columns", 1)[1]
    assert "region (required): one of: northland, auckland" in columns
    assert "referral_date (optional): a date as YYYY-MM-DD" in columns
    assert columns.index("record_ref") < columns.index("age") < columns.index("notes")


# -- validation that matches the period --------------------------------------------------


def test_a_date_after_the_period_and_a_ref_twice_with_other_values_are_rejected_by_row(
        servers, tmp_path):
    path = _csv(tmp_path, [_row(1), _row(2, referral_date="2031-01-01"), _row(1),
                           _row(1, age="35"), _row(3)])
    result = run(path, "--check")
    assert result.exit_code == 1, result.output
    assert "3 valid, 2 rejected" in result.output  # r1 twice alike is a duplicate, not a fault
    got = [(r["row"], r["record_ref"], r["field"], r["reason"]) for r in rejections(path)]
    assert got == [
        ("3", "r2", "referral_date",
         "2031-01-01 is outside the window for 2026Q3: after its last day, 2026-09-30"),
        ("5", "r1", "record_ref", "also on row 2 with different values (the first is kept)")]


def test_identity_details_asked_for_are_read_as_intake_reads_them(tmp_path, monkeypatch):
    data = make_plan(version=1)
    data["purposes"][0]["include_slk581"] = True
    fake = FakeServers(data)
    monkeypatch.setattr(base, "stub", lambda stub_class, server: fake)
    identity = {"family_name": "Smith", "given_name": "Jo", "date_of_birth": "1990-02-03",
                "sex": "female"}
    path = _csv(tmp_path, [_row(1, **identity), _row(2, **{**identity, "sex": "unknown"})])
    result = run(path, "--check")
    assert result.exit_code == 1, result.output
    assert [(r["row"], r["field"]) for r in rejections(path)] == [("3", "identity")]
    assert "sex must be" in rejections(path)[0]["reason"]
