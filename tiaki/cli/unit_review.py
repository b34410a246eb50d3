"""`tiaki unit review ...`: a unit's staff review families' access queries
before the answer goes, through the unit's own review service (loopback; its
staff client's token as the API token; the person acting with --person).

    export TIAKI_TOKEN_FILE=var/tokens/unit-staff-evaluation TIAKI_PERSON=aroha.ngata
    tiaki unit review list
    tiaki unit review show REQUEST_ID
    tiaki unit review approve REQUEST_ID --withhold 2:goals_met:s53(b)
    tiaki unit review grounds
"""

from __future__ import annotations

import json

import click
import grpc

from tiaki.cli import base
from tiaki.core.person import METADATA_KEY
from tiaki.core.withholding import GROUNDS, named
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub


@click.group()
def unit() -> None:
    """What an Agency unit's staff do with their unit."""


@unit.group()
@click.option("--address", metavar="HOST:PORT", envvar="TIAKI_UNIT_REVIEW",
              default="127.0.0.1:50061", show_default=True,
              help="The unit's review service (its review_address in config/units/reference.yaml).")
@click.option("--person", envvar="TIAKI_PERSON", default="",
              help="Your staff id, recorded with what you approve (or TIAKI_PERSON).")
@click.pass_context
def review(ctx: click.Context, address: str, person: str) -> None:
    """Families' access queries waiting for your review."""
    ctx.obj = {"address": address, "person": person}


def _call(method: str, request):
    """One call to the unit's review service (plaintext: it listens on loopback only)."""
    given = base.settings()
    options = click.get_current_context().find_object(dict)
    if "unit_review" not in given.channels:
        given.channels["unit_review"] = grpc.insecure_channel(options["address"])
    metadata = base.call_metadata() + (
        ((METADATA_KEY, options["person"]),) if options["person"] else ())
    try:
        return getattr(UnitReviewServiceStub(given.channels["unit_review"]), method)(
            request, metadata=metadata, timeout=30)
    except grpc.RpcError as err:
        base.fail(err)


def _state(q) -> str:
    return base.enum_words(pb.ReviewState, q.state, "REVIEW_STATE_")


def _due(d) -> str:
    if not d.known:
        return "(requests service not reachable)"
    out = f"due {d.due}, {d.working_days_left} working days left"
    if d.extension_reasons:
        out += f" (extended from {d.original_due}: {d.extension_reasons})"
    if d.transferred_to:
        out += f"; transferred to {d.transferred_to}"
    return out


@review.command("list")
def list_queries() -> None:
    """The queries waiting for review (or approved and being sent), oldest first."""
    found = _call("ListWaitingQueries", pb.ListWaitingQueriesRequest()).queries
    if not found:
        click.echo("No query is waiting for review.")
        return
    click.echo(base.table(["REQUEST", "STATE", "RECORDS", "DEADLINE"], [
        [q.request_id, _state(q), str(q.record_count), _due(q.deadline)] for q in found]))


@review.command("show")
@click.argument("request_id")
def show(request_id: str) -> None:
    """One query: each record the answer would give, numbered for --withhold."""
    q = _call("GetWaitingQuery", pb.GetWaitingQueryRequest(request_id=request_id)).query
    click.echo(f"{q.request_kind.capitalize()} request {q.request_id}: {_state(q)}; "
               f"{_due(q.deadline)}")
    if q.deadline.known:
        click.echo(f"  this unit is asked to answer by {q.deadline.unit_due}"
                   + (" (ESCALATED: past that date)" if q.deadline.escalated else ""))
    if q.approved_by:
        click.echo(f"  approved by {q.approved_by}")
    withheld = {(w.record, w.item): w.ground for w in q.withheld}
    for r in q.records:
        click.echo(f"  record {r.number}: {r.purpose_id}, {r.period} (delivery {r.delivery_id})")
        for item, value in json.loads(r.fields_json).items():
            click.echo(f"    {item}: {value}")
        for (number, item), code in withheld.items():
            if number == r.number:
                found = named(code)
                click.echo(f"    {item}: WITHHELD under {found.citation if found else code}")
    if not q.records:
        click.echo("  The unit holds no records about this person.")


def _withholding(text: str) -> pb.Withholding:
    number, _, rest = text.partition(":")
    item, _, code = rest.rpartition(":")
    if not number.isdigit() or not item or not code:
        raise click.BadParameter(f"{text!r}: give RECORD:ITEM:GROUND, e.g. 2:goals_met:s53(b)",
                                 param_hint="--withhold")
    return pb.Withholding(record=int(number), item=item, ground=code)


@review.command("approve")
@click.argument("request_id")
@click.option("--withhold", "withholds", multiple=True, metavar="RECORD:ITEM:GROUND",
              help="Withhold an item of a record under a ground (`tiaki unit review grounds`); "
                   "repeat for more.")
def approve(request_id: str, withholds: tuple[str, ...]) -> None:
    """Approves the answer as you (--person), and sends it."""
    q = _call("ApproveAnswer", pb.ApproveAnswerRequest(
        request_id=request_id, withhold=[_withholding(w) for w in withholds])).query
    gone = f", {len(q.withheld)} item(s) withheld" if q.withheld else ""
    click.echo(f"Approved by {q.approved_by}{gone}: {_state(q)}"
               + (" (sent again until the requests service takes it)"
                  if q.state == pb.REVIEW_STATE_APPROVED else ""))


@review.command("grounds")
def grounds() -> None:
    """The grounds an item may be withheld under (Privacy Act 2020 ss 49-53)."""
    for g in GROUNDS.values():
        click.echo(f"{g.code:15} {g.citation}: {g.heading}\n{'':16}{g.law}\n{'':16}{g.words}")
