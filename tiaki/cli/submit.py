"""`tiaki submit FILE.csv --programme ID --period 2026Q3`: a quarter's
client-level records, checked locally, streamed to intake in batches, sealed.

A CSV's name, date of birth and sex columns are sent only when a purpose in
force (the plan as the provider's agreement for the period applies it) asks
for the SLK-581 linkage key; otherwise they never leave the provider."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator

import click
import grpc
from tqdm import tqdm

from tiaki.cli import base
from tiaki.core.periods import period_words
from tiaki.core.plan import Plan
from tiaki.intake.v1 import intake_pb2, intake_pb2_grpc
from tiaki.plumbing.plan_proto import from_proto
from tiaki.router.v1 import agreement_pb2, agreement_pb2_grpc, plan_pb2, plan_pb2_grpc

REQUIRED_COLUMNS = ("record_ref", "client_ref")
IDENTITY_COLUMNS = ("family_name", "given_name", "date_of_birth", "sex")
SHOWN_REJECTIONS = 10


class CsvProblem(ValueError):
    """A CSV file that cannot be submitted as it is."""


def _open_csv(path: str):
    # utf-8-sig: spreadsheets often write a byte-order mark.
    return open(path, encoding="utf-8-sig", newline="")


def scan_csv(path: str) -> tuple[list[str], int]:
    """Checks a CSV's shape and counts its data rows: (columns, row count).

    Raises CsvProblem for a missing record_ref/client_ref column, blank or repeated
    column names, or a row with more cells than the header."""
    try:
        with _open_csv(path) as fh:
            reader = csv.reader(fh)
            columns = next(reader, None)
            if not columns:
                raise CsvProblem(f"{path} is empty: it needs a header row")
            columns = [c.strip() for c in columns]
            for required in REQUIRED_COLUMNS:
                if required not in columns:
                    raise CsvProblem(f"{path} has no {required!r} column "
                                     f"(columns: {', '.join(columns)})")
            for position, name in enumerate(columns, start=1):
                if not name:
                    raise CsvProblem(f"{path}: column {position} has no name")
            repeated = sorted({c for c in columns if columns.count(c) > 1})
            if repeated:
                raise CsvProblem(f"{path}: repeated column names: {', '.join(repeated)}")
            rows = 0
            for row in reader:
                if not row:
                    continue
                if len(row) > len(columns):
                    raise CsvProblem(f"{path} line {reader.line_num}: {len(row)} cells, "
                                     f"but the header names {len(columns)} columns")
                rows += 1
    except UnicodeDecodeError as exc:
        raise CsvProblem(f"{path} is not UTF-8 text: {exc.reason}") from None
    except csv.Error as exc:
        raise CsvProblem(f"{path}: {exc}") from None
    return columns, rows


def row_to_record(row: dict[str, str], identity_asked: bool = False) -> intake_pb2.Record:
    """One CSV row as a Record: identity columns apart (sent only when asked for,
    never as fields), every other cell as-is."""
    record = intake_pb2.Record(record_ref=row.get("record_ref", ""),
                               client_ref=row.get("client_ref", ""))
    identity = {c: row.get(c) or "" for c in IDENTITY_COLUMNS}
    if identity_asked and any(identity.values()):
        record.identity.CopyFrom(intake_pb2.ClientIdentity(**identity))
    for name, value in row.items():
        if name not in REQUIRED_COLUMNS and name not in IDENTITY_COLUMNS:
            record.fields[name] = value
    return record


def read_batches(path: str, submission_id: str, batch_size: int = 500,
                 identity_asked: bool = False) -> Iterator[intake_pb2.SubmitRecordsRequest]:
    """The CSV's rows as SubmitRecordsRequest batches of at most batch_size records.

    Expects a file `scan_csv` accepted; short rows are padded with empty cells."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with _open_csv(path) as fh:
        reader = csv.reader(fh)
        columns = [c.strip() for c in next(reader, [])]
        batch: list[intake_pb2.Record] = []
        for cells in reader:
            if not cells:
                continue
            cells = cells + [""] * (len(columns) - len(cells))
            batch.append(row_to_record(dict(zip(columns, cells)), identity_asked))
            if len(batch) >= batch_size:
                yield intake_pb2.SubmitRecordsRequest(submission_id=submission_id, records=batch)
                batch = []
        if batch:
            yield intake_pb2.SubmitRecordsRequest(submission_id=submission_id, records=batch)


def identity_asked(plan: Plan, agreement: agreement_pb2.Agreement | None) -> bool:
    """A purpose in force asks for SLK-581: on a plan agreed through co-design,
    one with an item the provider's agreement for the period accepts (`agreement`
    None: the plan needs no agreement, every purpose is in force)."""
    if agreement is None:
        return plan.needs_slk581()
    accepted = {d.item_name for d in agreement.items
                if d.decision == agreement_pb2.ITEM_DECISION_ACCEPT}
    return plan.needs_slk581([i.name for i in plan.items if i.name not in accepted])


def _agreement_in_force(programme: str, plan_version: int, period: str,
                        metadata) -> agreement_pb2.Agreement | None:
    """The provider's agreement in force for the period; None when the plan
    was not agreed through co-design (no agreement applies to it)."""
    try:
        return base.stub(agreement_pb2_grpc.AgreementServiceStub, "router").GetAgreement(
            agreement_pb2.GetAgreementRequest(programme_id=programme, plan_version=plan_version,
                                              period=period), metadata=metadata).in_force
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.FAILED_PRECONDITION:
            return None
        raise


def _with_progress(batches: Iterable[intake_pb2.SubmitRecordsRequest],
                   bar: tqdm) -> Iterator[intake_pb2.SubmitRecordsRequest]:
    """Yields the batches, moving the bar once gRPC has taken each one."""
    for batch in batches:
        yield batch
        bar.update(len(batch.records))


@click.command()
@click.argument("csv_file", metavar="FILE.csv",
                type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--programme", required=True, help="The programme id.")
@click.option("--period", required=True, help="The reporting period, e.g. 2026Q3.")
@click.option("--plan-version", type=click.IntRange(min=0), default=0, show_default=True,
              help="The plan version; 0 asks the router for the latest.")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Records per streamed batch.")
@click.option("--seal/--no-seal", default=True, show_default=True,
              help="Seal the submission once every record is sent.")
@base.rpc_errors
def submit(csv_file: str, programme: str, period: str, plan_version: int, batch_size: int,
           seal: bool) -> None:
    """Submit a CSV of client-level records for one programme and period."""
    try:
        columns, total = scan_csv(csv_file)
    except CsvProblem as exc:
        raise click.UsageError(str(exc)) from None
    metadata = base.call_metadata()
    intake = base.stub(intake_pb2_grpc.IntakeServiceStub, "intake")
    plan = Plan.from_dict(from_proto(base.stub(plan_pb2_grpc.PlanServiceStub, "router").GetPlan(
        plan_pb2.GetPlanRequest(programme_id=programme, version=plan_version),
        metadata=metadata).plan))
    plan_version = plan.version
    opened = intake.OpenSubmission(
        intake_pb2.OpenSubmissionRequest(programme_id=programme, plan_version=plan_version,
                                         period=period), metadata=metadata).submission
    sid = opened.submission_id
    # Only a purpose asking for SLK-581 could make identity details wanted.
    asked = plan.needs_slk581() and identity_asked(
        plan, _agreement_in_force(programme, plan_version, period, metadata))
    click.echo(f"{period_words(period)} for {plan.name or programme}: sending {total} records "
               f"as submission {sid} (plan version {plan_version})")
    held_back = [c for c in IDENTITY_COLUMNS if c in columns]
    if held_back and not asked:
        click.echo(f"not sent: {', '.join(held_back)} (no purpose in force for {period} asks "
                   "for the SLK-581 linkage key, so identity details stay with you)")
    with tqdm(total=total, unit="rec", file=sys.stderr, disable=None, leave=False) as bar:
        result = intake.SubmitRecords(
            _with_progress(read_batches(csv_file, sid, batch_size, asked), bar),
            metadata=metadata)
    click.echo(f"accepted {result.accepted_count}, duplicate {result.duplicate_count}, "
               f"rejected {result.rejected_count}")
    shown = list(result.rejections)[:SHOWN_REJECTIONS]
    if shown:
        click.echo(f"rejections (first {len(shown)} of {result.rejected_count}):")
        click.echo(base.table(["record_ref", "field", "reason"],
                              [[r.record_ref, r.field, r.reason] for r in shown]))
    if seal:
        sealed = intake.SealSubmission(
            intake_pb2.SealSubmissionRequest(submission_id=sid), metadata=metadata).submission
        click.echo(f"sealed: {sealed.accepted_count} records accepted in all")
    else:
        click.echo("left open (--no-seal)")
    click.echo(f"see where it goes: tiaki flows --submission {sid}")

