"""`tiaki outcomes` and `tiaki measures`: what a provider's information
informed, its right of reply on draft findings, and co-defined evaluation
measures. Registered on the main command line in tiaki/cli/app.py.

    tiaki outcomes list --from 2026-01-01
    tiaki outcomes watch
    tiaki outcomes report --from 2026-01-01 --to 2026-12-31 -o board.html
    tiaki outcomes reply OUTCOME_ID --correct "We ran 12 sessions, not 10"
    tiaki outcomes record --kind decision --title ... --delivery DELIVERY_ID   (a unit)
    tiaki measures propose --programme best-foot-forward --name ... --definition ... --reason ...
    tiaki measures endorse MEASURE_ID
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC

import click
from google.protobuf.json_format import MessageToDict

from tiaki.cli import base
from tiaki.core.periods import period_words
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import measures_pb2_grpc, outcomes_pb2_grpc
from tiaki.insights.v1 import outcomes_pb2 as pb

KIND_CHOICES = ("decision", "advice", "report", "evaluation_finding", "policy_or_service_change")
INSIGHTS_OPTION = click.option(
    "--insights", "insights_address", metavar="HOST:PORT", envvar="TIAKI_INSIGHTS",
    default="127.0.0.1:50054", show_default=True, help="The insights service.")


def _outcomes() -> outcomes_pb2_grpc.OutcomesServiceStub:
    return base.stub(outcomes_pb2_grpc.OutcomesServiceStub, "insights")


def _units() -> outcomes_pb2_grpc.UnitOutcomesServiceStub:
    return base.stub(outcomes_pb2_grpc.UnitOutcomesServiceStub, "insights")


def _measures() -> measures_pb2_grpc.MeasuresServiceStub:
    return base.stub(measures_pb2_grpc.MeasuresServiceStub, "insights")


def _remember(address: str) -> None:
    base.settings().insights = address


def _name(enum, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()


def describe_outcome(o: pb.Outcome, names: dict[str, str] | None = None) -> str:
    """An outcome as a terminal shows it: the unit and providers by their
    directory `names` ("<kind>:<id>"), what informed it by reporting period;
    its id last, for `tiaki outcomes reply`."""
    names = names or {}
    kind = _name(pb.OutcomeKind, o.kind, "OUTCOME_KIND_").replace("_", " ")
    state = _name(pb.OutcomeState, o.state, "OUTCOME_STATE_")
    unit = names.get(f"unit:{o.unit_id}", o.unit_id)
    lines = [f"{o.date}  {kind}: {o.title}  ({state}, by {unit}, for {o.audience})",
             f"  {o.summary}"]
    sources: dict[tuple[str, str], int] = {}
    for c in o.informed_by:
        sent = (f"what you sent for {period_words(c.period)}" if c.period
                else f"submission {c.submission_id}")  # recorded before periods were kept
        key = (sent, c.purpose_name or c.purpose_id)
        sources[key] = sources.get(key, 0) + 1
    for (sent, purpose), n in sorted(sources.items()):
        lines.append(f"  informed by {sent} ({purpose}; "
                     f"{n} deliver{'y' if n == 1 else 'ies'})")
    if o.measure_ids:
        lines.append(f"  measures: {', '.join(o.measure_ids)}")
    for r in o.reviews:
        lines.append(f"  right of reply for {names.get(f'provider:{r.provider_id}', r.provider_id)}: "
                     f"shared {r.shared_on}, "
                     f"respond by {r.respond_by}"
                     + ("; may be published early" if r.may_publish_early else ""))
        for x in r.responses:
            text = f": {x.text}" if x.text else ""
            lines.append(f"    {_name(pb.ResponseKind, x.kind, 'RESPONSE_KIND_')}{text}")
            if x.resolution:
                why = f": {x.resolution_reason}" if x.resolution_reason else ""
                lines.append(f"      the Agency {x.resolution} it{why}")
    lines.append(f"  id {o.outcome_id} (version {o.version})")
    return "\n".join(lines)


def describe_measure(m: mpb.Measure) -> str:
    state = _name(mpb.MeasureState, m.state, "MEASURE_STATE_")
    lines = [f"{m.name}  ({state}; id {m.measure_id})", f"  {m.definition}",
             f"  proposed by {m.proposed_by.kind} {m.proposed_by.id}"]
    for p in m.positions:
        reason = f": {p.reason}" if p.reason else ""
        lines.append(f"  {p.party.kind} {p.party.id} "
                     f"{_name(mpb.Stance, p.stance, 'STANCE_')}s{reason}")
    if m.state == mpb.MEASURE_STATE_AGREED:
        when = m.agreed_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d")
        who = ", ".join(f"{p.kind} {p.id}" for p in m.agreed_by)
        lines.append(f"  agreed {when} by {who}")
    return "\n".join(lines)


def _echo(message, as_json: bool, describe) -> None:
    if as_json:
        click.echo(json.dumps(MessageToDict(message, preserving_proto_field_name=True),
                              ensure_ascii=False))
    else:
        click.echo(describe(message))


# -- outcomes ---------------------------------------------------------------------------


@click.group()
@INSIGHTS_OPTION
def outcomes(insights_address: str) -> None:
    """The outcomes your information informed, and your right of reply."""
    _remember(insights_address)


@outcomes.command("list")
@click.option("--from", "date_from", default="", metavar="YYYY-MM-DD", help="Dated on or after.")
@click.option("--to", "date_to", default="", metavar="YYYY-MM-DD", help="Dated on or before.")
@click.option("--kind", type=click.Choice(KIND_CHOICES), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@base.rpc_errors
def outcomes_list(date_from: str, date_to: str, kind: str | None, as_json: bool) -> None:
    """Outcomes your information informed, oldest first."""
    reply = _outcomes().ListOutcomes(pb.ListOutcomesRequest(
        date_from=date_from, date_to=date_to,
        kind=pb.OutcomeKind.Value(f"OUTCOME_KIND_{kind.upper()}") if kind else 0),
        metadata=base.call_metadata())
    names = {} if as_json else base.names()
    for o in reply.outcomes:
        _echo(o, as_json, lambda m: describe_outcome(m, names))
    if not reply.outcomes and not as_json:
        click.echo("no outcomes yet")


@outcomes.command("watch")
@click.option("--since", default="", metavar="YYYY-MM-DDTHH:MM:SSZ",
              help="Also show what changed since this moment (default: only new).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@base.rpc_errors
def outcomes_watch(since: str, as_json: bool) -> None:
    """Follow outcomes as they are recorded, replied to and published (Ctrl-C ends)."""
    request = pb.WatchOutcomesRequest()
    if since:
        try:
            moment = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{since!r} is not an ISO date and time",
                                     param_hint="--since") from None
        request.since.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    names = {} if as_json else base.names()
    try:
        while True:  # the server ends a stream after an hour: carry on from there
            started = dt.datetime.now(UTC)
            for reply in _outcomes().WatchOutcomes(request, metadata=base.call_metadata()):
                _echo(reply.outcome, as_json, lambda m: describe_outcome(m, names))
            request.since.FromDatetime(started)
    except KeyboardInterrupt:
        pass


@outcomes.command("report")
@click.option("--from", "date_from", required=True, metavar="YYYY-MM-DD")
@click.option("--to", "date_to", required=True, metavar="YYYY-MM-DD")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the report (HTML).")
@base.rpc_errors
def outcomes_report(date_from: str, date_to: str, output: str) -> None:
    """The influence report for your Board: a printable HTML document."""
    reply = _outcomes().GetInfluenceReport(pb.GetInfluenceReportRequest(
        date_from=date_from, date_to=date_to), metadata=base.call_metadata())
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(reply.html)
    click.echo(f"wrote {output}: open it in a browser, or print it for your Board")


@outcomes.command("reply")
@click.argument("outcome_id")
@click.option("--agree", "kind", flag_value="agree", help="You agree with the draft finding.")
@click.option("--correct", "correction", metavar="TEXT", help="Correct a fact.")
@click.option("--context", "context_text", metavar="TEXT", help="Add context.")
@click.option("--may-publish-early", is_flag=True,
              help="The finding may be published before your review window closes.")
@base.rpc_errors
def outcomes_reply(outcome_id: str, kind: str | None, correction: str | None,
                   context_text: str | None, may_publish_early: bool) -> None:
    """Your reply to a draft evaluation finding, within its review window."""
    chosen = [k for k, v in (("agree", kind), ("correct_fact", correction),
                             ("add_context", context_text)) if v]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --agree, --correct TEXT, --context TEXT")
    text = correction or context_text or ""
    reply = _outcomes().RespondToFinding(pb.RespondToFindingRequest(
        outcome_id=outcome_id, kind=pb.ResponseKind.Value(f"RESPONSE_KIND_{chosen[0].upper()}"),
        text=text, may_publish_early=may_publish_early), metadata=base.call_metadata())
    click.echo(describe_outcome(reply.outcome))


@outcomes.command("record")
@click.option("--kind", type=click.Choice(KIND_CHOICES), required=True)
@click.option("--title", required=True)
@click.option("--summary", required=True)
@click.option("--date", "date", required=True, metavar="YYYY-MM-DD")
@click.option("--audience", required=True, help="Who it was for.")
@click.option("--delivery", "delivery_ids", multiple=True, help="A delivery id (repeatable).")
@click.option("--submission", "submission_ids", multiple=True, help="A submission id (repeatable).")
@click.option("--measure", "measure_ids", multiple=True, help="An agreed measure (findings).")
@click.option("--ref", "outcome_ref", default="", help="Your own reference (a retry is safe).")
@base.rpc_errors
def outcomes_record(kind, title, summary, date, audience, delivery_ids, submission_ids,
                    measure_ids, outcome_ref) -> None:
    """(Agency units) Record an outcome your unit's information informed."""
    reply = _units().RecordOutcome(pb.RecordOutcomeRequest(
        kind=pb.OutcomeKind.Value(f"OUTCOME_KIND_{kind.upper()}"), title=title, summary=summary,
        date=date, audience=audience, delivery_ids=delivery_ids, submission_ids=submission_ids,
        measure_ids=measure_ids, outcome_ref=outcome_ref), metadata=base.call_metadata())
    click.echo(describe_outcome(reply.outcome))


@outcomes.command("publish")
@click.argument("outcome_id")
@base.rpc_errors
def outcomes_publish(outcome_id: str) -> None:
    """(Agency units) Publish a draft finding once its right of reply allows."""
    reply = _units().PublishFinding(pb.PublishFindingRequest(outcome_id=outcome_id),
                                    metadata=base.call_metadata())
    click.echo(describe_outcome(reply.outcome))


# -- measures ------------------------------------------------------------------------------


@click.group()
@INSIGHTS_OPTION
def measures(insights_address: str) -> None:
    """Evaluation measures, co-defined by the Agency, providers and service users."""
    _remember(insights_address)


@measures.command("propose")
@click.option("--programme", required=True)
@click.option("--name", required=True)
@click.option("--definition", required=True, help="How it is measured, in plain words.")
@click.option("--reason", required=True, help="Why it measures success.")
@base.rpc_errors
def measures_propose(programme: str, name: str, definition: str, reason: str) -> None:
    """Propose a success measure (it counts as your endorsement)."""
    reply = _measures().ProposeMeasure(mpb.ProposeMeasureRequest(
        programme_id=programme, name=name, definition=definition, reason=reason),
        metadata=base.call_metadata())
    click.echo(describe_measure(reply.measure))


def _position(measure_id: str, stance: int, reason: str) -> None:
    reply = _measures().RespondToMeasure(mpb.RespondToMeasureRequest(
        measure_id=measure_id, stance=stance, reason=reason), metadata=base.call_metadata())
    click.echo(describe_measure(reply.measure))


@measures.command("endorse")
@click.argument("measure_id")
@click.option("--reason", default="")
@base.rpc_errors
def measures_endorse(measure_id: str, reason: str) -> None:
    """Endorse a proposed measure."""
    _position(measure_id, mpb.STANCE_ENDORSE, reason)


@measures.command("object")
@click.argument("measure_id")
@click.option("--reason", required=True, help="Why (an objection needs reasons).")
@base.rpc_errors
def measures_object(measure_id: str, reason: str) -> None:
    """Object to a proposed measure, with reasons."""
    _position(measure_id, mpb.STANCE_OBJECT, reason)


@measures.command("list")
@click.option("--programme", required=True)
@click.option("--agreed", is_flag=True, help="Only the agreed set.")
@base.rpc_errors
def measures_list(programme: str, agreed: bool) -> None:
    """A programme's measures, with each party's position."""
    reply = _measures().ListMeasures(mpb.ListMeasuresRequest(programme_id=programme,
                                                             agreed_only=agreed),
                                     metadata=base.call_metadata())
    for m in reply.measures:
        click.echo(describe_measure(m))
    if not reply.measures:
        click.echo("no measures yet")
