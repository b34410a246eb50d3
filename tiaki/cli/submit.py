"""`tiaki submit FILE.csv --programme ID --period 2026Q3`: a quarter's
client-level records, checked locally, streamed to intake in batches, sealed.

Only the columns that are items the provider's agreement accepts are sent (a
case-management export's other columns stay on the provider's machine, each
named once); `--columns MAP.yaml` renames a vendor's columns to item names.
Every row is checked here with the rules intake applies (tiaki.core.plan), and
every rejection is written beside the input as FILE.rejections.csv. A CSV's
name, date of birth and sex columns are sent only when a purpose in force asks
for the SLK-581 linkage key. Exit codes: 0 every record accepted, 1 some
rejected, 2 nothing accepted or an error. `--check` stores and sends nothing."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import grpc
from tqdm import tqdm

from tiaki.cli import base
from tiaki.core.periods import period_words
from tiaki.core.plan import Plan, RecordRules, Rejected, agreed_rules, slk581
from tiaki.intake.v1 import intake_pb2, intake_pb2_grpc
from tiaki.plumbing.plan_proto import from_proto
from tiaki.router.v1 import agreement_pb2, agreement_pb2_grpc, plan_pb2, plan_pb2_grpc

REQUIRED_COLUMNS = ("record_ref", "client_ref")
IDENTITY_COLUMNS = ("family_name", "given_name", "date_of_birth", "sex")
REJECTION_COLUMNS = ("row", "record_ref", "field", "reason")
WITHHELD_BECAUSE = {agreement_pb2.ITEM_DECISION_DECLINE: "declined",
                    agreement_pb2.ITEM_DECISION_QUERY: "queried"}


class CsvProblem(ValueError):
    """A CSV file that cannot be submitted as it is."""


def _open_csv(path: str):
    # utf-8-sig: spreadsheets often write a byte-order mark.
    return open(path, encoding="utf-8-sig", newline="")


def read_mapping(path: str | None) -> dict[str, str]:
    """A --columns file: a mapping of the vendor's column names to item names."""
    if not path:
        return {}
    data = base.read_yaml(path, "a mapping of your column names to item names")
    return {str(k).strip(): str(v).strip() for k, v in data.items()}


def _header(reader, mapping: dict[str, str]) -> list[str]:
    return [mapping.get(c.strip(), c.strip()) for c in next(reader, None) or []]


def scan_csv(path: str, mapping: dict[str, str] | None = None) -> tuple[list[str], int]:
    """Checks a CSV's shape and counts its data rows: (columns, row count), the
    columns named as `mapping` renames them.

    Raises CsvProblem for a missing record_ref/client_ref column, blank or repeated
    column names, or a row with more cells than the header."""
    try:
        with _open_csv(path) as fh:
            reader = csv.reader(fh)
            columns = _header(reader, mapping or {})
            if not columns:
                raise CsvProblem(f"{path} is empty: it needs a header row")
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


def row_to_record(row: dict[str, str], identity_asked: bool = False,
                  items: Iterable[str] | None = None) -> intake_pb2.Record:
    """One CSV row as a Record: identity columns apart (sent only when asked for,
    never as fields), and as fields only the columns in `items` (None: every other)."""
    record = intake_pb2.Record(record_ref=row.get("record_ref", ""),
                               client_ref=row.get("client_ref", ""))
    identity = {c: row.get(c) or "" for c in IDENTITY_COLUMNS}
    if identity_asked and any(identity.values()):
        record.identity.CopyFrom(intake_pb2.ClientIdentity(**identity))
    for name in (row if items is None else items):
        if name not in REQUIRED_COLUMNS and name not in IDENTITY_COLUMNS and name in row:
            record.fields[name] = row[name]
    return record


@dataclass
class Checked:
    """A CSV checked locally: the records to send (with their CSV row numbers)
    and every rejection as (row, record_ref, field, reason)."""
    records: list[tuple[int, intake_pb2.Record]] = field(default_factory=list)
    rejections: list[tuple[int, str, str, str]] = field(default_factory=list)
    rejected: int = 0  # records

    def rows_by_ref(self) -> dict[str, int]:
        """Each record reference's first row."""
        rows: dict[str, int] = {}
        for row, record in self.records:
            rows.setdefault(record.record_ref, row)
        return rows


def check_csv(path: str, rules: RecordRules, sent: list[str], identity: bool,
              mapping: dict[str, str] | None = None, period: str = "") -> Checked:
    """Every data row of a CSV `scan_csv` accepted, checked with intake's rules
    for the period; a record reference on two rows with different values is
    rejected on the second. A row's number is its line in a spreadsheet (the
    header is row 1)."""
    out = Checked()
    first: dict[str, tuple[int, bytes]] = {}  # record_ref: its first valid row, its content
    with _open_csv(path) as fh:
        reader = csv.reader(fh)
        columns = _header(reader, mapping or {})
        for cells in reader:
            if not cells:
                continue
            cells = cells + [""] * (len(columns) - len(cells))
            row = dict(zip(columns, cells))
            record = row_to_record(row, identity, sent)
            # Checked in column order (a proto map has none): rejections read as the row.
            _, problems = rules.check(record.record_ref, record.client_ref,
                                      {name: row[name] for name in sent}, period)
            content = record.SerializeToString(deterministic=True)
            earlier, earlier_content = first.get(record.record_ref, (0, content))
            if not problems and record.HasField("identity"):
                try:  # intake computes the linkage key from these: read them as it does
                    slk581(*(getattr(record.identity, c) for c in IDENTITY_COLUMNS))
                except Rejected as exc:
                    problems = [("identity", str(exc))]
            if not problems and earlier_content != content:
                problems = [("record_ref", f"also on row {earlier} with different values "
                                           "(the first is kept)")]
            record.row = reader.line_num  # echoed in intake's rejections; not in `content`
            if problems:
                out.rejected += 1
                out.rejections.extend((reader.line_num, record.record_ref, f, r)
                                      for f, r in problems)
            else:
                first.setdefault(record.record_ref, (reader.line_num, content))
                out.records.append((reader.line_num, record))
    return out


def batches(records: list[intake_pb2.Record], submission_id: str,
            batch_size: int) -> Iterator[intake_pb2.SubmitRecordsRequest]:
    for start in range(0, len(records), batch_size):
        yield intake_pb2.SubmitRecordsRequest(submission_id=submission_id,
                                              records=records[start:start + batch_size])


def terms(plan: Plan, agreement: agreement_pb2.Agreement | None) -> tuple[RecordRules, bool]:
    """The rules a record meets under the provider's agreement (`agreement` None:
    the plan needs none, every item is collected), and whether a purpose in
    force asks for SLK-581 (so for identity details)."""
    if agreement is None:
        rules = RecordRules(plan)
    else:
        decided = {d.item_name: d.decision for d in agreement.items}
        rules = agreed_rules(plan, {
            i.name: WITHHELD_BECAUSE.get(decided.get(i.name), "not decided")
            for i in plan.items if decided.get(i.name) != agreement_pb2.ITEM_DECISION_ACCEPT})
    return rules, rules.needs_slk581


def identity_asked(plan: Plan, agreement: agreement_pb2.Agreement | None) -> bool:
    """A purpose in force asks for SLK-581: on a plan agreed through co-design,
    one with an item the provider's agreement for the period accepts (`agreement`
    None: the plan needs no agreement, every purpose is in force)."""
    return terms(plan, agreement)[1]


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


def intake_rejections(intake, submission_id: str,
                      metadata) -> Iterator[intake_pb2.RecordRejection]:
    """Every rejection intake stored for the submission, page by page."""
    token = ""
    while True:
        page = intake.ListRejections(intake_pb2.ListRejectionsRequest(
            submission_id=submission_id, page_token=token), metadata=metadata)
        yield from page.rejections
        token = page.next_page_token
        if not token:
            return


def rejections_path(csv_file: str) -> Path:
    """FILE.rejections.csv beside FILE.csv."""
    path = Path(csv_file)
    return path.with_name(f"{path.stem}.rejections.csv")


def write_rejections(path: Path, rejections: list[tuple[int, str, str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REJECTION_COLUMNS)
        writer.writerows(sorted(rejections, key=lambda r: r[0]))


def exit_code(accepted: int, rejected: int) -> int:
    """0 every record accepted, 1 some rejected, 2 nothing accepted."""
    if accepted == 0:
        return 2
    return 1 if rejected else 0


@click.command()
@click.argument("csv_file", metavar="FILE.csv",
                type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--programme", required=True, help="The programme id.")
@click.option("--period", required=True, help="The reporting period, e.g. 2026Q3.")
@click.option("--plan-version", type=click.IntRange(min=0), default=0, show_default=True,
              help="The plan version; 0 asks the router for the latest.")
@click.option("--columns", "columns_file", metavar="MAP.yaml",
              type=click.Path(exists=True, dir_okay=False, readable=True),
              help="Maps your export's column names to item names (your_name: item_name).")
@click.option("--check", is_flag=True,
              help="Check the file against the plan and your agreement; store and send nothing.")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Records per streamed batch.")
@click.option("--seal/--no-seal", default=True, show_default=True,
              help="Seal the submission once every record is sent.")
@click.option("--replace", "replaces", metavar="SUBMISSION_ID", default="",
              help="Correct a sealed period: this submission replaces that one once sealed "
                   "(within the plan's correction window).")
@base.rpc_errors(status=2)  # a failed call is an error: exit 2
def submit(csv_file: str, programme: str, period: str, plan_version: int,
           columns_file: str | None, check: bool, batch_size: int, seal: bool,
           replaces: str) -> None:
    """Submit a CSV of client-level records for one programme and period.

    Exit codes: 0 every record accepted, 1 some rejected, 2 nothing accepted or an error."""
    mapping = read_mapping(columns_file)
    try:
        columns, total = scan_csv(csv_file, mapping)
    except CsvProblem as exc:
        raise click.UsageError(str(exc)) from None
    metadata = base.call_metadata()
    plan = Plan.from_dict(from_proto(base.stub(plan_pb2_grpc.PlanServiceStub, "router").GetPlan(
        plan_pb2.GetPlanRequest(programme_id=programme, version=plan_version),
        metadata=metadata).plan))
    plan_version = plan.version
    rules, asked = terms(plan, _agreement_in_force(programme, plan_version, period, metadata))
    sent = [c for c in columns if c in rules.validators]
    for column in columns:
        if column not in sent and column not in REQUIRED_COLUMNS \
                and column not in IDENTITY_COLUMNS:
            click.echo(f"ignored column {column}: not an item you agreed to send (never sent)")
    held_back = [c for c in IDENTITY_COLUMNS if c in columns]
    if held_back and not asked:
        click.echo(f"not sent: {', '.join(held_back)} (no purpose in force for {period} asks "
                   "for the SLK-581 linkage key, so identity details stay with you)")
    checked = check_csv(csv_file, rules, sent, asked, mapping, period)
    out = rejections_path(csv_file)
    if check:
        write_rejections(out, checked.rejections)
        click.echo(f"checked {total} records against {plan.name or programme} plan version "
                   f"{plan_version} for {period}: {len(checked.records)} valid, "
                   f"{checked.rejected} rejected; nothing stored or sent")
        if checked.rejections:
            click.echo(f"every rejection, by row: {out}")
        sys.exit(exit_code(len(checked.records), checked.rejected))
    if not checked.records:
        write_rejections(out, checked.rejections)
        click.echo(f"nothing to send: all {total} records rejected; every rejection, by row: "
                   f"{out}")
        sys.exit(2)
    intake = base.stub(intake_pb2_grpc.IntakeServiceStub, "intake")
    sid = intake.OpenSubmission(
        intake_pb2.OpenSubmissionRequest(programme_id=programme, plan_version=plan_version,
                                         period=period, replaces_submission_id=replaces),
        metadata=metadata).submission.submission_id
    click.echo(f"{period_words(period)} for {plan.name or programme}: sending "
               f"{len(checked.records)} of {total} records as submission {sid} "
               f"(plan version {plan_version})")
    if replaces:
        click.echo(f"replacing submission {replaces}: once sealed, its records are superseded "
                   "at every unit")
    records = [record for _, record in checked.records]
    with tqdm(total=len(records), unit="rec", file=sys.stderr, disable=None,
              leave=False) as bar:
        result = intake.SubmitRecords(
            _with_progress(batches(records, sid, batch_size), bar), metadata=metadata)
    rejections = list(checked.rejections)
    if result.rejected_count:  # the response lists only the first: every one, page by page
        rows = checked.rows_by_ref()
        rejections += [(r.row or rows.get(r.record_ref, 0), r.record_ref, r.field, r.reason)
                       for r in intake_rejections(intake, sid, metadata)]
    rejected = checked.rejected + result.rejected_count
    write_rejections(out, rejections)
    click.echo(f"accepted {result.accepted_count}, duplicate {result.duplicate_count}, "
               f"rejected {rejected}")
    if rejections:
        click.echo(f"every rejection, by row: {out} ({len(rejections)} "
                   f"problem{'' if len(rejections) == 1 else 's'})")
    if seal:
        sealed = intake.SealSubmission(
            intake_pb2.SealSubmissionRequest(submission_id=sid), metadata=metadata).submission
        click.echo(f"sealed: {sealed.accepted_count} records accepted in all")
    else:
        click.echo("left open (--no-seal)")
    click.echo(f"see where it goes: tiaki flows --submission {sid}")
    sys.exit(exit_code(result.accepted_count, rejected))
