"""The `tiaki` command line: submit a quarter's CSV, read the flow ledger, manage plans.

Plain grpcio clients (never under eventlet). Every call carries the caller's API
token as `authorization: Bearer <token>` metadata.

    tiaki submit records.csv --programme best-foot-forward --period 2026Q3
    tiaki flows --submission <id>
    tiaki flows --verify
    tiaki flows --head
    tiaki plan load plan.yaml
    tiaki plan show best-foot-forward
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import NoReturn

import click
import grpc
import yaml
from tqdm import tqdm

from tiaki.cli import ledger as cli_ledger
from tiaki.connect.channel import ClientTls, client_channel
from tiaki.core.plan import Plan, PlanInvalid
from tiaki.intake.v1 import intake_pb2, intake_pb2_grpc
from tiaki.plumbing.plan_proto import to_proto
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.requests.v1 import requests_pb2_grpc
from tiaki.router.v1 import ledger_pb2, ledger_pb2_grpc, plan_pb2, plan_pb2_grpc

REQUIRED_COLUMNS = ("record_ref", "client_ref")
IDENTITY_COLUMNS = ("family_name", "given_name", "date_of_birth", "sex")
GENESIS = "0" * 64
HASHED_FIELDS = ("sequence", "kind", "delivery_id", "provider_id", "programme_id",
                 "submission_id", "purpose_id", "unit_id", "fields", "record_count",
                 "content_hash", "accessor", "reason", "recorded_at", "previous_hash")
SHOWN_REJECTIONS = 10
FLOWS_PAGE_SIZE = 500

# Which server and stub class each kind of call goes to.
_STUBS: dict[str, tuple[str, type]] = {
    "intake": ("intake", intake_pb2_grpc.IntakeServiceStub),
    "plan": ("router", plan_pb2_grpc.PlanServiceStub),
    "ledger": ("router", ledger_pb2_grpc.LedgerServiceStub),
    "requests": ("requests", requests_pb2_grpc.RequestsServiceStub),
}


# -- settings, stubs and errors ---------------------------------------------------


@dataclass
class Settings:
    """The global options, and the channels opened with them."""

    intake: str
    router: str
    token: str | None
    token_file: str | None
    requests: str = "127.0.0.1:50053"
    channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.channels.clear()


def _settings() -> Settings:
    return click.get_current_context().find_object(Settings)


def _token() -> str:
    """The API token from --token / TIAKI_TOKEN, else from --token-file / TIAKI_TOKEN_FILE."""
    settings = _settings()
    if settings.token and settings.token.strip():
        return settings.token.strip()
    if settings.token_file:
        try:
            with open(settings.token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise click.UsageError(f"cannot read token file {settings.token_file}: "
                                   f"{exc.strerror}") from None
        if token:
            return token
        raise click.UsageError(f"token file {settings.token_file} is empty")
    raise click.UsageError(
        "no API token: give one with --token TOKEN or the TIAKI_TOKEN environment variable, "
        "or put it in a file and use --token-file PATH or TIAKI_TOKEN_FILE")


def _metadata() -> tuple[tuple[str, str], ...]:
    """The call metadata every request carries. With TIAKI_TLS_CA/CERT/KEY set
    (mutual TLS, tiaki/mtls.py) the certificate names the caller; a token is optional."""
    settings = _settings()
    if ClientTls.from_env() and not (settings.token or settings.token_file):
        return ()
    return (("authorization", f"Bearer {_token()}"),)


def _stub(kind: str):
    """A stub for 'intake', 'plan' or 'ledger', on a channel shared per server."""
    server, stub_class = _STUBS[kind]
    settings = _settings()
    if server not in settings.channels:
        settings.channels[server] = client_channel(getattr(settings, server))
    return stub_class(settings.channels[server])


def _fail(err: grpc.RpcError) -> NoReturn:
    """One line on stderr for a failed call, and exit 1."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    details = err.details() if callable(getattr(err, "details", None)) else str(err)
    name = code.name if code is not None else "UNKNOWN"
    click.echo(f"tiaki: {name}: {details}", err=True)
    sys.exit(1)


def _rpc_errors(command: Callable) -> Callable:
    """Turns a gRPC error anywhere in a command into `_fail`."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except grpc.RpcError as err:
            _fail(err)

    return wrapper


# -- CSV to record batches --------------------------------------------------------


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


def row_to_record(row: dict[str, str]) -> intake_pb2.Record:
    """One CSV row as a Record: identity columns apart, every other cell as-is."""
    record = intake_pb2.Record(record_ref=row.get("record_ref", ""),
                               client_ref=row.get("client_ref", ""))
    identity = {c: row.get(c) or "" for c in IDENTITY_COLUMNS}
    if any(identity.values()):
        record.identity.CopyFrom(intake_pb2.ClientIdentity(**identity))
    for name, value in row.items():
        if name not in REQUIRED_COLUMNS and name not in IDENTITY_COLUMNS:
            record.fields[name] = value
    return record


def read_batches(path: str, submission_id: str,
                 batch_size: int = 500) -> Iterator[intake_pb2.SubmitRecordsRequest]:
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
            batch.append(row_to_record(dict(zip(columns, cells))))
            if len(batch) >= batch_size:
                yield intake_pb2.SubmitRecordsRequest(submission_id=submission_id, records=batch)
                batch = []
        if batch:
            yield intake_pb2.SubmitRecordsRequest(submission_id=submission_id, records=batch)


def _with_progress(batches: Iterable[intake_pb2.SubmitRecordsRequest],
                   bar: tqdm) -> Iterator[intake_pb2.SubmitRecordsRequest]:
    """Yields the batches, moving the bar once gRPC has taken each one."""
    for batch in batches:
        yield batch
        bar.update(len(batch.records))


# -- the ledger's hash chain, checked locally ---------------------------------------


def entry_dict(entry: ledger_pb2.LedgerEntry) -> dict:
    """A ledger entry as the dict the router hashed (plus its entry_hash)."""
    return {
        "sequence": entry.sequence,
        "kind": ledger_pb2.EntryKind.Name(entry.kind).removeprefix("ENTRY_KIND_").lower(),
        "delivery_id": entry.delivery_id,
        "provider_id": entry.provider_id,
        "programme_id": entry.programme_id,
        "submission_id": entry.submission_id,
        "purpose_id": entry.purpose_id,
        "unit_id": entry.unit_id,
        "fields": list(entry.fields),
        "record_count": int(entry.record_count),
        "content_hash": entry.content_hash,
        "accessor": entry.accessor,
        "reason": entry.reason,
        "recorded_at": entry.recorded_at.ToDatetime(tzinfo=UTC)
                                        .isoformat(timespec="microseconds"),
        "previous_hash": entry.previous_hash,
        "entry_hash": entry.entry_hash,
    }


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict) -> str:
    """SHA-256 over an entry's hashed fields, previous_hash included."""
    return hashlib.sha256(canonical_json({k: entry[k] for k in HASHED_FIELDS})).hexdigest()


def verify_entries(entries: list[dict]) -> tuple[bool, str]:
    """Checks a whole chain in order, from sequence 1: (intact, first problem found)."""
    previous = GENESIS
    for expected, entry in enumerate(entries, start=1):
        sequence = entry.get("sequence")
        if sequence != expected:
            return False, f"entry {expected} is missing (found {sequence} in its place)"
        if entry.get("previous_hash") != previous:
            return False, f"entry {sequence} does not link to the entry before it"
        try:
            digest = entry_hash(entry)
        except KeyError as exc:
            return False, f"entry {sequence} lacks the hashed field {exc.args[0]!r}"
        if digest != entry.get("entry_hash"):
            return False, f"entry {sequence}: its contents do not match its hash"
        previous = digest
    return True, ""


def summarise_flows(entries: list[dict]) -> dict[tuple[str, str], dict[str, int]]:
    """Per (purpose, unit): deliveries, records, acknowledged deliveries, accesses."""
    deliveries = {e["delivery_id"]: e for e in entries if e["kind"] == "delivery"}
    acknowledged = {e["delivery_id"] for e in entries if e["kind"] == "acknowledgement"}
    summary: dict[tuple[str, str], dict[str, int]] = {}

    def row(entry: dict) -> dict[str, int]:
        source = deliveries.get(entry["delivery_id"], entry)
        key = (entry["purpose_id"] or source["purpose_id"], entry["unit_id"] or source["unit_id"])
        return summary.setdefault(key, {"deliveries": 0, "records": 0,
                                        "acknowledged": 0, "accesses": 0})

    for entry in entries:
        if entry["kind"] == "delivery":
            counts = row(entry)
            counts["deliveries"] += 1
            counts["records"] += entry["record_count"]
            counts["acknowledged"] += entry["delivery_id"] in acknowledged
        elif entry["kind"] == "access":
            row(entry)["accesses"] += 1
    return summary


# -- output helpers -----------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(r, widths)).rstrip()
             for r in [header, *rows]]
    return "\n".join(lines)


def _when(iso: str) -> str:
    """A stored ISO timestamp, shortened for the table."""
    return iso[:19].replace("T", " ") + "Z"


# -- commands -----------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--intake", metavar="HOST:PORT", envvar="TIAKI_INTAKE",
              default="127.0.0.1:50051", show_default=True, help="The intake service.")
@click.option("--router", metavar="HOST:PORT", envvar="TIAKI_ROUTER",
              default="127.0.0.1:50052", show_default=True, help="The purpose_router service.")
@click.option("--requests", "requests_address", metavar="HOST:PORT", envvar="TIAKI_REQUESTS",
              default="127.0.0.1:50053", show_default=True, help="The requests service.")
@click.option("--token", envvar="TIAKI_TOKEN", help="Your API token (or TIAKI_TOKEN).")
@click.option("--token-file", type=click.Path(dir_okay=False), envvar="TIAKI_TOKEN_FILE",
              help="A file holding your API token (or TIAKI_TOKEN_FILE).")
@click.pass_context
def cli(ctx: click.Context, intake: str, router: str, requests_address: str,
        token: str | None, token_file: str | None) -> None:
    """tiaki: a purpose-bound data exchange between providers and the Agency."""
    settings = Settings(intake=intake, router=router, token=token, token_file=token_file,
                        requests=requests_address)
    ctx.obj = settings
    ctx.call_on_close(settings.close)


@cli.command()
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
@_rpc_errors
def submit(csv_file: str, programme: str, period: str, plan_version: int, batch_size: int,
           seal: bool) -> None:
    """Submit a CSV of client-level records for one programme and period."""
    try:
        _, total = scan_csv(csv_file)
    except CsvProblem as exc:
        raise click.UsageError(str(exc)) from None
    metadata = _metadata()
    if plan_version == 0:
        plan = _stub("plan").GetPlan(
            plan_pb2.GetPlanRequest(programme_id=programme), metadata=metadata).plan
        plan_version = plan.version
    opened = _stub("intake").OpenSubmission(
        intake_pb2.OpenSubmissionRequest(programme_id=programme, plan_version=plan_version,
                                         period=period), metadata=metadata).submission
    sid = opened.submission_id
    click.echo(f"submission {sid} (programme {programme}, plan version {plan_version}, "
               f"period {period}): sending {total} records")
    with tqdm(total=total, unit="rec", file=sys.stderr, disable=None, leave=False) as bar:
        result = _stub("intake").SubmitRecords(
            _with_progress(read_batches(csv_file, sid, batch_size), bar), metadata=metadata)
    click.echo(f"accepted {result.accepted_count}, duplicate {result.duplicate_count}, "
               f"rejected {result.rejected_count}")
    shown = list(result.rejections)[:SHOWN_REJECTIONS]
    if shown:
        click.echo(f"rejections (first {len(shown)} of {result.rejected_count}):")
        click.echo(_table(["record_ref", "field", "reason"],
                          [[r.record_ref, r.field, r.reason] for r in shown]))
    if seal:
        sealed = _stub("intake").SealSubmission(
            intake_pb2.SealSubmissionRequest(submission_id=sid), metadata=metadata).submission
        click.echo(f"sealed: {sealed.accepted_count} records accepted in all")
    else:
        click.echo("left open (--no-seal)")
    click.echo(f"see where it goes: tiaki flows --submission {sid}")


def _list_flows(submission_id: str, metadata) -> list[ledger_pb2.LedgerEntry]:
    """Every ledger entry (of one submission), page by page."""
    stub = _stub("ledger")
    entries: list[ledger_pb2.LedgerEntry] = []
    token = ""
    while True:
        page = stub.ListFlows(ledger_pb2.ListFlowsRequest(
            submission_id=submission_id, page_size=FLOWS_PAGE_SIZE, page_token=token),
            metadata=metadata)
        entries.extend(page.entries)
        token = page.next_page_token
        if not token:
            return entries


def _print_flows(entries: list[dict]) -> None:
    if not entries:
        click.echo("no flows recorded yet")
        return
    rows = []
    for e in entries:
        who = f"{e['accessor']}: {e['reason']}" if e["kind"] == "access" else ""
        records = str(e["record_count"]) if e["kind"] != "acknowledgement" else ""
        rows.append([str(e["sequence"]), _when(e["recorded_at"]), e["kind"], e["purpose_id"],
                     e["unit_id"], records, ",".join(e["fields"]), who])
    click.echo(_table(["seq", "recorded_at", "kind", "purpose", "unit", "records", "fields",
                       "accessed by"], rows))
    click.echo("")
    summary = summarise_flows(entries)
    click.echo(_table(
        ["purpose", "unit", "deliveries", "records", "acknowledged", "accesses"],
        [[p, u, str(c["deliveries"]), str(c["records"]), str(c["acknowledged"]),
          str(c["accesses"])] for (p, u), c in sorted(summary.items())]))


@cli.command()
@click.option("--submission", "submission_id", default="", metavar="ID",
              help="Only the flows of this submission.")
@click.option("--verify", is_flag=True, help="Check the ledger's hash chain.")
@click.option("--json", "as_json", is_flag=True, help="Print entries as JSON lines.")
@click.option("--head", "head_only", is_flag=True, help="Print the chain head to keep.")
@click.option("--kept-head", metavar="SEQ:HASH", help="With --verify: a head kept earlier.")
@_rpc_errors
def flows(submission_id: str, verify: bool, as_json: bool, head_only: bool = False,
          kept_head: str | None = None) -> None:
    """Where your data went, who received it and who used it."""
    metadata = _metadata()
    kept = cli_ledger.parse_kept_head(kept_head)
    if head_only:
        cli_ledger.show_head(_stub("ledger"), metadata)
        return
    entries = [entry_dict(e) for e in _list_flows(submission_id, metadata)]
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry, ensure_ascii=False))
    else:
        _print_flows(entries)
    if not verify:
        return
    report = _stub("ledger").VerifyLedger(ledger_pb2.VerifyLedgerRequest(
        kept_sequence=kept[0], kept_hash=kept[1]), metadata=metadata)
    broken = False
    if report.intact:
        click.echo(f"server: ledger intact: {report.entry_count} entries, "
                   f"head {report.head_hash}", err=as_json)
    else:
        broken = True
        click.echo(f"server: ledger broken at entry {report.first_broken_sequence}: "
                   f"{report.problem}", err=as_json)
    if not submission_id:
        ok, problem = verify_entries(entries)
        head = entries[-1]["entry_hash"] if entries else GENESIS
        if ok and report.entry_count == len(entries) and report.head_hash != head:
            ok, problem = False, f"the server's head {report.head_hash} is not the listed head"
        if ok and cli_ledger.check_kept_head(entries, kept):
            ok, problem = False, cli_ledger.check_kept_head(entries, kept)
        if ok:
            click.echo(f"ledger intact: {len(entries)} entries, head {head}", err=as_json)
            if report.entry_count != len(entries):
                click.echo(f"note: the server verified {report.entry_count} entries "
                           f"(entries recorded since listing?)", err=as_json)
        else:
            broken = True
            click.echo(f"ledger broken: {problem}", err=as_json)
    if broken:
        sys.exit(1)


@cli.group()
def plan() -> None:
    """Create and read programme data plans."""


@plan.command("load")
@click.argument("plan_file", metavar="FILE.yaml",
                type=click.Path(exists=True, dir_okay=False, readable=True))
@_rpc_errors
def plan_load(plan_file: str) -> None:
    """Check a plan locally, then create it as the programme's next version (Agency token)."""
    try:
        with open(plan_file, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise click.UsageError(f"cannot read {plan_file}: {exc}") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{plan_file} must hold a mapping (programme_id, units, ...)")
    try:
        checked = Plan.from_dict(data, version=0)
    except PlanInvalid as exc:
        click.echo(f"{plan_file}: the plan has {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(2)
    created = _stub("plan").CreatePlan(
        plan_pb2.CreatePlanRequest(plan=to_proto(checked.to_dict())), metadata=_metadata()).plan
    click.echo(f"programme {created.programme_id} plan version {created.version} created")


def _describe_plan(p: plan_pb2.Plan) -> str:
    """A plan as readable text: its purposes, and each purpose's fields."""
    units = {u.unit_id: u.name for u in p.units}
    lines = [f"programme {p.programme_id} ({p.name}), plan version {p.version}"]
    for purpose in p.purposes:
        form = plan_pb2.Form.Name(purpose.form).removeprefix("FORM_").lower()
        unit = f"{purpose.unit_id} ({units[purpose.unit_id]})" \
            if units.get(purpose.unit_id) else purpose.unit_id
        lines.append("")
        lines.append(f"purpose {purpose.purpose_id}: {purpose.name}")
        if purpose.description:
            lines.append(f"  {purpose.description}")
        lines.append(f"  to unit {unit}, {form.replace('_', '-')}")
        if form == "aggregate":
            lines.append(f"  grouped by {', '.join(purpose.dimensions) or '(nothing)'}; "
                         f"sums {', '.join(purpose.measures) or '(none)'}; "
                         f"cells under {purpose.suppress_below} suppressed")
        if purpose.include_slk581:
            lines.append("  with the SLK-581 linkage key")
        lines.append("  fields:")
        for item in p.items:
            use = next((u for u in item.uses if u.purpose_id == purpose.purpose_id), None)
            if use is None:
                continue
            kind = plan_pb2.FieldType.Name(item.type).removeprefix("FIELD_TYPE_").lower()
            flags = f"{kind}, required" if item.required else kind
            lines.append(f"    {item.name} ({flags})"
                         + (f": {use.explanation}" if use.explanation else ""))
    return "\n".join(lines)


@plan.command("show")
@click.argument("programme")
@click.option("--version", type=click.IntRange(min=0), default=0, show_default=True,
              help="The plan version; 0 is the latest.")
@_rpc_errors
def plan_show(programme: str, version: int) -> None:
    """Show a programme's plan: its purposes and what each one receives."""
    found = _stub("plan").GetPlan(plan_pb2.GetPlanRequest(programme_id=programme,
                                                          version=version),
                                  metadata=_metadata()).plan
    click.echo(_describe_plan(found))


@cli.group()
def requests() -> None:
    """Access and correction requests brokered for families."""


def _describe_request(r) -> str:
    state = rpb.RequestState.Name(r.state).removeprefix("REQUEST_STATE_").lower()
    lines = [f"request {r.request_id} ({r.kind}, {state})",
             f"  programme {r.programme_id}; asked by {r.requester} ({r.authorisation})",
             f"  received {r.received}; due {r.due}"]
    if r.HasField("correction"):
        c = r.correction
        lines.append(f"  correct {c.field}: {c.current_value or '(any)'} -> {c.corrected_value}"
                     f" ({c.reason})")
    if r.extension_reasons:
        lines.append(f"  extended from {r.original_due}: {r.extension_reasons}")
    if r.transferred_to:
        lines.append(f"  transferred to {r.transferred_to}")
    for u in r.units:
        status = u.outcome or ("ESCALATED: past its due date" if u.escalated else "waiting")
        if u.refusal_reason:
            status += f": {u.refusal_reason}"
        lines.append(f"  unit {u.unit_id}: {status} (due {u.due})")
    for step in r.history:
        when = step.at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
        lines.append(f"  {when}  {step.who}: {step.what}")
    return "\n".join(lines)


@requests.command("open")
@click.option("--programme", required=True, help="The programme id.")
@click.option("--client", "client_ref", required=True, help="Your reference for the client.")
@click.option("--requester", required=True, help="Who is asking, e.g. 'the client'.")
@click.option("--authorisation", required=True,
              help="How you may act for them, e.g. 'signed form, 2 March 2026'.")
@click.option("--received", default="", metavar="YYYY-MM-DD",
              help="The day the request was received (default today).")
@_rpc_errors
def requests_open(programme: str, client_ref: str, requester: str, authorisation: str,
                  received: str) -> None:
    """Open an access request on a client's behalf: what does the Agency hold about them?"""
    reply = _stub("requests").OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme, client_ref=client_ref, requester=requester,
        authorisation=authorisation, received=received), metadata=_metadata())
    click.echo(_describe_request(reply.request))
    click.echo(f"follow it: tiaki requests show {reply.request.request_id}")


@requests.command("correct")
@click.option("--programme", required=True, help="The programme id.")
@click.option("--client", "client_ref", required=True, help="Your reference for the client.")
@click.option("--requester", required=True, help="Who is asking, e.g. 'the client'.")
@click.option("--authorisation", required=True, help="How you may act for them.")
@click.option("--field", required=True, help="Which information is wrong (a plan item).")
@click.option("--says", "current_value", default="", help="What it says now.")
@click.option("--should-say", "corrected_value", required=True, help="What it should say.")
@click.option("--reason", required=True, help="Why, in the family's words.")
@click.option("--received", default="", metavar="YYYY-MM-DD",
              help="The day the request was received (default today).")
@_rpc_errors
def requests_correct(programme: str, client_ref: str, requester: str, authorisation: str,
                     field: str, current_value: str, corrected_value: str, reason: str,
                     received: str) -> None:
    """Ask every unit holding a piece of a client's information to correct it."""
    reply = _stub("requests").OpenCorrectionRequest(rpb.OpenCorrectionRequestRequest(
        programme_id=programme, client_ref=client_ref, requester=requester,
        authorisation=authorisation, received=received, correction=rpb.Correction(
            field=field, current_value=current_value, corrected_value=corrected_value,
            reason=reason)), metadata=_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("extend")
@click.argument("request_id")
@click.option("--to", "new_due", required=True, metavar="YYYY-MM-DD", help="The new due date.")
@click.option("--reasons", required=True, help="Why, as you will tell the requester.")
@_rpc_errors
def requests_extend(request_id: str, new_due: str, reasons: str) -> None:
    """Extend a request's due date (only within its original period)."""
    reply = _stub("requests").ExtendRequest(rpb.ExtendRequestRequest(
        request_id=request_id, new_due=new_due, reasons=reasons), metadata=_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("transfer")
@click.argument("request_id")
@click.option("--to", "agency", required=True, help="The agency that will answer it.")
@_rpc_errors
def requests_transfer(request_id: str, agency: str) -> None:
    """Transfer a request to another agency (within 10 working days)."""
    reply = _stub("requests").TransferRequest(rpb.TransferRequestRequest(
        request_id=request_id, agency=agency), metadata=_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("show")
@click.argument("request_id")
@_rpc_errors
def requests_show(request_id: str) -> None:
    """Where a request stands: which units have answered, and the due date."""
    reply = _stub("requests").GetRequest(rpb.GetRequestRequest(request_id=request_id),
                                         metadata=_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("list")
@_rpc_errors
def requests_list() -> None:
    """Your requests, oldest first."""
    reply = _stub("requests").ListRequests(rpb.ListRequestsRequest(), metadata=_metadata())
    for r in reply.requests:
        state = rpb.RequestState.Name(r.state).removeprefix("REQUEST_STATE_").lower()
        click.echo(f"{r.request_id}  {r.kind:<10} {state:<8} received {r.received}  due {r.due}")


@requests.command("answer")
@click.argument("request_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the family's answer (HTML).")
@_rpc_errors
def requests_answer(request_id: str, output: str) -> None:
    """Download the family's answer once every holding unit has answered."""
    reply = _stub("requests").GetAnswer(rpb.GetAnswerRequest(request_id=request_id),
                                        metadata=_metadata())
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(reply.html)
    click.echo(f"wrote {output}: print it or hand it to the family")


@requests.command("due-date")
@click.argument("received", metavar="YYYY-MM-DD")
@click.option("--working-days", type=click.IntRange(min=1), default=20, show_default=True,
              help="Working days allowed (20 for a decision, 10 to transfer).")
def requests_due_date(received: str, working_days: int) -> None:
    """When a request received on this day is due, in Privacy Act working days.

    Weekends, the public holidays the Act lists (Waitangi and Anzac Days
    Mondayised) and 25 December to 15 January are not working days."""
    from tiaki.core.working_days import add_working_days

    try:
        if len(received) != 10:  # fromisoformat also takes 20260101 and week dates
            raise ValueError(received)
        day = dt.date.fromisoformat(received)
    except ValueError:
        raise click.BadParameter(f"{received!r} is not a date as YYYY-MM-DD",
                                 param_hint="YYYY-MM-DD") from None
    due = add_working_days(day, working_days)
    click.echo(f"received {day.isoformat()} ({day:%A}); {working_days} working days later:")
    click.echo(due.isoformat())


from tiaki.cli.codesign import agreement, codesign  # noqa: E402 (needs cli defined above)
from tiaki.cli.dead_letters import dead_letters  # noqa: E402
from tiaki.cli.insights import measures, outcomes  # noqa: E402
from tiaki.cli.keys import keys  # noqa: E402
from tiaki.cli.stories import stories  # noqa: E402
from tiaki.plumbing.broker_users import broker_users  # noqa: E402

cli.add_command(stories)
cli.add_command(codesign)
cli.add_command(agreement)
cli.add_command(outcomes)
cli.add_command(measures)
cli.add_command(keys)
cli.add_command(broker_users)
cli.add_command(dead_letters)


def main() -> None:
    """The `tiaki` console script."""
    cli(prog_name="tiaki")


if __name__ == "__main__":
    main()
