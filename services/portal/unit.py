"""Agency unit staff's pages: the queries about a person waiting for their
unit's review, one opened with the records the answer would give and the
request's deadline (working days left, extension, transfer), approved with any
item withheld only under a Privacy Act ground (ss 49-53) and the person
recorded; and how the unit answers (automatically or after review), as the
running unit says.

The portal reaches a unit only through the unit's review contract
(protos/tiaki/unit/v1/review.proto), on the loopback address and with the
staff client's token that the units' config (config/units/reference.yaml, the
file the unit itself reads; PORTAL_UNITS_CONFIG) names for the signed-in
person's own unit: there is no way to name another unit. The config says only
where the unit is: how it answers is asked of the unit (GetReviewMode)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
import yaml
from starlette.responses import RedirectResponse

from services.portal.backends import CALLS_PER_ORG, PERSON_METADATA, Caller
from services.portal.web import Refusal, Visit, page, render
from tiaki.core import withholding
from tiaki.core.clock import NZ
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub

UNIT = ("unit",)
REVIEWERS = ("unit-reviewer",)
STATES = {pb.REVIEW_STATE_WAITING: "waiting", pb.REVIEW_STATE_APPROVED: "approved, being sent",
          pb.REVIEW_STATE_SENT: "sent"}
GIVE = ""  # the choice that gives an item to the family


@dataclass(frozen=True)
class UnitSetting:
    """Where one unit's review service is, from the units' config (not how it answers:
    the unit says that)."""
    unit: str
    review_address: str = ""
    staff_token_file: str = ""


class UnitReviews:
    """Each unit's review service, as the units' config names it (one channel each)."""

    def __init__(self, path: str):
        config = {}
        if path:
            config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        self.settings = {unit: UnitSetting(unit, str(c.get("review_address", "127.0.0.1:50061")),
                                           str(c.get("staff_token_file", "")))
                         for unit, c in config.items() if isinstance(c, dict)}
        self._channels: dict[str, grpc.Channel] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}  # as Backends: calls a unit may hold
        self._lock = threading.Lock()

    def setting(self, unit: str) -> UnitSetting:
        return self.settings.get(unit) or UnitSetting(unit)

    def stub(self, unit: str, person_id: str) -> Caller:
        """The review service of `unit`, called with its staff token as `person_id`."""
        s = self.setting(unit)
        if not s.staff_token_file:
            raise Refusal(503, "The portal cannot ask your unit: the units' config names no "
                               "review service for it (review_address and staff_token_file).")
        try:
            token = Path(s.staff_token_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise Refusal(503, "The portal holds no token for your unit's review service.") from None
        with self._lock:
            if unit not in self._channels:
                # Plaintext: the review service listens on a loopback address only.
                self._channels[unit] = grpc.insecure_channel(s.review_address)
            channel = self._channels[unit]
            slots = self._slots.setdefault(unit, threading.BoundedSemaphore(CALLS_PER_ORG))
        return Caller(UnitReviewServiceStub(channel), (("authorization", f"Bearer {token}"),
                                                        (PERSON_METADATA, person_id)), slots)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()


def _review(visit: Visit) -> Caller:
    return visit.app.unit_reviews.stub(visit.person.org, visit.person.id)


def _band(d: pb.Deadline, state: str) -> str:
    """The colour of the working days left (as the provider's requests list):
    red with 3 or fewer, amber with 7 or fewer."""
    if not d.known or d.transferred_to or state != "waiting":
        return ""
    left = d.working_days_left
    return "due-near" if left <= 3 else "due-soon" if left <= 7 else "due-ok"


def _when(stamp) -> str:
    if not stamp.seconds:
        return ""
    return stamp.ToDatetime(dt.timezone.utc).astimezone(NZ).strftime("%d %b %Y %H:%M")


def query_view(q: pb.WaitingQuery) -> dict:
    state = STATES.get(q.state, "waiting")
    d = q.deadline
    return {"id": q.request_id, "kind": q.request_kind, "state": state,
            "received_at": _when(q.received_at), "records": q.record_count,
            "deadline": d, "band": _band(d, state), "approved_by": q.approved_by,
            "approved_at": _when(q.approved_at),
            "withheld": [(w.record, w.item, _cited(w.ground)) for w in q.withheld]}


def _cited(code: str) -> str:
    """A recorded ground as the Act cites it (the code itself if it names none)."""
    found = withholding.named(code)
    return f"{found.citation} ({found.heading})" if found else code


def _grounds(visit: Visit) -> list:
    return list(_review(visit).ListWithholdingGrounds(pb.ListWithholdingGroundsRequest()).grounds)


@page("/unit", kinds=UNIT, roles=REVIEWERS, nav="Waiting queries")
def waiting(visit: Visit):
    review = _review(visit)
    rows = [query_view(q) for q in review.ListWaitingQueries(pb.ListWaitingQueriesRequest()).queries]
    automatic = False
    if not rows:  # why nothing waits, as the unit says (a unit too old to say: not said)
        try:
            automatic = review.GetReviewMode(
                pb.GetReviewModeRequest()).mode == pb.ANSWER_MODE_AUTOMATIC
        except grpc.RpcError:
            pass
    return render(visit, "unit/queries.html", title="Queries waiting for your review", rows=rows,
                  automatic=automatic)


@page("/unit/queries/{request_id}", kinds=UNIT, roles=REVIEWERS)
def query(visit: Visit):
    q = _review(visit).GetWaitingQuery(pb.GetWaitingQueryRequest(
        request_id=visit.request.path_params["request_id"])).query
    records = [{"number": r.number, "purpose": r.purpose_id, "period": r.period,
                "fields": sorted(json.loads(r.fields_json or "{}").items()),
                "statements": json.loads(r.statements_json or "[]")} for r in q.records]
    return render(visit, "unit/query.html", title=f"Query about request {q.request_id[:8]}",
                  q=query_view(q), records=records, grounds=_grounds(visit), give=GIVE)


@page("/unit/queries/{request_id}", kinds=UNIT, roles=REVIEWERS, methods=("POST",))
def approve(visit: Visit):
    """Approves the answer, each item chosen `withhold:RECORD:ITEM` withheld under its ground."""
    rid = visit.request.path_params["request_id"]
    withhold = []
    for key, value in visit.form.multi_items():
        if not key.startswith("withhold:") or value == GIVE:
            continue
        _, record, item = key.split(":", 2)
        if not record.isdigit():
            raise Refusal(400, "That form names no record.")
        withhold.append(pb.Withholding(record=int(record), item=item, ground=str(value)))
    _review(visit).ApproveAnswer(pb.ApproveAnswerRequest(request_id=rid, withhold=withhold))
    return RedirectResponse(f"/unit/queries/{rid}?approved=1", status_code=303)


@dataclass(frozen=True)
class Mode:
    """How the unit says it answers."""
    after_review: bool
    since: str
    reviewers_org: str


@page("/unit/mode", kinds=UNIT, roles=REVIEWERS, nav="How your unit answers")
def mode(visit: Visit):
    """What the running unit says (never the config file's guess): or, when it does
    not answer, that it did not."""
    said, grounds, problem = None, [], ""
    try:
        review = _review(visit)
        reply = review.GetReviewMode(pb.GetReviewModeRequest(), timeout=5)
        said = Mode(reply.mode == pb.ANSWER_MODE_AFTER_REVIEW, _when(reply.since),
                    reply.reviewers_org)
        if said.after_review:
            grounds = list(review.ListWithholdingGrounds(pb.ListWithholdingGroundsRequest(),
                                                         timeout=5).grounds)
    except Refusal as exc:
        problem = exc.message
    except grpc.RpcError as exc:
        problem = (f"Its review service: {exc.code().name.lower()}." if said is None else
                   f"Your unit did not list the grounds ({exc.code().name.lower()}).")
    return render(visit, "unit/mode.html", title="How your unit answers families' queries",
                  status=503 if said is None else 200, unit=visit.person.org, said=said,
                  grounds=grounds, problem=problem)
