"""Co-design as the portal shows it to everyone taking part (Agency staff and
service-user representatives; agency.py and representative.py): a
programme's drafts, found through CodesignService; one draft's whole record
made ready for the templates (templates/codesign/_record.html); a proposal
to reword or remove an item; and the evaluation measures, proposed and
endorsed (templates/codesign/measures.html). Only what the services return:
a draft the person's organisation is not invited to is simply not listed."""

from __future__ import annotations

from urllib.parse import quote

import grpc
from starlette.responses import RedirectResponse

from services.portal.web import Refusal, Visit, render
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.router.v1 import codesign_pb2 as cpb

DEFAULT_PROGRAMME = "best-foot-forward"
MOST_VERSIONS = 100  # a programme's plan versions looked at when listing its drafts


def programme_of(visit: Visit) -> str:
    source = visit.form if visit.form is not None else visit.request.query_params
    return str(source.get("programme") or DEFAULT_PROGRAMME).strip()


def _name(enum, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower().replace("_", " ")


def _when(timestamp) -> str:
    return timestamp.ToDatetime().strftime("%d %b %Y %H:%M") if timestamp.seconds else ""


def drafts_of(visit: Visit, programme: str) -> list[dict]:
    """The programme's drafts this person may see, newest first. There is no
    list call: versions are asked for one by one (a version made outside
    co-design has a plan but no draft; the first with neither ends the list)."""
    codesign = visit.call("codesign")
    found = []
    for version in range(1, MOST_VERSIONS + 1):
        try:
            draft = codesign.GetDraft(cpb.GetDraftRequest(programme_id=programme,
                                                          version=version)).draft
            found.append(summary(draft))
            continue
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
                continue  # a draft this organisation is not invited to
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
        try:
            codesign.DiffPlan(cpb.DiffPlanRequest(programme_id=programme, version=version))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            break
    return found[::-1]


def summary(draft: cpb.Draft) -> dict:
    return {"programme": draft.programme_id, "version": draft.version,
            "base_version": draft.base_version,
            "state": _name(cpb.DraftState, draft.state, "DRAFT_STATE_"),
            "open": draft.state == cpb.DRAFT_STATE_DRAFT,
            "proposals": len(draft.proposals),
            "waiting": sum(p.state == cpb.PROPOSAL_STATE_OPEN for p in draft.proposals),
            "opened_by": draft.opened_by, "opened_at": _when(draft.opened_at),
            "published_by": draft.published_by, "published_at": _when(draft.published_at)}


def number(visit: Visit, name: str) -> int:
    """A whole number from the path (a version, a proposal): 404 when it is not one."""
    value = visit.request.path_params[name]
    if not value.isdigit() or len(value) > 9:
        raise Refusal(404, "There is no such page.")
    return int(value)


def get_draft(visit: Visit) -> cpb.Draft:
    """The draft named by the path's programme and version."""
    return visit.call("codesign").GetDraft(cpb.GetDraftRequest(
        programme_id=visit.request.path_params["programme"], version=number(visit, "version"))).draft


def record(draft: cpb.Draft) -> dict:
    """A draft's whole record: plan items, participants, proposals with every
    response and decision, the differences from its base version, lessons."""
    return {**summary(draft),
            "name": draft.plan.name,
            "items": [{"name": i.name, "description": i.description, "required": i.required,
                       "purposes": [u.purpose_id for u in i.uses]} for i in draft.plan.items],
            "participants": [{"id": p.participant,
                              "role": _name(cpb.Role, p.role, "ROLE_")} for p in draft.participants],
            "proposal_list": [proposal(p) for p in draft.proposals],
            "differences": [d.text for d in draft.differences],
            "lessons": [{"provider": lesson.provider_id, "from": lesson.from_programme,
                         "went_wrong": lesson.what_went_wrong,
                         "would_help": lesson.what_would_help, "at": _when(lesson.at)}
                        for lesson in draft.lessons]}


def proposal(p: cpb.Proposal) -> dict:
    return {"number": p.number, "kind": _name(cpb.ChangeKind, p.kind, "CHANGE_KIND_"),
            "item": p.item_name, "description": p.item.description if p.HasField("item") else "",
            "reason": p.reason, "by": p.proposed_by,
            "role": _name(cpb.Role, p.role, "ROLE_"), "at": _when(p.proposed_at),
            "state": _name(cpb.ProposalState, p.state, "PROPOSAL_STATE_"),
            "open": p.state == cpb.PROPOSAL_STATE_OPEN,
            "endorsements": p.endorsement_count, "objections": p.objection_count,
            "responses": [{"kind": _name(cpb.ResponseKind, r.kind, "RESPONSE_KIND_"), "by": r.by,
                           "text": r.text, "at": _when(r.at)} for r in p.responses],
            "decision": ({"accepted": p.decision.accepted, "by": p.decision.by,
                          "reason": p.decision.reason, "at": _when(p.decision.at)}
                         if p.HasField("decision") else None)}


def propose_change(visit: Visit, draft: cpb.Draft) -> None:
    """A posted proposal (templates/codesign/_record.html, propose): reword an
    item (its description) or remove it, with the reason."""
    name = str(visit.form.get("item") or "")
    current = next((i for i in draft.plan.items if i.name == name), None)
    if current is None:
        raise Refusal(400, "Choose one of the draft's items.")
    request = cpb.ProposeChangeRequest(programme_id=draft.programme_id, version=draft.version,
                                       item_name=name, reason=str(visit.form.get("reason") or ""))
    if visit.form.get("kind") == "remove":
        request.kind = cpb.CHANGE_KIND_REMOVE
    else:
        request.kind = cpb.CHANGE_KIND_CHANGE
        request.item.CopyFrom(current)
        request.item.description = str(visit.form.get("description") or "").strip()
    visit.call("codesign").ProposeChange(request)


def back_to_draft(prefix: str, draft: cpb.Draft, done: str) -> RedirectResponse:
    """After a step on a draft: back to its page under `prefix`, saying what was done."""
    return RedirectResponse(f"{prefix}/{quote(draft.programme_id, safe='')}/{draft.version}"
                            f"?done={done}", status_code=303)


# -- evaluation measures, co-defined by the Agency, providers and representatives ---------------


def measures(visit: Visit, programme: str) -> list[dict]:
    found = visit.call("measures").ListMeasures(mpb.ListMeasuresRequest(programme_id=programme))
    mine = f"{visit.person.org_kind}:{visit.person.org}"
    return [{"id": m.measure_id, "name": m.name, "definition": m.definition,
             "state": _name(mpb.MeasureState, m.state, "MEASURE_STATE_"),
             "proposed_by": f"{m.proposed_by.kind}:{m.proposed_by.id}",
             "agreed_by": [f"{p.kind}:{p.id}" for p in m.agreed_by],
             "positions": [{"by": f"{p.party.kind}:{p.party.id}",
                            "stance": _name(mpb.Stance, p.stance, "STANCE_"),
                            "reason": p.reason, "at": _when(p.at)} for p in m.positions],
             "ours": next((_name(mpb.Stance, p.stance, "STANCE_") for p in m.positions
                           if f"{p.party.kind}:{p.party.id}" == mine), "")}
            for m in found.measures]


def measures_page(visit: Visit):
    programme = programme_of(visit)
    return render(visit, "codesign/measures.html", title="Evaluation measures",
                  programme=programme, measures=measures(visit, programme),
                  done=visit.request.query_params.get("done"))


def measures_posted(visit: Visit) -> RedirectResponse:
    programme = programme_of(visit)
    done = measure_step(visit, programme)
    return RedirectResponse(f"{visit.request.url.path}?programme={quote(programme)}&done={done}",
                            status_code=303)


def measure_step(visit: Visit, programme: str) -> str:
    """A posted measure form: a new measure proposed, or a stance on one; what was done."""
    form = visit.form
    reason = str(form.get("reason") or "").strip()
    if form.get("measure_id"):
        stance = {"endorse": mpb.STANCE_ENDORSE, "object": mpb.STANCE_OBJECT}.get(
            str(form.get("stance") or ""))
        if stance is None:
            raise Refusal(400, "Choose endorse or object.")
        visit.call("measures").RespondToMeasure(mpb.RespondToMeasureRequest(
            measure_id=str(form.get("measure_id")), stance=stance, reason=reason))
        return "endorsed" if stance == mpb.STANCE_ENDORSE else "objected"
    name, definition = (str(form.get(k) or "").strip() for k in ("name", "definition"))
    if not name or not definition:
        raise Refusal(400, "Give the measure's name and how it is worked out.")
    visit.call("measures").ProposeMeasure(mpb.ProposeMeasureRequest(
        programme_id=programme, name=name, definition=definition, reason=reason))
    return "proposed"
