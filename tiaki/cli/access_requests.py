"""`tiaki requests ...`: access and correction requests a provider brokers for
families, and Privacy Act due dates worked out locally.

    tiaki requests open --programme best-foot-forward --client C-12 --requester ... --authorisation ...
    tiaki requests show REQUEST_ID
    tiaki requests answer REQUEST_ID -o answer.html
    tiaki requests due-date 2026-03-02
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC

import click

from tiaki.cli import base
from tiaki.core.clock import nz_date_words
from tiaki.core.working_days import add_working_days
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.requests.v1 import requests_pb2_grpc


def _requests() -> requests_pb2_grpc.RequestsServiceStub:
    return base.stub(requests_pb2_grpc.RequestsServiceStub, "requests")


@click.group()
def requests() -> None:
    """Access and correction requests brokered for families."""


def _day(iso: str) -> str:
    try:
        return nz_date_words(dt.date.fromisoformat(iso))
    except ValueError:
        return iso


def _headline(r) -> str:
    state = rpb.RequestState.Name(r.state).removeprefix("REQUEST_STATE_").lower()
    kind = base.enum_words(rpb.RequestKind, r.request_kind, "REQUEST_KIND_")
    return (f"{kind.capitalize()} request received {_day(r.received)}, due {_day(r.due)} "
            f"({state})")


def _describe_request(r) -> str:
    """A request named by its kind and dates, the programme and units by name;
    its id last, the handle for the next command."""
    names = base.names()
    lines = [_headline(r),
             f"  {base.programme_name(r.programme_id)}; asked by {r.requester} "
             f"({r.authorisation})"]
    if r.HasField("correction"):
        c = r.correction
        lines.append(f"  correct {c.field}: {c.current_value or '(any)'} -> {c.corrected_value}"
                     f" ({c.reason})")
    if r.extension_reasons:
        lines.append(f"  extended from {r.original_due}: {r.extension_reasons}")
    if r.transferred_to:
        lines.append(f"  transferred to {r.transferred_to}")
    for u in r.units:
        status = (base.enum_words(rpb.UnitOutcome, u.unit_outcome, "UNIT_OUTCOME_")
                  if u.unit_outcome != rpb.UNIT_OUTCOME_OUTSTANDING
                  else "ESCALATED: past its due date" if u.escalated else "waiting")
        if u.refusal_reason:
            status += f": {u.refusal_reason}"
        lines.append(f"  {names.get(f'unit:{u.unit_id}', u.unit_id)}: {status} "
                     f"(due {_day(u.due)})")
    for step in r.history:
        when = step.at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
        who = names.get(f"provider:{step.who}") or names.get(f"unit:{step.who}") or step.who
        person = f" ({step.person})" if step.person else ""
        lines.append(f"  {when}  {who}{person}: {step.what}")
    lines.append(f"  request id {r.request_id}")
    return "\n".join(lines)


@requests.command("open")
@click.option("--programme", required=True, help="The programme id.")
@click.option("--client", "client_ref", required=True, help="Your reference for the client.")
@click.option("--requester", required=True, help="Who is asking, e.g. 'the client'.")
@click.option("--authorisation", required=True,
              help="How you may act for them, e.g. 'signed form, 2 March 2026'.")
@click.option("--received", default="", metavar="YYYY-MM-DD",
              help="The day the request was received (default today).")
@base.rpc_errors
def requests_open(programme: str, client_ref: str, requester: str, authorisation: str,
                  received: str) -> None:
    """Open an access request on a client's behalf: what does the Agency hold about them?"""
    reply = _requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme, client_ref=client_ref, requester=requester,
        authorisation=authorisation, received=received), metadata=base.call_metadata())
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
@base.rpc_errors
def requests_correct(programme: str, client_ref: str, requester: str, authorisation: str,
                     field: str, current_value: str, corrected_value: str, reason: str,
                     received: str) -> None:
    """Ask every unit holding a piece of a client's information to correct it."""
    reply = _requests().OpenCorrectionRequest(rpb.OpenCorrectionRequestRequest(
        programme_id=programme, client_ref=client_ref, requester=requester,
        authorisation=authorisation, received=received, correction=rpb.Correction(
            field=field, current_value=current_value, corrected_value=corrected_value,
            reason=reason)), metadata=base.call_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("extend")
@click.argument("request_id")
@click.option("--to", "new_due", required=True, metavar="YYYY-MM-DD", help="The new due date.")
@click.option("--reasons", required=True, help="Why, as you will tell the requester.")
@base.rpc_errors
def requests_extend(request_id: str, new_due: str, reasons: str) -> None:
    """Extend a request's due date (only within its original period)."""
    reply = _requests().ExtendRequest(rpb.ExtendRequestRequest(
        request_id=request_id, new_due=new_due, reasons=reasons), metadata=base.call_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("transfer")
@click.argument("request_id")
@click.option("--to", "agency", required=True, help="The agency that will answer it.")
@base.rpc_errors
def requests_transfer(request_id: str, agency: str) -> None:
    """Transfer a request to another agency (within 10 working days)."""
    reply = _requests().TransferRequest(rpb.TransferRequestRequest(
        request_id=request_id, agency=agency), metadata=base.call_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("show")
@click.argument("request_id")
@base.rpc_errors
def requests_show(request_id: str) -> None:
    """Where a request stands: which units have answered, and the due date."""
    reply = _requests().GetRequest(rpb.GetRequestRequest(request_id=request_id),
                                   metadata=base.call_metadata())
    click.echo(_describe_request(reply.request))


@requests.command("list")
@base.rpc_errors
def requests_list() -> None:
    """Your requests, oldest first."""
    reply = _requests().ListRequests(rpb.ListRequestsRequest(), metadata=base.call_metadata())
    for r in reply.requests:
        click.echo(f"{_headline(r)}  id {r.request_id}")


@requests.command("answer")
@click.argument("request_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the family's answer (HTML).")
@base.rpc_errors
def requests_answer(request_id: str, output: str) -> None:
    """Download the family's answer once every holding unit has answered."""
    reply = _requests().GetAnswer(rpb.GetAnswerRequest(request_id=request_id),
                                  metadata=base.call_metadata())
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
