"""The unit's review service (protos/tiaki/unit/v1/review.proto), served by
grpcio in the unit's own process on a loopback address, for the unit's staff
client only: every call carries that client's token (`authorization: Bearer
...`), and the person acting in `tiaki-person`.

    server = serve(unit, "127.0.0.1:50061", staff_token)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from concurrent import futures

import grpc

from tiaki.connect.refusals import status_of
from tiaki.core.errors import Invalid, NotFound, Refused, Unauthenticated
from tiaki.core.person import METADATA_KEY, person_id
from tiaki.core.withholding import GROUNDS
from tiaki.requests.v1 import requests_pb2
from tiaki.unit import review
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceServicer, add_UnitReviewServiceServicer_to_server

log = logging.getLogger("tiaki.unit.review")

MODES = {"auto": pb.ANSWER_MODE_AUTOMATIC, "review": pb.ANSWER_MODE_AFTER_REVIEW}
STATES = {review.WAITING: pb.REVIEW_STATE_WAITING, review.APPROVED: pb.REVIEW_STATE_APPROVED,
          review.SENT: pb.REVIEW_STATE_SENT}


def loopback(address: str) -> str:
    """`address` (HOST:PORT) when HOST is a loopback address; Invalid otherwise:
    the review service is for a client on the same machine."""
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise Invalid("review_address", f"{address!r} is not a loopback address "
                                        "(127.0.0.1:PORT): the review service stays on this machine")
    return address


def _stamp(message, seconds: float | None) -> None:
    if seconds:
        message.FromNanoseconds(int(seconds * 1e9))


class ReviewService(UnitReviewServiceServicer):
    def __init__(self, unit, staff_token: str):
        self.unit = unit
        self._token = f"Bearer {staff_token}".encode()

    # -- who calls ------------------------------------------------------------------

    def _caller(self, context) -> str:
        """The person acting (may be ""); Unauthenticated without the staff client's token."""
        metadata = dict(context.invocation_metadata())
        given = str(metadata.get("authorization", "")).encode()
        if not hmac.compare_digest(given, self._token):
            raise Unauthenticated("", "this unit's review service needs its staff client's token")
        return person_id(metadata.get(METADATA_KEY))

    # -- views ----------------------------------------------------------------------

    def _deadline(self, request_id: str) -> pb.Deadline:
        try:
            r = self.unit.requests.GetQueriedRequest(
                requests_pb2.GetQueriedRequestRequest(request_id=request_id),
                metadata=self.unit.metadata, timeout=3).request
        except grpc.RpcError as exc:
            log.warning("deadline of %s unknown: %s", request_id, exc.code().name)
            return pb.Deadline(known=False)
        return pb.Deadline(known=True, received=r.received, due=r.due,
                           working_days_left=r.working_days_left, original_due=r.original_due,
                           extension_reasons=r.extension_reasons, transferred_to=r.transferred_to,
                           unit_due=r.unit.due, escalated=r.unit.escalated)

    def _query(self, held: dict, records: bool = False) -> pb.WaitingQuery:
        q = pb.WaitingQuery(
            request_id=held["_id"], request_kind=held["query"]["request_kind"],
            state=STATES[held["state"]], deadline=self._deadline(held["_id"]),
            approved_by=held.get("approved_by", ""),
            withheld=[pb.Withholding(record=w.record, item=w.item, ground=w.ground)
                      for w in review.withholdings_of(held.get("answer", []))])
        _stamp(q.received_at, held.get("received_at"))
        _stamp(q.approved_at, held.get("approved_at"))
        q.record_count = len(held["draft"])
        if records:
            q.records.extend(pb.HeldRecord(
                number=r["number"], delivery_id=r["delivery_id"], purpose_id=r["purpose_id"],
                period=r["period"], fields_json=json.dumps(r["fields"], ensure_ascii=False),
                statements_json=json.dumps(r["statements"], ensure_ascii=False))
                for r in held["draft"])
        return q

    # -- the RPCs ---------------------------------------------------------------------

    def ListWaitingQueries(self, request, context):
        return self._call(context, lambda _: pb.ListWaitingQueriesResponse(queries=[
            self._query(h) for h in self.unit.store.not_sent()]))

    def GetWaitingQuery(self, request, context):
        def get(_):
            held = self.unit.store.held(request.request_id)
            if held is None:
                raise NotFound("request_id", f"no query about request {request.request_id!r}")
            return pb.GetWaitingQueryResponse(query=self._query(held, records=True))
        return self._call(context, get)

    def ApproveAnswer(self, request, context):
        def approve(person):
            held = self.unit.approve(request.request_id, [
                review.Withholding(w.record, w.item, w.ground) for w in request.withhold],
                by=person)
            return pb.ApproveAnswerResponse(query=self._query(held))
        return self._call(context, approve)

    def ListWithholdingGrounds(self, request, context):
        return self._call(context, lambda _: pb.ListWithholdingGroundsResponse(grounds=[
            pb.WithholdingGround(code=g.code, citation=g.citation, heading=g.heading,
                                 words=g.words, law=g.law) for g in GROUNDS.values()]))

    def GetReviewMode(self, request, context):
        def mode(_):
            unit = self.unit
            reply = pb.GetReviewModeResponse(
                unit_id=unit.unit_id, mode=MODES[unit.answer_mode],
                reviewers_org=f"unit:{unit.unit_id}" if unit.answer_mode == "review" else "")
            _stamp(reply.since, unit.answering_since())
            return reply
        return self._call(context, mode)

    def _call(self, context, work):
        try:
            return work(self._caller(context))
        except Refused as exc:
            context.abort(status_of(exc), str(exc))


def serve(unit, address: str, staff_token: str) -> grpc.Server:
    """Starts the review service for `unit` (a UnitClient) on a loopback `address`."""
    if not staff_token:
        raise Invalid("staff_token_file", "the review service needs its staff client's token")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_UnitReviewServiceServicer_to_server(ReviewService(unit, staff_token), server)
    if not server.add_insecure_port(loopback(address)):
        raise Invalid("review_address", f"cannot listen on {address}")
    server.start()
    log.info("review service for unit %s on %s", unit.unit_id, address)
    return server
