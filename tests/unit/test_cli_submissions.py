"""`tiaki submissions list|abandon` against a stand-in intake."""

from __future__ import annotations

from click.testing import CliRunner

from tiaki.cli import app as tcli
from tiaki.cli import base
from tiaki.intake.v1 import intake_pb2 as pb


class FakeIntake:
    """Two pages of submissions; abandons what it is asked to."""

    def __init__(self):
        self.asked: list[pb.ListSubmissionsRequest] = []

    def ListSubmissions(self, request, metadata=()):
        self.asked.append(request)
        if not request.page_token:
            return pb.ListSubmissionsResponse(submissions=[pb.Submission(
                submission_id="s-1", programme_id="bff", period="2026Q3", plan_version=1,
                state=pb.SUBMISSION_STATE_SEALED, accepted_count=40,
                superseded_by="s-2")], next_page_token="1")
        return pb.ListSubmissionsResponse(submissions=[pb.Submission(
            submission_id="s-2", programme_id="bff", period="2026Q3", plan_version=1,
            state=pb.SUBMISSION_STATE_ABANDONED)])

    def AbandonSubmission(self, request, metadata=()):
        return pb.AbandonSubmissionResponse(submission=pb.Submission(
            submission_id=request.submission_id, programme_id="bff", period="2026Q3",
            state=pb.SUBMISSION_STATE_ABANDONED, accepted_count=3))


def test_list_reads_every_page_and_passes_the_filters(monkeypatch):
    fake = FakeIntake()
    monkeypatch.setattr(base, "stub", lambda stub_class, server: fake)
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "submissions", "list",
                                           "--programme", "bff", "--period", "2026Q3"])
    assert result.exit_code == 0, result.output
    assert [(r.programme_id, r.period, r.page_token) for r in fake.asked] == [
        ("bff", "2026Q3", ""), ("bff", "2026Q3", "1")]
    lines = result.output.splitlines()
    assert "superseded by" in lines[0]
    assert lines[1].split()[:5] == ["s-1", "bff", "2026Q3", "1", "sealed"]
    assert lines[1].split()[-1] == "s-2"
    assert "abandoned" in lines[2]


def test_abandon_says_what_became_of_it(monkeypatch):
    monkeypatch.setattr(base, "stub", lambda stub_class, server: FakeIntake())
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "submissions", "abandon", "s-9"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("s-9 (bff, 2026Q3): abandoned")
