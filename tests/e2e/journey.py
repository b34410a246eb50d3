"""Helpers the end-to-end tests share: submitting records as a provider would."""

from __future__ import annotations

import copy
import csv
import io
import itertools
import uuid

from tiaki.cli.synthetic import records as synthetic_records
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub

IDENTITY = ("family_name", "given_name", "date_of_birth", "sex")


def to_record(row: dict) -> pb.Record:
    fields = {k: v for k, v in row.items()
              if k not in IDENTITY and k not in ("record_ref", "client_ref")}
    record = pb.Record(record_ref=row["record_ref"], client_ref=row["client_ref"], fields=fields)
    if any(k in row for k in IDENTITY):
        record.identity.CopyFrom(pb.ClientIdentity(**{k: row.get(k, "") for k in IDENTITY}))
    return record


def batches(submission_id: str, rows, size: int = 500):
    chunk = []
    for row in rows:
        chunk.append(to_record(row))
        if len(chunk) == size:
            yield pb.SubmitRecordsRequest(submission_id=submission_id, records=chunk)
            chunk = []
    if chunk:
        yield pb.SubmitRecordsRequest(submission_id=submission_id, records=chunk)


_FRESH = itertools.count()


def fresh_period() -> str:
    """A period no other test of the session submits: a provider seals a
    period of a programme once (another submission of it must replace that
    one), so a test that does not care which period takes one of its own."""
    n = next(_FRESH)
    return f"{2100 + n // 4}Q{n % 4 + 1}"


def open_submission(stack, programme_id: str, version: int, provider="ccss",
                    period: str | None = None):
    period = period or fresh_period()
    reply = stack.intake().OpenSubmission(
        pb.OpenSubmissionRequest(programme_id=programme_id, plan_version=version, period=period),
        metadata=stack.metadata("provider", provider))
    return reply.submission.submission_id


def submit(stack, programme_id, version, rows, provider="ccss", period: str | None = None,
           seal=True, size=500):
    """Opens, streams and (by default) seals a submission; returns (id, summary)."""
    intake = stack.intake()
    meta = stack.metadata("provider", provider)
    submission_id = open_submission(stack, programme_id, version, provider, period)
    summary = intake.SubmitRecords(batches(submission_id, rows, size), metadata=meta)
    if seal:
        intake.SealSubmission(pb.SealSubmissionRequest(submission_id=submission_id),
                              metadata=meta)
    return submission_id, summary


def quarter(count: int, seed: int = 1, **kwargs) -> list[dict]:
    return list(synthetic_records(count, seed, **kwargs))


def agreed_copy(stack, plan: dict) -> dict:
    """A fresh copy of `plan` under a new programme id, co-designed and published as version 1."""
    plan = copy.deepcopy(plan)
    plan["programme_id"] = f"agreed-{uuid.uuid4().hex[:8]}"
    codesign = CodesignServiceStub(stack.channel("purpose_router"))
    agency = stack.metadata("agency", "agency")
    codesign.OpenDraft(cpb.OpenDraftRequest(plan=plan_proto.to_proto(plan)), metadata=agency)
    codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=plan["programme_id"], version=1),
                          metadata=agency)
    return plan


def queried_copy(stack, plan: dict, item: str = "wellbeing_end",
                 question: str = "Why is the end score needed?") -> dict:
    """A co-designed copy of `plan` whose `item` ccss queried (every other item accepted)."""
    plan = agreed_copy(stack, plan)
    AgreementServiceStub(stack.channel("purpose_router")).DecideItems(apb.DecideItemsRequest(
        programme_id=plan["programme_id"], plan_version=1, decided_by="Mere Tane", choices=[
            apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_QUERY, note=question)
            if i["name"] == item else
            apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_ACCEPT)
            for i in plan["items"]]), metadata=stack.metadata("provider", "ccss"))
    return plan


def agreed_measure(stack, programme: str, name: str, definition: str = "",
                   reason: str = "Families asked for it") -> mpb.Measure:
    """An evaluation measure the Agency proposes and ccss and the representatives endorse."""
    measures = MeasuresServiceStub(stack.channel("insights"))
    m = measures.ProposeMeasure(mpb.ProposeMeasureRequest(
        programme_id=programme, name=name, definition=definition or f"{name}, per family",
        reason=reason), metadata=stack.metadata("agency", "agency")).measure
    for who in (("provider", "ccss"), ("representative", "whanau-voice")):
        m = measures.RespondToMeasure(mpb.RespondToMeasureRequest(
            measure_id=m.measure_id, stance=mpb.STANCE_ENDORSE),
            metadata=stack.metadata(*who)).measure
    assert m.state == mpb.MEASURE_STATE_AGREED
    return m


def csv_text(rows: list[dict]) -> str:
    """Rows as a provider's export: a header of their columns, then one line each."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()
