"""Agency staff's pages. Co-design (analysts): a programme's drafts, one
draft's whole record, the invitations, each proposal accepted or declined
with a reason, the check and publish step with every problem listed, and the
differences between plan versions. Agreements (contract managers): every
provider's agreement item by item, and the queries waiting for an answer
(answered on agency_view.py's pages). Evaluation
measures (analysts), co-defined with providers and representatives. Every
call goes to the services as the Agency with the person named."""

from __future__ import annotations

import grpc
from starlette.responses import RedirectResponse

from services.portal.codesign import (
    back_to_draft,
    drafts_of,
    get_draft,
    measures_page,
    measures_posted,
    number,
    programme_of,
    propose_change,
    record,
)
from services.portal.item_queries import agency_queries
from services.portal.names import Names, org_names
from services.portal.web import Refusal, Visit, page, render
from tiaki.core.clock import nz_today
from tiaki.core.periods import check_period, period_of
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import plan_pb2

AGENCY = ("agency",)
ANALYSTS = ("analyst",)
CONTRACTS = ("contract-manager",)
DRAFT = "/agency/drafts/{programme}/{version}"


def _back(draft: cpb.Draft, done: str) -> RedirectResponse:
    return back_to_draft("/agency/drafts", draft, done)


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


@page(DRAFT + "/propose", kinds=AGENCY, roles=ANALYSTS, methods=("POST",))
def propose(visit: Visit):
    found = get_draft(visit)
    propose_change(visit, found)
    return _back(found, "proposed")


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


# -- agreements --------------------------------------------------------------------------------


def _providers(visit: Visit, names: Names) -> list[str]:
    """The providers in the directory, and one asked for by id."""
    if not names.answered:
        raise Refusal(503, "The directory of providers is not answering; try again in a minute.")
    asked = visit.request.query_params.get("provider", "").strip()
    return sorted(set(names.providers()) | ({asked} if asked else set()))


def _decision(value: int) -> str:
    return apb.ItemDecision.Name(value).removeprefix("ITEM_DECISION_").lower()


def agreement_of(visit: Visit, programme: str, version: int, period: str, provider: str,
                 name: str) -> dict:
    got = visit.call("agreement").GetAgreement(apb.GetAgreementRequest(
        programme_id=programme, plan_version=version, period=period, provider_id=provider))
    items = [{"name": d.item_name, "decision": _decision(d.decision), "note": d.note,
              "by": d.decided_by or d.caller, "answer": d.answer,
              "at": d.decided_at.ToDatetime().strftime("%d %b %Y") if d.decided_at.seconds else ""}
             for d in got.in_force.items]
    return {"provider": provider, "name": name, "agreed": got.HasField("in_force"),
            "version": got.in_force.version, "applies_from": got.in_force.applies_from,
            "items": items, "not_decided": list(got.in_force.not_decided),
            "versions": len(got.versions)}


@page("/agency/agreements", kinds=AGENCY, roles=CONTRACTS, nav="Providers' agreements")
def agreements(visit: Visit):
    programme = programme_of(visit)
    period = str(visit.request.query_params.get("period") or period_of(nz_today())).strip().upper()
    try:
        check_period(period)
    except Exception:
        raise Refusal(400, "A period is a year and quarter, for example 2026Q3.") from None
    rows, agreed_plan = [], True
    try:
        plan = visit.call("plans").GetPlan(plan_pb2.GetPlanRequest(programme_id=programme)).plan
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return render(visit, "agency/agreements.html", title="Providers' agreements",
                      programme=programme, period=period, plan_version=0)
    names = org_names(visit)
    for provider in _providers(visit, names):
        try:
            rows.append(agreement_of(visit, programme, plan.version, period, provider,
                                     names.provider(provider)))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            agreed_plan = False  # a plan made outside co-design has no agreements
            break
    asked = agency_queries(visit, programme) if agreed_plan else []
    waiting = [q for q in asked if not q["answer"]]
    return render(visit, "agency/agreements.html", title="Providers' agreements",
                  programme=programme, period=period, plan_version=plan.version,
                  agreed_plan=agreed_plan, rows=rows, queries=len(waiting), waiting=waiting,
                  answered=[q for q in asked if q["answer"]])


# -- evaluation measures -----------------------------------------------------------------------


@page("/agency/measures", kinds=AGENCY, roles=ANALYSTS, nav="Evaluation measures")
def agency_measures(visit: Visit):
    return measures_page(visit)


@page("/agency/measures", kinds=AGENCY, roles=ANALYSTS, methods=("POST",))
def agency_measure_step(visit: Visit):
    return measures_posted(visit)
