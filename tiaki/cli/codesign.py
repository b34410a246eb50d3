"""`tiaki codesign ...`: co-designing a programme's data plan: drafts,
proposals, decisions, publishing.

    tiaki codesign open best-foot-forward --invite provider:ccss --invite representative:whanau-voice
    tiaki codesign propose best-foot-forward --version 2 remove ethnicity --reason "..."
    tiaki codesign endorse best-foot-forward --version 2 1
    tiaki codesign decide best-foot-forward --version 2 1 accept --reason "..."
    tiaki codesign check best-foot-forward --version 2
    tiaki codesign publish best-foot-forward --version 2
    tiaki codesign show best-foot-forward

The global options (server addresses, token) and error handling are tiaki/cli/base.py's."""

from __future__ import annotations

import sys

import click

from tiaki.cli import base
from tiaki.plumbing.plan_proto import to_proto
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub

CHANGES = {"add": cpb.CHANGE_KIND_ADD, "change": cpb.CHANGE_KIND_CHANGE,
           "remove": cpb.CHANGE_KIND_REMOVE}


def _person(person: str) -> str:
    return f" ({person})" if person else ""


def describe_draft(d: cpb.Draft) -> str:
    """A draft's whole record as readable text."""
    state = base.enum_words(cpb.DraftState, d.state, "DRAFT_STATE_")
    lines = [f"{d.programme_id} version {d.version} ({state}), drafted from version "
             f"{d.base_version or '(none)'} by {d.opened_by}{_person(d.opened_by_person)}"]
    if d.closes_on:
        lines.append(f"open to participants until {d.closes_on}")
    if d.published_by:
        lines.append(f"published by {d.published_by}{_person(d.published_by_person)} on "
                     f"{d.published_at.ToJsonString()[:10]}")
    lines.append("participants: " + (", ".join(
        f"{p.participant} ({base.enum_words(cpb.Role, p.role, 'ROLE_')})" for p in d.participants) or "none"))
    lines.append("")
    lines.append(f"changes from version {d.base_version}:" if d.base_version else "changes:")
    lines.extend(f"  {x.text}" for x in d.differences)
    if not d.differences:
        lines.append("  none")
    for p in d.proposals:
        kind = base.enum_words(cpb.ChangeKind, p.kind, "CHANGE_KIND_")
        state = base.enum_words(cpb.ProposalState, p.state, "PROPOSAL_STATE_")
        lines.append("")
        lines.append(f"proposal {p.number}: {kind} {p.item_name} ({state}; "
                     f"{p.endorsement_count} endorse, {p.objection_count} object)")
        lines.append(f"  by {p.proposed_by}{_person(p.person)} "
                     f"({base.enum_words(cpb.Role, p.role, 'ROLE_')}): {p.reason}")
        if p.review_until:
            lines.append(f"  open to participants' review until {p.review_until}")
        for r in p.responses:
            said = f": {r.text}" if r.text else ""
            lines.append(f"  {base.enum_words(cpb.ResponseKind, r.kind, 'RESPONSE_KIND_')} by "
                         f"{r.by}{_person(r.person)}{said}")
        if p.HasField("decision"):
            verdict = "accepted" if p.decision.accepted else "declined"
            lines.append(f"  {verdict} by {p.decision.by}{_person(p.decision.person)}: "
                         f"{p.decision.reason}")
    for lesson in d.lessons:
        lines.append("")
        lines.append(f"lesson from {lesson.shared_by or lesson.provider_id}"
                     f"{_person(lesson.person)} ({lesson.from_programme}):")
        lines.append(f"  what went wrong: {lesson.what_went_wrong}")
        lines.append(f"  what would help: {lesson.what_would_help}")
    return "\n".join(lines)


# -- tiaki codesign ----------------------------------------------------------------------

@click.group()
def codesign() -> None:
    """Co-design a programme's data plan: drafts, proposals, decisions, publishing."""


_version = click.option("--version", type=click.IntRange(min=0), default=0, show_default=True,
                        help="The draft's plan version; 0 is the latest draft.")


@codesign.command("open")
@click.argument("programme")
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False),
              help="The Agency's draft (YAML); default: a copy of the latest version.")
@click.option("--invite", multiple=True, metavar="KIND:ID",
              help="A participant: provider:ID or representative:ID (repeatable).")
@click.option("--closes-on", default="", metavar="YYYY-MM-DD",
              help="The last day participants may propose, respond and share lessons "
                   "(default: 20 working days from today).")
def codesign_open(programme: str, plan_file: str | None, invite: tuple[str, ...],
                  closes_on: str) -> None:
    """Open a draft of the programme's next plan version (Agency token)."""
    request = cpb.OpenDraftRequest(programme_id=programme, participants=list(invite),
                                   closes_on=closes_on)
    if plan_file:
        data = base.read_yaml(plan_file, "a plan as a mapping")
        data.setdefault("programme_id", programme)
        checked = base.checked_plan(plan_file, data)
        request.plan.CopyFrom(to_proto(checked.to_dict()))
    click.echo(describe_draft(base.call("router", CodesignServiceStub, "OpenDraft", request).draft))


@codesign.command("show")
@click.argument("programme")
@_version
def codesign_show(programme: str, version: int) -> None:
    """A draft's record: participants, changes, proposals, responses, decisions, lessons."""
    reply = base.call("router", CodesignServiceStub, "GetDraft",
                      cpb.GetDraftRequest(programme_id=programme, version=version))
    click.echo(describe_draft(reply.draft))


@codesign.command("invite")
@click.argument("programme")
@_version
@click.argument("participants", nargs=-1, required=True, metavar="KIND:ID...")
def codesign_invite(programme: str, version: int, participants: tuple[str, ...]) -> None:
    """Invite providers or service-user representatives (Agency token)."""
    reply = base.call("router", CodesignServiceStub, "InviteParticipants", cpb.InviteParticipantsRequest(
        programme_id=programme, version=version, participants=list(participants)))
    click.echo(describe_draft(reply.draft))


@codesign.command("propose")
@click.argument("programme")
@_version
@click.argument("kind", type=click.Choice(sorted(CHANGES)))
@click.argument("item_name", metavar="ITEM")
@click.option("--item", "item_file", type=click.Path(exists=True, dir_okay=False),
              help="The item as it should be (YAML), for add and change.")
@click.option("--reason", required=True, help="Why the change is needed.")
def codesign_propose(programme: str, version: int, kind: str, item_name: str,
                     item_file: str | None, reason: str) -> None:
    """Propose adding, changing or removing one item of a draft."""
    request = cpb.ProposeChangeRequest(programme_id=programme, version=version,
                                       kind=CHANGES[kind], item_name=item_name, reason=reason)
    if item_file:
        item = base.read_yaml(item_file, "one item as a mapping")
        item.setdefault("name", item_name)
        try:
            request.item.CopyFrom(to_proto({"programme_id": "x", "name": "", "version": 0,
                                            "units": [], "purposes": [],
                                            "items": [item]}).items[0])
        except Exception as exc:  # noqa: BLE001 - a malformed file is the user's to fix
            raise click.UsageError(f"{item_file}: not an item: {exc}") from None
    elif kind != "remove":
        raise click.UsageError(f"to {kind} an item, give it with --item FILE.yaml")
    p = base.call("router", CodesignServiceStub, "ProposeChange", request).proposal
    click.echo(f"proposal {p.number}: {kind} {p.item_name}, waiting for the Agency's decision")


def _respond(kind: int, programme: str, version: int, proposal: int, text: str) -> None:
    p = base.call("router", CodesignServiceStub, "RespondToProposal", cpb.RespondToProposalRequest(
        programme_id=programme, version=version, proposal_number=proposal, kind=kind,
        text=text)).proposal
    click.echo(f"proposal {p.number}: {p.endorsement_count} endorse, "
               f"{p.objection_count} object, {len(p.responses)} responses")


@codesign.command("endorse")
@click.argument("programme")
@_version
@click.argument("proposal", type=int)
@click.option("--text", default="", help="Why, if you want to say.")
def codesign_endorse(programme: str, version: int, proposal: int, text: str) -> None:
    """Endorse a proposal."""
    _respond(cpb.RESPONSE_KIND_ENDORSE, programme, version, proposal, text)


@codesign.command("object")
@click.argument("programme")
@_version
@click.argument("proposal", type=int)
@click.option("--text", required=True, help="Why you object.")
def codesign_object(programme: str, version: int, proposal: int, text: str) -> None:
    """Object to a proposal, with the reason."""
    _respond(cpb.RESPONSE_KIND_OBJECT, programme, version, proposal, text)


@codesign.command("comment")
@click.argument("programme")
@_version
@click.argument("proposal", type=int)
@click.option("--text", required=True, help="Your comment.")
def codesign_comment(programme: str, version: int, proposal: int, text: str) -> None:
    """Comment on a proposal."""
    _respond(cpb.RESPONSE_KIND_COMMENT, programme, version, proposal, text)


@codesign.command("decide")
@click.argument("programme")
@_version
@click.argument("proposal", type=int)
@click.argument("decision", type=click.Choice(["accept", "decline"]))
@click.option("--reason", required=True, help="The reason, as participants will read it.")
def codesign_decide(programme: str, version: int, proposal: int, decision: str,
                    reason: str) -> None:
    """Accept (apply) or decline a proposal (Agency token)."""
    reply = base.call("router", CodesignServiceStub, "DecideProposal", cpb.DecideProposalRequest(
        programme_id=programme, version=version, proposal_number=proposal,
        accept=decision == "accept", reason=reason))
    click.echo(f"proposal {reply.proposal.number} {decision}ed")


@codesign.command("check")
@click.argument("programme")
@_version
def codesign_check(programme: str, version: int) -> None:
    """What stops the draft being published (exit 1 if anything does)."""
    reply = base.call("router", CodesignServiceStub, "CheckDraft",
                      cpb.CheckDraftRequest(programme_id=programme, version=version))
    if reply.open_proposals:
        click.echo("waiting for decisions: proposals " + ", ".join(map(str, reply.open_proposals)))
    for p in reply.problems:
        click.echo(f"{p.kind}: {p.text}")
    if reply.publishable:
        click.echo("ready to publish")
    else:
        sys.exit(1)


@codesign.command("publish")
@click.argument("programme")
@_version
def codesign_publish(programme: str, version: int) -> None:
    """Publish the draft as the agreed plan version (Agency token)."""
    draft = base.call("router", CodesignServiceStub, "PublishDraft",
                      cpb.PublishDraftRequest(programme_id=programme, version=version)).draft
    click.echo(f"{draft.programme_id} version {draft.version} published as agreed")


@codesign.command("diff")
@click.argument("programme")
@click.option("--version", type=click.IntRange(min=0), default=0, show_default=True,
              help="The plan version; 0 is the latest.")
def codesign_diff(programme: str, version: int) -> None:
    """What a plan version changed from the one before it."""
    reply = base.call("router", CodesignServiceStub, "DiffPlan",
                      cpb.DiffPlanRequest(programme_id=programme, version=version))
    click.echo(f"version {reply.version} against version {reply.previous_version or '(none)'}:")
    for d in reply.differences:
        click.echo(f"  {d.text}")


@codesign.command("lesson")
@click.argument("programme")
@_version
@click.option("--from", "from_programme", required=True, help="The past programme.")
@click.option("--went-wrong", required=True, help="What went wrong last time.")
@click.option("--would-help", required=True, help="What would help this time.")
def codesign_lesson(programme: str, version: int, from_programme: str, went_wrong: str,
                    would_help: str) -> None:
    """Share a lesson from a past programme with the draft (provider or representative)."""
    base.call("router", CodesignServiceStub, "AttachLesson", cpb.AttachLessonRequest(
        programme_id=programme, version=version, from_programme=from_programme,
        what_went_wrong=went_wrong, what_would_help=would_help))
    click.echo("lesson shared with everyone taking part")
