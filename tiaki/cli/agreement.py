"""`tiaki agreement ...`: a provider's item-by-item agreement to an agreed
plan, an item's purpose statement, and the families' letter.

    tiaki agreement decide best-foot-forward --by "Mere Tane" --accept-all --decline wellbeing_end
    tiaki agreement explain best-foot-forward goals_met
    tiaki agreement letter best-foot-forward --period 2026Q3 -o where-your-information-goes.html
    tiaki agreement agency-notices best-foot-forward -o notices/
"""

from __future__ import annotations

import os

import click

from tiaki.cli import base
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import plan_pb2
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.plan_pb2_grpc import PlanServiceStub


@click.group()
def agreement() -> None:
    """Your item-by-item agreement to an agreed plan, and the families' letter."""


_plan_version = click.option("--plan-version", type=click.IntRange(min=0), default=0,
                             show_default=True, help="The plan version; 0 is the latest.")


def describe_agreement(a: apb.Agreement) -> str:
    applies = f"from {a.applies_from}" if a.applies_from else "for every period"
    lines = [f"agreement version {a.version} to {a.programme_id} plan version {a.plan_version}, "
             f"applies {applies}"]
    for d in a.items:
        note = f" ({d.note})" if d.note else ""
        lines.append(f"  {d.item_name}: {base.enum_words(apb.ItemDecision, d.decision, 'ITEM_DECISION_')}"
                     f"{note}, by {d.decided_by} on {d.decided_at.ToJsonString()[:10]}")
        if d.answer:
            lines.append(f"    the Agency answered on {d.answered_at.ToJsonString()[:10]}: "
                         f"{d.answer}")
    lines.extend(f"  {name}: not decided (not collected)" for name in a.not_decided)
    return "\n".join(lines)


def describe_statement(s: apb.PurposeStatement) -> str:
    lines = [f"{s.item_name}: {s.what}"]
    for u in s.uses:
        lines += [f"  for {u.purpose_name} ({u.purpose_id})", f"    why: {u.why} {u.explanation}",
                  f"    how: {u.how}", f"    who will see it: {u.who_will_see}",
                  f"    who will NOT see it: {'; '.join(u.who_will_not_see)}",
                  f"    can it identify someone: {u.can_identify}",
                  f"    kept for: {u.retention}", f"    law: {u.law}"]
    lines += [f"  choice: {s.choice}", f"  transparency: {s.transparency}"]
    return "\n".join(lines)


@agreement.command("decide")
@click.argument("programme")
@_plan_version
@click.option("--by", "decided_by", default="",
              help="Who at your organisation decides (default: the --person acting).")
@click.option("--accept", multiple=True, metavar="ITEM", help="Accept an item (repeatable).")
@click.option("--decline", multiple=True, metavar="ITEM", help="Decline an item (repeatable).")
@click.option("--query", multiple=True, metavar="ITEM",
              help="Ask why an item is needed before agreeing (repeatable).")
@click.option("--accept-all", is_flag=True, help="Accept every item not declined or queried.")
@click.option("--note", multiple=True, metavar="ITEM=TEXT", help="A note on a decision.")
def agreement_decide(programme: str, plan_version: int, decided_by: str, accept, decline, query,
                     accept_all: bool, note) -> None:
    """Accept, decline or query items of the agreed plan (provider token)."""
    notes = {}
    for n in note:
        name, sep, text = n.partition("=")
        if not sep:
            raise click.BadParameter(f"{n!r} is not ITEM=TEXT", param_hint="--note")
        notes[name.strip()] = text.strip()
    decisions = {**{i: apb.ITEM_DECISION_ACCEPT for i in accept},
                 **{i: apb.ITEM_DECISION_DECLINE for i in decline},
                 **{i: apb.ITEM_DECISION_QUERY for i in query}}
    if accept_all:
        plan = base.call("router", PlanServiceStub, "GetPlan", plan_pb2.GetPlanRequest(
            programme_id=programme, version=plan_version)).plan
        plan_version = plan.version
        for item in plan.items:
            decisions.setdefault(item.name, apb.ITEM_DECISION_ACCEPT)
    if not decisions:
        raise click.UsageError("decide on at least one item (--accept, --decline, --query)")
    reply = base.call("router", AgreementServiceStub, "DecideItems", apb.DecideItemsRequest(
        programme_id=programme, plan_version=plan_version, decided_by=decided_by,
        choices=[apb.ItemChoice(item_name=name, decision=d, note=notes.get(name, ""))
                 for name, d in decisions.items()]))
    click.echo(describe_agreement(reply.agreement) if reply.changed
               else "nothing changed:\n" + describe_agreement(reply.agreement))
    for statement in reply.queried:
        click.echo("")
        click.echo(describe_statement(statement))


@agreement.command("show")
@click.argument("programme")
@_plan_version
@click.option("--period", default="", help="The reporting period, e.g. 2026Q3 (default: now).")
def agreement_show(programme: str, plan_version: int, period: str) -> None:
    """Your agreement in force for a period, and its earlier versions."""
    reply = base.call("router", AgreementServiceStub, "GetAgreement", apb.GetAgreementRequest(
        programme_id=programme, plan_version=plan_version, period=period))
    if not reply.versions:
        click.echo("no agreement yet: nothing can be collected until you decide on the items")
        return
    click.echo("in force: " + (describe_agreement(reply.in_force) if reply.HasField("in_force")
                               else "none for this period"))
    for v in reply.versions:
        if v.version != reply.in_force.version:
            click.echo("")
            click.echo(describe_agreement(v))


@agreement.command("explain")
@click.argument("programme")
@click.argument("item_name", metavar="ITEM")
@_plan_version
def agreement_explain(programme: str, item_name: str, plan_version: int) -> None:
    """An item's full purpose statement: what, why, how, who will and will not see it."""
    reply = base.call("router", AgreementServiceStub, "GetPurposeStatement", apb.GetPurposeStatementRequest(
        programme_id=programme, plan_version=plan_version, item_name=item_name))
    click.echo(describe_statement(reply.statement))


@agreement.command("letter")
@click.argument("programme")
@_plan_version
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the letter (HTML, printable on A4).")
@click.option("--period", default="", help="The reporting period it covers (default: now).")
@click.option("--provider-name", default="",
              help="Your name as families know it (when the directory has no entry for you).")
@click.option("--contact", default="", help="How families reach you, e.g. 'Phone 04 123 4567' "
                                            "(when the directory has no entry for you).")
def agreement_letter(programme: str, plan_version: int, output: str, period: str,
                     provider_name: str, contact: str) -> None:
    """Download "Where your information goes" for your families."""
    reply = base.call("router", AgreementServiceStub, "GetFamilyDocument", apb.GetFamilyDocumentRequest(
        programme_id=programme, plan_version=plan_version, period=period,
        provider_name=provider_name, provider_contact=contact))
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(reply.html)
    plans = ", ".join(map(str, reply.plan_versions))
    click.echo(f"wrote {output}: notice version {reply.notice_version} (plan version {plans}, "
               f"agreement version {reply.agreement_version}, reading grade "
               f"{reply.reading_grade:.1f}): print it or give it to families")


@agreement.command("agency-notices")
@click.argument("programme")
@click.option("--period", default="", help="Only this period's (default: every period).")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, writable=True),
              help="Write each notice there as HTML, to print or hand on.")
def agency_notices(programme: str, period: str, output_dir: str | None) -> None:
    """The Agency's own notices (IPP 3A) owed to your families, and when each was given."""
    reply = base.call("router", AgreementServiceStub, "ListAgencyNotices",
                      apb.ListAgencyNoticesRequest(programme_id=programme, period=period))
    if not reply.notices:
        click.echo("no Agency notices: your own letter named every team that got records")
        return
    rows = []
    for n in reply.notices:
        given = n.given_at.ToDatetime().date().isoformat()
        row = [n.period, n.unit_name, n.purpose_name, given]
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)
            path = os.path.join(output_dir, f"agency-notice-{n.period}-{len(rows) + 1}.html")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(n.html)
            row.append(path)
        rows.append(row)
    header = ["period", "team", "purpose", "given on"] + (["written to"] if output_dir else [])
    click.echo(base.table(header, rows))
