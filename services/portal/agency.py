"""Agency staff's pages. Co-design (analysts): a programme's drafts, one
draft's whole record, the invitations, each proposal accepted or declined
with a reason, the check and publish step with every problem listed, and the
differences between plan versions. Every call goes to the services as the Agency with the person named."""

from __future__ import annotations

from starlette.responses import RedirectResponse

from services.portal.codesign import (
    draft_path,
    drafts_of,
    get_draft,
    number,
    programme_of,
    record,
)
from services.portal.web import Refusal, Visit, page, render
from tiaki.router.v1 import codesign_pb2 as cpb

AGENCY = ("agency",)
ANALYSTS = ("analyst",)
DRAFT = "/agency/drafts/{programme}/{version}"


def _back(draft: cpb.Draft, note: str) -> RedirectResponse:
    return RedirectResponse(f"/agency/drafts{draft_path(draft.programme_id, draft.version)}"
                            f"?done={note}", status_code=303)


def _text(visit: Visit, field: str, what: str) -> str:
    value = str(visit.form.get(field) or "").strip()
    if not value:
        raise Refusal(400, f"Give {what}.")
    return value


# -- drafts ------------------------------------------------------------------------------------


@page("/agency/drafts", kinds=AGENCY, roles=ANALYSTS, nav="Co-design drafts")
def drafts(visit: Visit):
    programme = programme_of(visit)
    return render(visit, "agency/drafts.html", title="Co-design drafts", programme=programme,
                  drafts=drafts_of(visit, programme))


@page("/agency/drafts", kinds=AGENCY, roles=ANALYSTS, methods=("POST",))
def open_draft(visit: Visit):
    """A new draft: a copy of the programme's latest plan version, with whoever is invited."""
    programme = programme_of(visit)
    invited = _participants(visit)
    draft = visit.call("codesign").OpenDraft(cpb.OpenDraftRequest(
        programme_id=programme, participants=invited)).draft
    return _back(draft, "opened")


def _participants(visit: Visit) -> list[str]:
    """"provider:ID" or "representative:ID", one a line or comma-separated."""
    raw = str(visit.form.get("participants") or "")
    return [p.strip() for p in raw.replace(",", "\n").splitlines() if p.strip()]


@page(DRAFT, kinds=AGENCY, roles=ANALYSTS)
def draft(visit: Visit):
    found = get_draft(visit)
    check = visit.call("codesign").CheckDraft(cpb.CheckDraftRequest(
        programme_id=found.programme_id, version=found.version))
    return render(visit, "agency/draft.html",
                  title=f"{found.programme_id}, draft of version {found.version}",
                  d=record(found), check=check, done=visit.request.query_params.get("done", ""))


@page(DRAFT + "/invite", kinds=AGENCY, roles=ANALYSTS, methods=("POST",))
def invite(visit: Visit):
    found = get_draft(visit)
    invited = _participants(visit)
    if not invited:
        raise Refusal(400, "Name who to invite: provider:ID or representative:ID.")
    visit.call("codesign").InviteParticipants(cpb.InviteParticipantsRequest(
        programme_id=found.programme_id, version=found.version, participants=invited))
    return _back(found, "invited")


@page(DRAFT + "/proposals/{number}", kinds=AGENCY, roles=ANALYSTS, methods=("POST",))
def decide(visit: Visit):
    found = get_draft(visit)
    choice = visit.form.get("decision")
    if choice not in ("accept", "decline"):
        raise Refusal(400, "Choose accept or decline.")
    reason = _text(visit, "reason", "the reason for your decision (participants read it)")
    visit.call("codesign").DecideProposal(cpb.DecideProposalRequest(
        programme_id=found.programme_id, version=found.version,
        proposal_number=number(visit, "number"), accept=choice == "accept",
        reason=reason))
    return _back(found, "accepted" if choice == "accept" else "declined")


@page(DRAFT + "/publish", kinds=AGENCY, roles=ANALYSTS, methods=("POST",))
def publish(visit: Visit):
    found = get_draft(visit)
    visit.call("codesign").PublishDraft(cpb.PublishDraftRequest(
        programme_id=found.programme_id, version=found.version))
    return _back(found, "published")


# -- versions ----------------------------------------------------------------------------------


@page("/agency/plans/{programme}/{version}/diff", kinds=AGENCY, roles=ANALYSTS)
def diff(visit: Visit):
    programme = visit.request.path_params["programme"]
    got = visit.call("codesign").DiffPlan(cpb.DiffPlanRequest(
        programme_id=programme, version=number(visit, "version")))
    return render(visit, "agency/diff.html",
                  title=f"{programme}: version {got.version} against {got.previous_version or 'nothing'}",
                  programme=programme, got=got)

