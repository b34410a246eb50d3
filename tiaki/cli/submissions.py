"""`tiaki submissions list|abandon`: a provider's submissions, and abandoning
an open one (it takes no more records and nothing more of it is routed)."""

from __future__ import annotations

import click

from tiaki.cli import base
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1 import intake_pb2_grpc


@click.group()
def submissions() -> None:
    """Your submissions: list them, abandon an open one."""


def _state(sub: pb.Submission) -> str:
    return base.enum_words(pb.SubmissionState, sub.state, "SUBMISSION_STATE_")


@submissions.command("list")
@click.option("--programme", default="", help="Only this programme's.")
@click.option("--period", default="", help="Only this period's, e.g. 2026Q3.")
@base.rpc_errors
def submissions_list(programme: str, period: str) -> None:
    """Your submissions, oldest first."""
    intake = base.stub(intake_pb2_grpc.IntakeServiceStub, "intake")
    rows, token = [], ""
    while True:
        page = intake.ListSubmissions(pb.ListSubmissionsRequest(
            programme_id=programme, period=period, page_token=token),
            metadata=base.call_metadata())
        rows += [[s.submission_id, s.programme_id, s.period, str(s.plan_version), _state(s),
                  str(s.accepted_count), str(s.rejected_count),
                  base.when(s.opened_at.ToJsonString()), s.superseded_by or "-"]
                 for s in page.submissions]
        token = page.next_page_token
        if not token:
            break
    if not rows:
        click.echo("no submissions")
        return
    click.echo(base.table(["submission", "programme", "period", "plan", "state", "accepted",
                           "rejected", "opened", "superseded by"], rows))


@submissions.command("abandon")
@click.argument("submission_id")
@base.rpc_errors
def submissions_abandon(submission_id: str) -> None:
    """Abandon an open submission: it takes no more records, is never sealed,
    and none of its batches is routed afterwards."""
    sub = base.stub(intake_pb2_grpc.IntakeServiceStub, "intake").AbandonSubmission(
        pb.AbandonSubmissionRequest(submission_id=submission_id),
        metadata=base.call_metadata()).submission
    click.echo(f"{sub.submission_id} ({sub.programme_id}, {sub.period}): {_state(sub)}, "
               f"{sub.accepted_count} records accepted before")
