"""Agency staff's view of what the units did with information, and providers'
queries on agreement items answered in the record.

Outcomes and findings (analysts and contract managers): every unit's outcomes,
drafts included, with the providers and programmes they cite; one outcome's
page with every provider's replies to a draft finding, the corrections of fact
and the unit's responses, the reply window's closing date and what still
stands in the way of publication. Item queries (contract managers): one
provider's query on an agreement item, answered with the person recorded.
Every call goes to the services as the Agency with the person named."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse

from services.portal.agency import AGENCY, ANALYSTS, CONTRACTS
from services.portal.item_queries import QUERY, agency_queries, when
from services.portal.names import Names, org_names
from services.portal.web import Refusal, Visit, page, render
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import outcomes_pb2 as opb
from tiaki.router.v1 import agreement_pb2 as apb

KINDS = {opb.OutcomeKind.Name(v).removeprefix("OUTCOME_KIND_").lower(): v
         for v in opb.OutcomeKind.values() if v}
STATES = {opb.OutcomeState.Name(v).removeprefix("OUTCOME_STATE_").lower(): v
          for v in opb.OutcomeState.values() if v}
OUTCOMES_PAGE = 25  # outcomes on one page of the list
RESPONSES = {opb.RESPONSE_KIND_AGREE: "agrees", opb.RESPONSE_KIND_CORRECT_FACT: "corrects a fact",
             opb.RESPONSE_KIND_ADD_CONTEXT: "adds context"}


def _words(name: str) -> str:
    return name.replace("_", " ")


# -- outcomes and findings ---------------------------------------------------------------------


def outcome_row(a: opb.AgencyOutcome, names: Names) -> dict:
    """One outcome as the list shows it: the unit and providers by name."""
    o = a.outcome
    kinds = {v: k for k, v in KINDS.items()}
    states = {v: k for k, v in STATES.items()}
    return {"id": o.outcome_id, "title": o.title, "kind": _words(kinds.get(o.kind, "")),
            "unit": names.unit(o.unit_id), "date": o.date, "state": states.get(o.state, ""),
            "providers": sorted({names.provider(c.provider_id) for c in o.informed_by}),
            "programmes": sorted({c.programme_id for c in o.informed_by}),
            "closes": a.reply_window_closes, "may_publish": a.may_publish,
            "blocked": len(a.publication_blockers)}


def _choice(visit: Visit, name: str, known: dict) -> tuple[str, int]:
    value = str(visit.request.query_params.get(name) or "").strip()
    if value and value not in known:
        raise Refusal(400, f"There is no {name} {value!r}.")
    return value, known.get(value, 0)


@page("/agency/outcomes", kinds=AGENCY, roles=ANALYSTS + CONTRACTS, nav="Outcomes and findings")
def outcomes(visit: Visit):
    """OUTCOMES_PAGE outcomes a page; "Older outcomes" links the next (`after`: the
    service's page token), with the same choices."""
    programme = str(visit.request.query_params.get("programme") or "").strip()
    kind, kind_value = _choice(visit, "kind", KINDS)
    state, state_value = _choice(visit, "state", STATES)
    after = str(visit.request.query_params.get("after") or "")
    got = visit.call("agency_outcomes").ListAgencyOutcomes(opb.ListAgencyOutcomesRequest(
        programme_id=programme, kind=kind_value, state=state_value, page_size=OUTCOMES_PAGE,
        page_token=after))
    chosen = {k: v for k, v in (("programme", programme), ("kind", kind), ("state", state)) if v}
    names = org_names(visit)
    return render(visit, "agency/outcomes.html", title="Outcomes and findings",
                  rows=[outcome_row(a, names) for a in got.outcomes], programme=programme,
                  kind=kind, state=state, kinds=[(k, _words(k)) for k in KINDS],
                  states=list(STATES), later_page=bool(after),
                  newest="/agency/outcomes" + (f"?{urlencode(chosen)}" if chosen else ""),
                  older=(f"/agency/outcomes?{urlencode({**chosen, 'after': got.next_page_token})}"
                         if got.next_page_token else ""))


def _review(r: opb.Review, names: Names) -> dict:
    responses = [{"kind": RESPONSES.get(x.kind, ""), "text": x.text,
                  "at": when(x.responded_at), "person": x.person,
                  "correction": x.kind == opb.RESPONSE_KIND_CORRECT_FACT,
                  "resolution": x.resolution, "reason": x.resolution_reason,
                  "resolved_at": when(x.resolved_at), "resolved_by": x.resolved_by_person}
                 for x in r.responses]
    return {"provider": names.provider(r.provider_id), "shared_on": r.shared_on,
            "respond_by": r.respond_by, "early": r.may_publish_early, "responses": responses}


def _measure_names(visit: Visit, programmes: list[str]) -> dict[str, str]:
    names = {}
    for programme in programmes:
        names.update({m.measure_id: m.name for m in visit.call("measures").ListMeasures(
            mpb.ListMeasuresRequest(programme_id=programme)).measures})
    return names


def _named_blocker(text: str, providers: list[str], names: Names) -> str:
    """A blocker as the service words it ("ccss may respond until ...", "ccss's
    correction of fact 1 ..."), the provider it starts with named."""
    for provider in providers:
        if text.startswith((f"{provider} ", f"{provider}'s ")):
            return names.provider(provider) + text[len(provider):]
    return text


@page("/agency/outcomes/{outcome_id}", kinds=AGENCY, roles=ANALYSTS + CONTRACTS)
def outcome(visit: Visit):
    a = visit.call("agency_outcomes").GetAgencyOutcome(opb.GetAgencyOutcomeRequest(
        outcome_id=visit.request.path_params["outcome_id"])).outcome
    o, names = a.outcome, org_names(visit)
    row = outcome_row(a, names)
    measures = _measure_names(visit, row["programmes"]) if o.measure_ids else {}
    cited = [{"provider": names.provider(c.provider_id), "programme": c.programme_id,
              "period": c.period, "purpose": c.purpose_name or c.purpose_id, "submission": c.submission_id}
             for c in o.informed_by]
    return render(visit, "agency/outcome.html", title=o.title, o=o, row=row, cited=cited,
                  measures=[measures.get(m, m) for m in o.measure_ids],
                  reviews=[_review(r, names) for r in o.reviews],
                  blockers=[_named_blocker(b, [r.provider_id for r in o.reviews], names)
                            for b in a.publication_blockers],
                  recorded_at=when(o.recorded_at), published_at=when(o.published_at))


# -- providers' queries on agreement items -----------------------------------------------------


def _query(visit: Visit) -> dict:
    subject = visit.request.path_params["subject"]
    provider, _, rest = subject.partition("|")
    head, _, item = rest.partition("|")
    programme, _, version = head.rpartition("@")
    found = [q for q in agency_queries(visit, programme, provider)
             if q["item"] == item and str(q["version"]) == version] if provider and programme else []
    if not found:
        raise Refusal(404, "There is no such query: it may have been withdrawn by the provider.")
    return found[0]


@page("/agency/queries", kinds=AGENCY, roles=CONTRACTS, nav="Item queries")
def queries(visit: Visit):
    programme = str(visit.request.query_params.get("programme") or "").strip()
    rows = agency_queries(visit, programme)
    return render(visit, "agency/queries.html", title="Providers' queries on agreement items",
                  programme=programme, waiting=[q for q in rows if not q["answer"]],
                  answered=[q for q in rows if q["answer"]])


@page(QUERY, kinds=AGENCY, roles=CONTRACTS)
def query(visit: Visit):
    q = _query(visit)
    return render(visit, "agency/query.html", title=f"{q['provider_name']}'s query on {q['item']}",
                  q=q, done=visit.request.query_params.get("done", ""))


@page(QUERY, kinds=AGENCY, roles=CONTRACTS, methods=("POST",))
def answer(visit: Visit):
    q = _query(visit)
    text = str(visit.form.get("answer") or "").strip()
    if not text:
        raise Refusal(400, "Write the answer the provider will read.")
    visit.call("agreement").AnswerItemQuery(apb.AnswerItemQueryRequest(
        provider_id=q["provider"], programme_id=q["programme"], plan_version=q["version"],
        item_name=q["item"], answer=text))
    return RedirectResponse(f"{q['link']}?done=answered", status_code=303)
