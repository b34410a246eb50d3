"""CLI views name things as people do: a request by its kind and dates, the
programme and units by name, with its id last as the handle for the next
command; never a UUID as the only description."""

from __future__ import annotations

import re
import uuid

from click.testing import CliRunner

from tiaki.cli import access_requests
from tiaki.cli import app as tcli
from tiaki.requests.v1 import requests_pb2 as rpb

NAMES = {"provider:ccss": "City Centre Social Services",
         "unit:evaluation": "Evaluation and Insights team"}


class FakeRequests:
    def __init__(self, request):
        self.request = request

    def GetRequest(self, request, metadata=()):
        return rpb.GetRequestResponse(request=self.request)

    def ListRequests(self, request, metadata=()):
        return rpb.ListRequestsResponse(requests=[self.request])


def test_a_request_reads_by_kind_dates_and_names_with_its_id_last(monkeypatch):
    request_id = str(uuid.uuid4())
    r = rpb.Request(request_id=request_id, provider_id="ccss", programme_id="best-foot-forward",
                    request_kind=rpb.REQUEST_KIND_ACCESS, requester="the client",
                    authorisation="signed form", state=rpb.REQUEST_STATE_OPEN,
                    received="2026-03-02", due="2026-03-30",
                    units=[rpb.UnitStatus(unit_id="evaluation", due="2026-03-16",
                                          unit_outcome=rpb.UNIT_OUTCOME_OUTSTANDING)])
    r.history.add(who="ccss", what="opened the request").at.FromSeconds(1772409600)
    monkeypatch.setattr(access_requests, "_requests", lambda: FakeRequests(r))
    monkeypatch.setattr(access_requests.base, "names", lambda: NAMES)
    monkeypatch.setattr(access_requests.base, "programme_name", lambda p: "Best foot forward")
    shown = CliRunner().invoke(tcli.cli, ["--token", "t", "requests", "show", request_id])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "Access request received 2 March 2026, due 30 March 2026 (open)"
    assert "  Best foot forward; asked by the client (signed form)" in lines
    assert "  Evaluation and Insights team: waiting (due 16 March 2026)" in lines
    assert any(line.endswith("City Centre Social Services: opened the request") for line in lines)
    assert lines[-1] == f"  request id {request_id}"  # the handle, last
    assert [line for line in lines if re.search(r"\bccss\b|best-foot-forward", line)] == []

    listed = CliRunner().invoke(tcli.cli, ["--token", "t", "requests", "list"])
    assert listed.output == ("Access request received 2 March 2026, due 30 March 2026 (open)  "
                             f"id {request_id}\n")
