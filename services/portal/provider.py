"""Provider staff's pages: the programme and period at a glance (what was
submitted, accepted, rejected, and where it went, from the ledger, with its
verification), a quarter's CSV uploaded with every rejection to download, the
access and correction requests with working days left, the outcomes feed
(live with server-sent events), the families' letter, and the agreement item
by item. Every call goes to the services as the person's organisation."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json

import grpc
from starlette.responses import RedirectResponse, Response, StreamingResponse

from services.portal.item_queries import item_queries
from services.portal.names import Names, org_names
from services.portal.web import Refusal, Visit, page, render
from tiaki.core.clock import nz_today
from tiaki.core.errors import Invalid
from tiaki.core.periods import check_period, period_of, period_words
from tiaki.core.working_days import working_days_until
from tiaki.insights.v1 import outcomes_pb2
from tiaki.intake.v1 import intake_pb2
from tiaki.requests.v1 import requests_pb2
from tiaki.router.v1 import agreement_pb2, ledger_pb2, plan_pb2

PROVIDER = ("provider",)
FAMILIES = ("privacy-officer",)                      # requests, the family's answers
REPORTING = ("privacy-officer", "reporting-admin")   # submissions, rejections, the agreement
EVERYONE = ("privacy-officer", "reporting-admin", "board-member")
DEFAULT_PROGRAMME = "best-foot-forward"
BATCH = 500
DECISIONS = {"accept": agreement_pb2.ITEM_DECISION_ACCEPT,
             "decline": agreement_pb2.ITEM_DECISION_DECLINE,
             "query": agreement_pb2.ITEM_DECISION_QUERY}


def _choice(visit: Visit) -> tuple[str, str]:
    """The programme and period asked for (query or form), checked."""
    source = visit.form if visit.form is not None else visit.request.query_params
    programme = str(source.get("programme") or DEFAULT_PROGRAMME).strip()
    period = str(source.get("period") or period_of(nz_today())).strip().upper()
    try:
        check_period(period)
    except Invalid:
        raise Refusal(400, "A period is a year and quarter, for example 2026Q3.") from None
    return programme, period


def _state(value) -> str:
    return intake_pb2.SubmissionState.Name(value).removeprefix("SUBMISSION_STATE_").lower()


# -- home: the programme and period ------------------------------------------------------------


def flows_picture(entries, provider: str) -> dict:
    """Provider -> purposes -> units with record counts, acknowledgements and uses,
    as boxes and lines for the SVG in provider/home.html (and the same as a table).
    `records` counts what is current: a replaced submission's records, superseded
    at the unit (a supersession entry), are counted apart."""
    by_purpose: dict[tuple[str, str], dict] = {}
    for e in entries:
        key = (e.purpose_id, e.unit_id)
        row = by_purpose.setdefault(key, {"purpose": e.purpose_id, "unit": e.unit_id,
                                          "records": 0, "deliveries": 0, "acknowledged": 0,
                                          "uses": 0, "superseded": 0})
        if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY:
            row["records"] += e.record_count
            row["deliveries"] += 1
        elif e.kind == ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT:
            row["acknowledged"] += 1
        elif e.kind == ledger_pb2.ENTRY_KIND_ACCESS:
            row["uses"] += 1
        elif e.kind == ledger_pb2.ENTRY_KIND_SUPERSESSION:
            row["superseded"] += e.record_count
    for row in by_purpose.values():
        row["records"] -= row["superseded"]
    rows = sorted(by_purpose.values(), key=lambda r: (r["purpose"], r["unit"]))
    units = sorted({r["unit"] for r in rows})
    height = max(len(rows), len(units), 1) * 70 + 20
    for i, r in enumerate(rows):
        r["y"] = 20 + i * 70
        r["unit_y"] = 20 + units.index(r["unit"]) * 70
    return {"provider": provider, "rows": rows, "units": [(u, 20 + i * 70) for i, u in enumerate(units)],
            "height": height, "provider_y": height // 2 - 25}


def _flows(visit: Visit, submission_ids: set[str]):
    ledger = visit.call("ledger")
    found, token = [], ""
    while True:
        reply = ledger.ListFlows(ledger_pb2.ListFlowsRequest(page_size=500, page_token=token))
        found += [e for e in reply.entries if e.submission_id in submission_ids]
        token = reply.next_page_token
        if not token:
            return found


@page("/provider", kinds=PROVIDER, roles=REPORTING, nav="Programme and period")
def provider_home(visit: Visit):
    programme, period = _choice(visit)
    listed = visit.call("intake").ListSubmissions(intake_pb2.ListSubmissionsRequest(
        programme_id=programme, period=period, page_size=100)).submissions
    submissions = [{"id": s.submission_id, "state": _state(s.state), "accepted": s.accepted_count,
                    "rejected": s.rejected_count, "opened": s.opened_at.ToDatetime().strftime(
                        "%d %b %Y %H:%M"), "superseded_by": s.superseded_by} for s in listed]
    entries = _flows(visit, {s["id"] for s in submissions}) if submissions else []
    verified = visit.call("ledger").VerifyLedger(ledger_pb2.VerifyLedgerRequest())
    return render(visit, "provider/home.html", title=f"{programme}, {period_words(period)}",
                  programme=programme, period=period, submissions=submissions,
                  accepted=sum(s["accepted"] for s in submissions
                               if s["state"] == "sealed" and not s["superseded_by"]),
                  rejected=sum(s["rejected"] for s in submissions),
                  picture=flows_picture(entries, visit.person.org), verified=verified)


# -- a quarter's CSV ---------------------------------------------------------------------------


@page("/provider/upload", kinds=PROVIDER, roles=REPORTING, nav="Upload a quarter")
def upload_form(visit: Visit):
    programme, period = _choice(visit)
    return render(visit, "provider/upload.html", title="Upload a quarter's records",
                  programme=programme, period=period)


def _items_sent(visit: Visit, programme: str, period: str) -> tuple[int, set[str]]:
    """The plan version and the items the provider's agreement accepts (every
    item of a plan that needs no agreement)."""
    plan = visit.call("plans").GetPlan(plan_pb2.GetPlanRequest(programme_id=programme)).plan
    items = {i.name for i in plan.items}
    try:
        agreed = visit.call("agreement").GetAgreement(agreement_pb2.GetAgreementRequest(
            programme_id=programme, plan_version=plan.version, period=period)).in_force
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        return plan.version, items
    return plan.version, {d.item_name for d in agreed.items
                          if d.decision == agreement_pb2.ITEM_DECISION_ACCEPT}


@page("/provider/upload", kinds=PROVIDER, roles=REPORTING, methods=("POST",))
def upload(visit: Visit):
    programme, period = _choice(visit)
    sent = visit.form.get("records")
    if sent is None or isinstance(sent, str) or not sent.filename:
        raise Refusal(400, "Choose the CSV file of the quarter's records.")
    try:
        rows = list(csv.DictReader(io.TextIOWrapper(sent.file, encoding="utf-8-sig", newline="")))
    except (UnicodeDecodeError, csv.Error):
        raise Refusal(400, "That file is not a CSV in UTF-8 text.") from None
    if not rows or not {"record_ref", "client_ref"} <= set(rows[0]):
        raise Refusal(400, "The CSV needs a header row with record_ref and client_ref columns "
                           "(tiaki plan template writes one).")
    version, items = _items_sent(visit, programme, period)
    columns = [c for c in rows[0] if c in items]
    records = [intake_pb2.Record(record_ref=r.get("record_ref") or "", client_ref=r.get("client_ref") or "",
                                 fields={c: r.get(c) or "" for c in columns}) for r in rows]
    intake = visit.call("intake")
    sid = intake.OpenSubmission(intake_pb2.OpenSubmissionRequest(
        programme_id=programme, plan_version=version, period=period)).submission.submission_id
    result = intake.SubmitRecords(iter([
        intake_pb2.SubmitRecordsRequest(submission_id=sid, records=records[i:i + BATCH])
        for i in range(0, len(records), BATCH)]))
    sealed = intake.SealSubmission(intake_pb2.SealSubmissionRequest(submission_id=sid)).submission
    row_of = {r.get("record_ref") or "": n for n, r in enumerate(rows, start=2)}
    rejections = sorted([(row_of.get(r.record_ref, 0), r.record_ref, r.field, r.reason)
                         for r in result.rejections])
    visit.app.store.add_upload(sid, visit.person, {
        "programme": programme, "period": period, "total": len(rows),
        "accepted": sealed.accepted_count, "duplicate": result.duplicate_count,
        "rejected": result.rejected_count, "state": _state(sealed.state),
        "ignored": [c for c in rows[0] if c not in items and c not in ("record_ref", "client_ref")],
        "rejections": [list(r) for r in rejections]})
    return RedirectResponse(f"/provider/uploads/{sid}", status_code=303)


def _upload(visit: Visit) -> dict:
    found = visit.app.store.upload(visit.request.path_params["submission_id"], visit.person.org)
    if found is None:
        raise Refusal(404, "There is no such upload, or it belongs to another organisation.")
    return found


@page("/provider/uploads/{submission_id}", kinds=PROVIDER, roles=REPORTING)
def upload_result(visit: Visit):
    found = _upload(visit)
    return render(visit, "provider/upload_result.html", title="Your upload", upload=found,
                  shown=found["rejections"][:200])


@page("/provider/uploads/{submission_id}/rejections.csv", kinds=PROVIDER, roles=REPORTING)
def upload_rejections(visit: Visit):
    found = _upload(visit)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("row", "record_ref", "field", "reason"))
    writer.writerows(found["rejections"])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{found["_id"]}.rejections.csv"'})


# -- access and correction requests ------------------------------------------------------------


def _kind(r) -> str:
    return "correction" if r.request_kind == requests_pb2.REQUEST_KIND_CORRECTION else "access"


def _request_row(r, today) -> dict:
    due = dt.date.fromisoformat(r.due) if r.due else today
    left = working_days_until(today, due)
    state = requests_pb2.RequestState.Name(r.state).removeprefix("REQUEST_STATE_").lower()
    band = ("" if state != "open" else "due-near" if left <= 3 else "due-soon" if left <= 7
            else "due-ok")
    return {"id": r.request_id, "kind": _kind(r), "state": state, "programme": r.programme_id,
            "requester": r.requester, "received": r.received, "due": r.due, "left": left,
            "band": band}


@page("/provider/requests", kinds=PROVIDER, roles=FAMILIES, nav="Requests")
def requests_list(visit: Visit):
    today = nz_today()
    found = visit.call("requests").ListRequests(requests_pb2.ListRequestsRequest()).requests
    rows = sorted((_request_row(r, today) for r in found),
                  key=lambda r: (r["state"] != "open", r["left"]))
    return render(visit, "provider/requests.html", title="Access and correction requests", rows=rows)


@page("/provider/requests/{request_id}", kinds=PROVIDER, roles=FAMILIES)
def request_one(visit: Visit):
    r = visit.call("requests").GetRequest(requests_pb2.GetRequestRequest(
        request_id=visit.request.path_params["request_id"])).request
    units = [{"unit": u.unit_id, "due": u.due, "escalated": u.escalated,
              "outcome": requests_pb2.UnitOutcome.Name(u.unit_outcome).removeprefix("UNIT_OUTCOME_")
              .lower().replace("unspecified", "outstanding"), "refusal": u.refusal_reason}
             for u in r.units]
    history = [{"at": s.at.ToDatetime().strftime("%d %b %Y %H:%M"), "who": s.who, "what": s.what}
               for s in r.history]
    return render(visit, "provider/request.html", title=f"{_kind(r).title()} request",
                  r=_request_row(r, nz_today()), units=units, history=history,
                  extension=r.extension_reasons, transferred_to=r.transferred_to)


@page("/provider/requests/{request_id}/answer.html", kinds=PROVIDER, roles=FAMILIES)
def request_answer(visit: Visit):
    rid = visit.request.path_params["request_id"]
    answer = visit.call("requests").GetAnswer(requests_pb2.GetAnswerRequest(request_id=rid))
    return Response(answer.html, media_type="text/html; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="answer-{rid}.html"'})


# -- outcomes: listed, and live -----------------------------------------------------------------


def outcome_view(o, names: Names | None = None) -> dict:
    return {"id": o.outcome_id, "title": o.title, "summary": o.summary, "date": o.date,
            "unit": names.unit(o.unit_id) if names else o.unit_id,
            "kind": outcomes_pb2.OutcomeKind.Name(o.kind).removeprefix("OUTCOME_KIND_")
            .replace("_", " ").lower(),
            "purposes": sorted({c.purpose_name or c.purpose_id for c in o.informed_by})}


@page("/provider/outcomes", kinds=PROVIDER, roles=EVERYONE, nav="Outcomes")
def outcomes(visit: Visit):
    found = visit.call("outcomes").ListOutcomes(outcomes_pb2.ListOutcomesRequest()).outcomes
    names = org_names(visit)
    rows = sorted((outcome_view(o, names) for o in found), key=lambda o: o["date"], reverse=True)
    return render(visit, "provider/outcomes.html", title="What your data informed", rows=rows)


@page("/provider/outcomes/stream", kinds=PROVIDER, roles=EVERYONE)
def outcomes_stream(visit: Visit):
    """Server-sent events: one `outcome` event (JSON) per outcome as it is recorded or changes."""
    feeds, kind, org = visit.app.feeds, visit.person.org_kind, visit.person.org
    names = org_names(visit)  # as the organisation's feed starts (it serves every page of it)

    async def events():
        queue = feeds.watch(kind, org, lambda o: outcome_view(o, names))
        try:
            yield ": watching\n\n"
            while True:
                try:
                    shown = await asyncio.wait_for(queue.get(), timeout=25)
                except asyncio.TimeoutError:
                    yield ": still here\n\n"  # keeps proxies from closing a quiet stream
                    continue
                yield f"event: outcome\ndata: {json.dumps(shown)}\n\n"
        finally:
            feeds.unwatch(kind, org, queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})


@page("/provider/board-report", kinds=PROVIDER, roles=EVERYONE, nav="Board report")
def board_report(visit: Visit):
    """The Board influence report for a date range: a form, then the HTML to download."""
    today = nz_today()
    query = visit.request.query_params
    start, end = query.get("from") or f"{today.year}-01-01", query.get("to") or today.isoformat()
    if "download" not in query:
        return render(visit, "provider/board_report.html", title="Board influence report",
                      start=start, end=end)
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise Refusal(400, "Give the dates as YYYY-MM-DD, for example 2026-01-01.") from None
    report = visit.call("outcomes").GetInfluenceReport(outcomes_pb2.GetInfluenceReportRequest(
        date_from=first.isoformat(), date_to=last.isoformat()))
    return Response(report.html, media_type="text/html; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="influence-{first}-{last}.html"'})


# -- the families' letter, the agreement --------------------------------------------------------


@page("/provider/letter", kinds=PROVIDER, roles=REPORTING, nav="Families' letter")
def letter(visit: Visit):
    programme, period = _choice(visit)
    if "download" not in visit.request.query_params:
        return render(visit, "provider/letter.html", title="The letter for families",
                      programme=programme, period=period)
    doc = visit.call("agreement").GetFamilyDocument(agreement_pb2.GetFamilyDocumentRequest(
        programme_id=programme, period=period, provider_name=visit.person.org))
    return Response(doc.html, media_type="text/html; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="letter-{programme}-{period}.html"'})


def _agreement_view(visit: Visit, programme: str, period: str):
    plan = visit.call("plans").GetPlan(plan_pb2.GetPlanRequest(programme_id=programme)).plan
    try:
        in_force = visit.call("agreement").GetAgreement(agreement_pb2.GetAgreementRequest(
            programme_id=programme, plan_version=plan.version, period=period)).in_force
        decided = {d.item_name: d for d in in_force.items}
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        return plan, None
    asked = {q["item"]: q for q in item_queries(visit, programme) if q["version"] == plan.version}
    items = []
    for item in plan.items:
        statement = visit.call("agreement").GetPurposeStatement(agreement_pb2.GetPurposeStatementRequest(
            programme_id=programme, plan_version=plan.version, item_name=item.name)).statement
        d = decided.get(item.name)
        items.append({"name": item.name, "what": statement.what, "uses": statement.uses,
                      "choice": statement.choice,
                      "decision": agreement_pb2.ItemDecision.Name(d.decision)
                      .removeprefix("ITEM_DECISION_").lower() if d else "",
                      "note": d.note if d else "", "by": d.decided_by if d else "",
                      "query": asked.get(item.name)})
    return plan, items


@page("/provider/agreement", kinds=PROVIDER, roles=REPORTING, nav="Agreement")
def agreement(visit: Visit):
    programme, period = _choice(visit)
    plan, items = _agreement_view(visit, programme, period)
    return render(visit, "provider/agreement.html", title="Your agreement, item by item",
                  programme=programme, period=period, plan_version=plan.version, items=items)


@page("/provider/agreement", kinds=PROVIDER, roles=("privacy-officer",), methods=("POST",))
def agreement_decide(visit: Visit):
    programme, period = _choice(visit)
    version = int(visit.form.get("plan_version") or 0)
    choices = []
    for key, value in visit.form.multi_items():
        if key.startswith("decision:") and value in DECISIONS:
            item = key.removeprefix("decision:")
            choices.append(agreement_pb2.ItemChoice(item_name=item, decision=DECISIONS[value],
                                                    note=str(visit.form.get(f"note:{item}") or "")))
    if not choices:
        raise Refusal(400, "Choose accept, decline or query for at least one item.")
    visit.call("agreement").DecideItems(agreement_pb2.DecideItemsRequest(
        programme_id=programme, plan_version=version, choices=choices, decided_by=visit.person.id))
    return RedirectResponse(f"/provider/agreement?programme={programme}&period={period}&saved=1",
                            status_code=303)


