"""Service-user representatives' pages: the co-design drafts their group is
invited to, with every proposal, response and decision; their endorsement,
objection or comment on each open proposal; their own proposals (reword or
remove an item); the lessons shared from past programmes; and the evaluation
measures to endorse. Every call goes to the services as the representatives'
group with the person named."""

from __future__ import annotations

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
from services.portal.web import Refusal, Visit, page, render
from tiaki.router.v1 import codesign_pb2 as cpb

REPRESENTATIVES = ("representative",)
DRAFT = "/representative/drafts/{programme}/{version}"
RESPONSES = {"endorse": cpb.RESPONSE_KIND_ENDORSE, "object": cpb.RESPONSE_KIND_OBJECT,
             "comment": cpb.RESPONSE_KIND_COMMENT}


def _back(draft: cpb.Draft, done: str) -> RedirectResponse:
    return back_to_draft("/representative/drafts", draft, done)


@page("/representative/drafts", kinds=REPRESENTATIVES, roles=REPRESENTATIVES,
      nav="Drafts you are invited to")
def drafts(visit: Visit):
    programme = programme_of(visit)
    return render(visit, "representative/drafts.html", title="Drafts you are invited to",
                  programme=programme, drafts=drafts_of(visit, programme))


@page(DRAFT, kinds=REPRESENTATIVES, roles=REPRESENTATIVES)
def draft(visit: Visit):
    found = get_draft(visit)
    return render(visit, "representative/draft.html",
                  title=f"{found.programme_id}, draft of version {found.version}",
                  d=record(found), done=visit.request.query_params.get("done", ""))


@page(DRAFT + "/proposals/{number}", kinds=REPRESENTATIVES, roles=REPRESENTATIVES,
      methods=("POST",))
def respond(visit: Visit):
    found = get_draft(visit)
    kind = RESPONSES.get(str(visit.form.get("kind") or ""))
    if kind is None:
        raise Refusal(400, "Choose endorse, object or comment.")
    visit.call("codesign").RespondToProposal(cpb.RespondToProposalRequest(
        programme_id=found.programme_id, version=found.version,
        proposal_number=number(visit, "number"), kind=kind,
        text=str(visit.form.get("text") or "")))
    return _back(found, "responded")


@page(DRAFT + "/propose", kinds=REPRESENTATIVES, roles=REPRESENTATIVES, methods=("POST",))
def propose(visit: Visit):
    found = get_draft(visit)
    propose_change(visit, found)
    return _back(found, "proposed")


@page("/representative/measures", kinds=REPRESENTATIVES, roles=REPRESENTATIVES,
      nav="Evaluation measures")
def representative_measures(visit: Visit):
    return measures_page(visit)


@page("/representative/measures", kinds=REPRESENTATIVES, roles=REPRESENTATIVES, methods=("POST",))
def representative_measure_step(visit: Visit):
    return measures_posted(visit)
